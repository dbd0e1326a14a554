"""Problems, request ids, health, readiness and metrics, as an operator or client sees them."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import make_settings, running_app


async def test_every_response_carries_a_request_id(client: httpx.AsyncClient) -> None:
    generated = await client.get("/healthz")
    assert len(generated.headers["x-request-id"]) >= 16
    echoed = await client.get("/healthz", headers={"X-Request-ID": "app-1234-abcd"})
    assert echoed.headers["x-request-id"] == "app-1234-abcd"
    # An id that could forge log lines is replaced, not echoed.
    forged = await client.get("/healthz", headers={"X-Request-ID": "bad id\\nlevel=error"})
    assert forged.headers["x-request-id"] != "bad id\\nlevel=error"
    missing = await client.get("/v1/services/nope", headers={"X-Request-ID": "trace-000000001"})
    assert missing.json()["request_id"] == "trace-000000001"


async def test_unknown_route_and_method_are_problems(client: httpx.AsyncClient) -> None:
    unknown = await client.get("/v1/nothing-here", headers={"Accept-Language": "en"})
    assert unknown.status_code == 404
    assert unknown.headers["content-type"] == "application/problem+json"
    assert unknown.json()["code"] == "NOT_FOUND"
    assert unknown.json()["title"] == "Not Found"
    wrong = await client.delete("/v1/domains")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "METHOD_NOT_ALLOWED"
    assert wrong.json()["title"] == "不支持的请求方法"


async def test_validation_problem_lists_every_offending_field(client: httpx.AsyncClient) -> None:
    response = await client.get("/v1/services", params={"page": 0, "page_size": 1000, "kind": "x"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["type"].endswith("validation-failed")
    locations = sorted(tuple(e["location"]) for e in problem["errors"])
    assert locations == [("query", "kind"), ("query", "page"), ("query", "page_size")]
    assert "page_size" in problem["detail"]


async def test_a_json_body_that_is_not_utf8_is_a_validation_problem(
    client: httpx.AsyncClient,
) -> None:
    # FastAPI itself answers a bare 400 here, which no route declares; not JSON at all is 422.
    for body in (b"\xff\xfe\x00{", b"{not json"):
        response = await client.post(
            "/v1/auth/sms-codes", content=body, headers={"Content-Type": "application/json"}
        )
        assert response.status_code == 422, response.text
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "VALIDATION_FAILED"
        assert response.json()["errors"][0]["type"] == "json_invalid"


async def test_healthz_and_readyz(client: httpx.AsyncClient) -> None:
    assert (await client.get("/healthz")).json() == {"status": "ok"}
    ready = await client.get("/readyz")
    assert ready.status_code == 200
    assert ready.json()["checks"] == {"database": "ok", "kv": "ok"}


async def test_readyz_names_the_unreachable_kv_store(tmp_path: Path) -> None:
    # Redis on a port nothing listens on: the app starts (KV connects lazily) but is not ready.
    settings = make_settings(tmp_path, None, "redis://127.0.0.1:1/0")
    async with running_app(settings) as (_, client):
        response = await client.get("/readyz")
        assert response.status_code == 503
        problem = response.json()
        assert problem["code"] == "NOT_READY"
        assert problem["failing"] == ["kv"]
        assert "kv" in problem["detail"]
        assert (await client.get("/healthz")).status_code == 200


def _requests_counted(metrics: str, route: str, status: str) -> float:
    """The request counter of one route template and status in a /metrics answer."""
    for family in text_string_to_metric_families(metrics):
        for sample in family.samples:
            if (
                sample.name == "hefeitong_http_requests_total"
                and sample.labels.get("route") == route
                and sample.labels.get("status") == status
            ):
                return float(sample.value)
    return 0.0


async def test_metrics_count_requests_by_route_template(client: httpx.AsyncClient) -> None:
    # The app is shared with other tests: count what these requests add.
    before = _requests_counted((await client.get("/metrics")).text, "/v1/services/{code}", "404")
    await client.get("/v1/services/no-such-service")
    await client.get("/v1/services/another-missing")
    await client.get("/v1/domains")
    text = (await client.get("/metrics")).text
    assert _requests_counted(text, "/v1/services/{code}", "404") == before + 2
    assert 'route="/v1/domains",status="200"' in text
    assert "hefeitong_http_request_duration_seconds_bucket" in text
    assert "no-such-service" not in text


async def test_access_log_is_json_without_query_strings(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Access logs are written at INFO; the other tests run at WARNING to keep output short.
    settings = make_settings(tmp_path, None, None, log_level="INFO")
    async with running_app(settings) as (_, client):
        capsys.readouterr()
        await client.get(
            "/v1/services",
            params={"q": "340104199001011234"},
            headers={"X-Request-ID": "log-test-000001"},
        )
    lines = [json.loads(line) for line in capsys.readouterr().out.splitlines() if line.strip()]
    entry = next(line for line in lines if line.get("event") == "request")
    assert entry["request_id"] == "log-test-000001"
    assert entry["route"] == "/v1/services"
    assert entry["status"] == 200
    assert entry["duration_ms"] >= 0
    assert "340104199001011234" not in json.dumps(lines)
