"""The invoke fast path and the FastAPI route behave as one."""

from __future__ import annotations

import httpx

from tests.gateway.helpers import citizen, headers


async def test_fast_path_and_route_answer_alike(client: httpx.AsyncClient) -> None:
    # A code too long for the fast path's pattern falls through to the FastAPI route.
    for code in ("no-such-service", "x" * 70):
        response = await client.post(f"/v1/services/{code}/invoke", json={})
        assert response.status_code == 404, code
        assert response.headers["content-type"] == "application/problem+json"
        assert response.json()["code"] == "SERVICE_NOT_FOUND"
        assert response.headers["x-request-id"] == response.json()["request_id"]


async def test_invoke_is_measured_under_its_route_template(client: httpx.AsyncClient) -> None:
    await client.post(
        "/v1/services/hpf-balance-query/invoke", json={}, headers=headers(citizen("metrics"))
    )
    await client.post("/v1/services/no-such-service/invoke", json={})
    text = (await client.get("/metrics")).text
    assert 'route="/v1/services/{code}/invoke",status="200"' in text
    assert 'route="/v1/services/{code}/invoke",status="404"' in text
    assert "hpf-balance-query" not in text


async def test_invoke_body_must_be_an_object_with_params(client: httpx.AsyncClient) -> None:
    for body in (b"[1, 2]", b'{"params": [1]}', b'{"params": {}, "extra": 1}'):
        response = await client.post(
            "/v1/services/hpf-balance-query/invoke",
            content=body,
            headers={"Content-Type": "application/json"} | headers(citizen("shape")),
        )
        assert response.status_code == 422, body
        assert response.json()["code"] == "VALIDATION_FAILED"
