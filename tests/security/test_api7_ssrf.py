"""OWASP API Security Top 10 (2023), API7: Server-Side Request Forgery.

A provider chooses the URLs its adapter spec calls, so every spec is a request the
platform makes on someone else's behalf. These tests check, through the API a provider
uses, that a spec cannot make the platform call its own network: inward addresses in any
spelling, names that resolve inward, hosts outside the provider's list, redirects, the
server's environment; that an administrator's exemption for an internal host covers one
port (``internal_hosts`` are ``host:port``), at registration and at every connection; and
that a dry run shows a bounded excerpt of a reply, and of an exempted internal host's reply
nothing beyond what the mapping reads.

The guard's own unit tests (every address spelling, IPv6 forms, DNS lookups at
registration and at connect time, redirects) are in tests/integrations/test_ssrf.py, beside
the module they test (integrations/ssrf.py).
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from aiohttp import web
from fastapi import FastAPI
from yarl import URL

from backend.providers.dryrun import PREVIEW_BYTES, VALUE_BYTES, dry_run
from integrations.sandbox import SandboxHandle
from integrations.spec import parse_spec
from integrations.ssrf import DestinationRefused, HostPolicy
from integrations.transport import AiohttpTransport, OutgoingRequest, TransportError
from tests.conftest import SharedApp
from tests.identity.helpers import new_phone
from tests.providers.helpers import admin_headers, token_headers, water_spec
from tests.providers.novel_department import water_utility

INWARD = [
    "http://127.0.0.1:8080",
    "http://[::1]:8080",
    "http://169.254.169.254",
    "http://10.0.0.1",
    "http://2130706433",  # 127.0.0.1 as one decimal number
    "http://0x7f000001",  # … and in hex
    "http://localhost:8080",  # a name that resolves to loopback
]


async def _create(
    app: FastAPI, client: httpx.AsyncClient, hosts: list[str], internal: list[str]
) -> httpx.Response:
    return await client.post(
        "/v1/admin/providers",
        json={
            "code": f"hf-probe-{uuid.uuid4().hex[:8]}",
            "name_zh": "测试提供方",
            "name_en": "Test provider",
            "allowed_hosts": hosts,
            "internal_hosts": internal,
        },
        headers=await admin_headers(app, client),
    )


async def _provider(
    app: FastAPI, client: httpx.AsyncClient, hosts: list[str], internal: list[str]
) -> dict[str, str]:
    created = await _create(app, client, hosts, internal)
    assert created.status_code == 201, created.text
    credentials = created.json()["client"]
    return await token_headers(client, credentials["client_id"], credentials["client_secret"])


def _port(url: str) -> int:
    port = URL(url).port
    assert port is not None
    return port


# --- moved from tests/providers/test_ssrf_refused.py ---------------------------------


async def test_specs_pointing_inward_are_refused_and_nothing_is_stored(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    # Odd spellings of an address are refused even in the provider's host list.
    admin = await admin_headers(app, client)
    odd = await client.post(
        "/v1/admin/providers",
        json={"code": "hf-odd", "name_zh": "测试", "name_en": "Test",
              "allowed_hosts": ["0x7f000001"]},
        headers=admin,
    )  # fmt: skip
    assert odd.status_code == 422 and odd.json()["code"] == "PROVIDER_HOSTS_INVALID"
    # Listed as allowed hosts, but an administrator did not allow them as internal ones.
    hosts = ["127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "localhost"]
    provider = await _provider(app, client, hosts, [])
    for url in INWARD:
        spec = water_spec(f"probe_{uuid.uuid4().hex[:8]}", url)
        refused = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
        assert refused.status_code == 422, (url, refused.text)
        body = refused.json()
        assert body["code"] == "ADAPTER_SPEC_INVALID"
        assert [e["path"] for e in body["errors"]] == ["/base_url"], (url, body["errors"])
    assert (await client.get("/v1/provider/adapters", headers=provider)).json()["items"] == []


async def test_a_host_outside_the_providers_list_is_refused(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    provider = await _provider(app, client, ["water.example.cn"], [])
    spec = water_spec("probe_elsewhere", "https://elsewhere.example.cn")
    refused = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
    assert refused.status_code == 422
    assert "not" in refused.json()["errors"][0]["message"]


@pytest.mark.parametrize("variable", ["${HEFEITONG_SECRET_KEY}", "${PATH}"])
async def test_a_spec_cannot_read_the_servers_environment(
    app_client: tuple[FastAPI, httpx.AsyncClient], variable: str
) -> None:
    app, client = app_client
    provider = await _provider(app, client, ["water.example.cn"], [])
    spec = water_spec("probe_env", "https://water.example.cn", key=variable)
    refused = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["rule"] == "variable"


async def test_a_redirect_inward_is_not_followed(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    async with water_utility() as utility:
        exempted = f"127.0.0.1:{_port(utility.url)}"
        provider = await _provider(app, client, ["127.0.0.1"], [exempted])
        adapter_id = f"probe_{uuid.uuid4().hex[:8]}"
        spec = water_spec(adapter_id, utility.url, path="/jump")
        created = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
        assert created.status_code == 201, created.text
        tried = await client.post(
            f"/v1/provider/adapters/{adapter_id}/versions/1/dry-run",
            json={"operation": "bill", "params": {"account": "W1001"}},
            headers=provider,
        )
        run = tried.json()
        assert run["ok"] is False
        assert run["error"]["class"] == "AdapterBadResponse"
        assert "redirect 302 not followed" in run["error"]["message"]
        assert utility.seen == ["/jump"]  # the one request; the target was never asked


# --- issue 13, finding 3: an internal exemption is one port -----------------------


@pytest.mark.parametrize("bare", ["127.0.0.1", "::1", "[::1]", "LOCALHOST."])
async def test_an_internal_exemption_without_a_port_is_refused_naming_the_field(
    app_client: tuple[FastAPI, httpx.AsyncClient], bare: str
) -> None:
    app, client = app_client
    hosts = ["127.0.0.1", "::1", "localhost"]
    # The README used to show exactly this: every port of 127.0.0.1 exempted.
    refused = await _create(app, client, hosts, [bare])
    assert refused.status_code == 422, refused.text
    body = refused.json()
    assert body["code"] == "PROVIDER_HOSTS_INVALID"
    assert "internal_hosts" in body["detail"]
    [error] = body["errors"]
    assert error["location"] == ["body", "internal_hosts", 0]
    assert "internal_hosts[0]" in error["message"] and "has no port" in error["message"]
    # With a port, the host must still be one of the allowed hosts.
    elsewhere = await _create(app, client, hosts, ["127.0.0.1:8080", "10.9.9.9:80"])
    assert elsewhere.status_code == 422, elsewhere.text
    [error] = elsewhere.json()["errors"]
    assert error["location"] == ["body", "internal_hosts", 1]
    assert "must be in allowed_hosts" in error["message"]


async def test_an_exemption_for_one_service_does_not_reach_another_on_the_same_host(
    shared_app: SharedApp, sandbox: SandboxHandle
) -> None:
    """The finding, reproduced: a provider exempted for its system on 127.0.0.1 pointed a
    spec at the sandbox SMS gateway on another port of 127.0.0.1 and read a citizen's
    sign-in code from its inbox through a dry run."""
    app, client = shared_app.app, shared_app.client
    phone = new_phone()
    assert (await client.post("/v1/auth/sms-codes", json={"phone": phone})).status_code == 202
    async with water_utility() as utility:
        exempted = f"127.0.0.1:{_port(utility.url)}"
        provider = await _provider(app, client, ["127.0.0.1"], [exempted])
        listed = await client.get("/v1/admin/providers", headers=await admin_headers(app, client))
        assert [exempted] in [p["internal_hosts"] for p in listed.json()]

        inbox = water_spec(f"steal_{uuid.uuid4().hex[:8]}", sandbox.urls["sms"],
                           path="/__sandbox/sms/inbox")  # fmt: skip
        inbox["operations"]["bill"]["result"] = "@"
        refused = await client.post("/v1/provider/adapters", json={"spec": inbox}, headers=provider)
        assert refused.status_code == 422, refused.text
        [error] = refused.json()["errors"]
        assert error["path"] == "/base_url"
        sms_port = _port(sandbox.urls["sms"])
        assert f"exempted on port {_port(utility.url)} only, not {sms_port}" in error["message"]
        assert phone not in refused.text

        own = water_spec(f"water_{uuid.uuid4().hex[:8]}", utility.url)
        accepted = await client.post("/v1/provider/adapters", json={"spec": own}, headers=provider)
        assert accepted.status_code == 201, accepted.text


@pytest.fixture
async def two_servers() -> AsyncIterator[tuple[int, int, list[int]]]:
    """Two HTTP servers on 127.0.0.1, and the ports that received a request."""
    seen: list[int] = []
    runners = []
    ports = []
    for _ in range(2):
        app = web.Application()

        async def ok(request: web.Request) -> web.Response:
            seen.append(_port(str(request.url)))
            return web.json_response({"ok": True})

        app.router.add_get("/ok", ok)
        runner = web.AppRunner(app, access_log=None)
        await runner.setup()
        site = web.TCPSite(runner, "127.0.0.1", 0)
        await site.start()
        runners.append(runner)
        ports.append(site._server.sockets[0].getsockname()[1])  # type: ignore[union-attr]
    yield ports[0], ports[1], seen
    for runner in runners:
        await runner.cleanup()


@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])  # IP literal, and a name
async def test_the_guard_enforces_the_port_at_every_connection(
    two_servers: tuple[int, int, list[int]], host: str
) -> None:
    exempted, other, seen = two_servers
    policy = HostPolicy(frozenset({host}), frozenset({f"{host}:{exempted}"}))
    transport = AiohttpTransport(policy=policy)
    try:
        ok = await transport.send(
            OutgoingRequest("GET", f"http://{host}:{exempted}/ok"), timeout=5, max_bytes=4096
        )
        assert ok.status == 200
        with pytest.raises(TransportError) as refused:
            await transport.send(
                OutgoingRequest("GET", f"http://{host}:{other}/ok"), timeout=5, max_bytes=4096
            )
    finally:
        await transport.aclose()
    assert refused.value.kind == "connect"
    cause = refused.value.__cause__
    reason = getattr(cause, "os_error", None)
    assert isinstance(reason, DestinationRefused), cause
    assert f"exempted on port {exempted} only, not {other}" in str(reason)
    assert seen == [exempted]  # the other service was never asked


# --- issue 13, finding 3: what a dry run shows of a reply ------------------------


async def test_a_dry_run_of_an_internal_host_shows_only_what_the_mapping_reads(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    async with water_utility() as utility:
        provider = await _provider(app, client, ["127.0.0.1"], [f"127.0.0.1:{_port(utility.url)}"])
        adapter_id = f"water_{uuid.uuid4().hex[:8]}"
        spec = water_spec(adapter_id, utility.url)  # reads account, owedFen and period
        created = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
        assert created.status_code == 201, created.text
        tried = await client.post(
            f"/v1/provider/adapters/{adapter_id}/versions/1/dry-run",
            json={"operation": "bill", "params": {"account": "W1001"}},
            headers=provider,
        )
    assert tried.status_code == 200, tried.text
    run = tried.json()
    assert run["ok"] is True
    assert run["result"] == {"account": "W1001", "owed_fen": 1250, "period": "2026-10"}
    steps = {s["step"]: s for s in run["steps"]}
    assert list(steps) == ["request", "response", "decode", "success", "result"]
    assert steps["response"]["status"] == 200 and "withheld" in steps["response"]
    assert "body" not in steps["response"] and "headers" not in steps["response"]
    assert "document" not in steps["decode"] and "withheld" in steps["decode"]
    # The reply's due date and message are in the body, but no mapping reads them.
    assert "2026-11-30" not in tried.text and "成功" not in tried.text


async def _huge_reply(_: web.Request) -> web.Response:
    rows = [{"n": n, "text": "户" * 50} for n in range(5_000)]  # ~1.6 MB as escaped JSON
    return web.json_response({"ret": "0", "rows": rows})


async def test_a_dry_run_shows_a_bounded_excerpt_of_a_large_reply() -> None:
    """Without an exemption to hide behind (a provider's public host, or its own machine
    with the CLI), a dry run still shows only an excerpt of a reply, never all of it."""
    app = web.Application()
    app.router.add_get("/rows", _huge_reply)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    document: dict[str, Any] = {
        "id": "bulk", "name_zh": "批量", "name_en": "Bulk", "base_url": f"http://127.0.0.1:{port}",
        "max_response_bytes": 4 * 1024 * 1024,
        "operations": {"rows": {"summary_zh": "全部", "summary_en": "All", "method": "GET",
                                "path": "/rows", "success": "ret == '0'", "result": "rows"}},
    }  # fmt: skip
    transport = AiohttpTransport()
    try:
        outcome = await dry_run(parse_spec(document, {}), transport, "rows", {}, timeout=10)
    finally:
        await transport.aclose()
        await runner.cleanup()
    assert outcome["ok"] is True and outcome["truncated"] is True
    assert len(json.dumps(outcome, ensure_ascii=False).encode()) < 64 * 1024
    steps = {s["step"]: s for s in outcome["steps"]}
    assert steps["response"]["truncated"] is True
    assert len(steps["response"]["body"].encode()) <= PREVIEW_BYTES + 3
    assert steps["decode"]["truncated"] is True
    assert len(steps["decode"]["document"].encode()) <= PREVIEW_BYTES + 3
    assert steps["result"]["truncated"] is True
    assert len(steps["result"]["value"].encode()) <= VALUE_BYTES + 3
    assert steps["success"]["value"] is True  # small values are shown as they are
