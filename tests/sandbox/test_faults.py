"""Fault injection (per server and per request) and request statistics."""

from __future__ import annotations

import asyncio
import json
import time
from typing import Any
from xml.etree import ElementTree

import aiohttp
import pytest

from integrations.sandbox import AsyncSandbox, data
from integrations.sandbox.faults import STATE

from .helpers import api_key, soap

HOSPITALS = "/api/v2/hospitals"
HOSPITALS_ROUTE = f"GET {HOSPITALS}"


async def _put_faults(http: aiohttp.ClientSession, base: str, faults: dict[str, Any]) -> Any:
    async with http.put(f"{base}/__sandbox/faults", json=faults) as resp:
        assert resp.status == 200, await resp.text()
        return await resp.json()


async def _matched(http: aiohttp.ClientSession, base: str) -> int:
    """How many requests the server's fault configuration has applied to."""
    async with http.get(f"{base}/__sandbox/faults") as resp:
        return int((await resp.json())["faults"]["matched"])


async def _statuses(http: aiohttp.ClientSession, url: str, n: int, **kw: Any) -> list[int]:
    result = []
    for _ in range(n):
        async with http.get(url, **kw) as resp:
            await resp.read()
            result.append(resp.status)
    return result


async def test_latency_per_request_and_per_path(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    base, headers = sandbox.urls["hospital"], api_key("hospital")
    started = time.perf_counter()
    async with http.get(base + HOSPITALS, headers={**headers, "X-Sandbox-Fault": "latency=200"}):
        pass
    assert time.perf_counter() - started >= 0.2

    await _put_faults(http, base, {"latency_ms": 150, "path": "/api/v2/reports"})
    async with http.get(base + HOSPITALS, headers=headers) as resp:
        assert resp.status == 200
    # Outside the fault's path prefix: the server did not apply it (its own count says so,
    # where a wall-clock upper bound would break on a busy machine).
    assert await _matched(http, base) == 0
    started = time.perf_counter()
    async with http.get(f"{base}/api/v2/reports?patientIdNo=340104199001011234", headers=headers):
        pass
    assert time.perf_counter() - started >= 0.15
    assert await _matched(http, base) == 1


async def test_error_rate_is_deterministic(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    base, headers = sandbox.urls["transit"], api_key("transit")
    url = base + "/transit/v1/routes"
    shown = await _put_faults(http, base, {"error_rate": 0.5, "status": 502})
    assert shown["faults"]["error_rate"] == 0.5 and shown["faults"]["status"] == 502
    assert await _statuses(http, url, 6, headers=headers) == [200, 502, 200, 502, 200, 502]
    await _put_faults(http, base, {"error_rate": 0.34})
    assert await _statuses(http, url, 6, headers=headers) == [200, 200, 503, 200, 200, 503]
    async with http.get(url, headers={**headers, "X-Sandbox-Fault": "error=504"}) as resp:
        assert resp.status == 504  # per-request error beats the counter
        assert resp.content_type == "text/html" and "504" in await resp.text()

    await _put_faults(http, base, {"error_rate": 0.5, "seed": 7})
    first = await _statuses(http, url, 12, headers=headers)
    await _put_faults(http, base, {"error_rate": 0.5, "seed": 7})
    assert await _statuses(http, url, 12, headers=headers) == first
    assert set(first) == {200, 503}

    async with http.get(f"{base}/__sandbox/faults") as resp:
        assert (await resp.json())["faults"]["matched"] == 12
    async with http.delete(f"{base}/__sandbox/faults") as resp:
        assert await resp.json() == {"faults": None}
    assert await _statuses(http, url, 3, headers=headers) == [200, 200, 200]


async def test_admin_paths_are_never_faulted_and_bad_configs_refused(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    base = sandbox.urls["sms"]
    await _put_faults(http, base, {"error_rate": 1.0})
    async with http.get(f"{base}/__sandbox/stats") as resp:
        assert resp.status == 200
    for bad in ({"error_rate": 2}, {"explode": True}, {"hang": "yes"}, {"path": "api"}):
        async with http.put(f"{base}/__sandbox/faults", json=bad) as resp:
            assert resp.status == 400


async def test_hang_times_out_without_blocking_others(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    base, headers = sandbox.urls["hospital"], api_key("hospital")
    state = sandbox.apps["hospital"][STATE]

    async def hung() -> None:
        # Generous: the other request must be sent and answered while this one still hangs
        # (the server would hold it for an hour); the client's timeout is what ends it.
        timeout = aiohttp.ClientTimeout(total=2)
        hang = {**headers, "X-Sandbox-Fault": "hang"}
        async with http.get(base + HOSPITALS, headers=hang, timeout=timeout):
            pass

    task = asyncio.create_task(hung())
    # Until the server holds the hung request. Polled: the sandbox announces no arrival.
    async with asyncio.timeout(5):
        while state.requests[HOSPITALS_ROUTE] < 1:  # noqa: ASYNC110 (no event exists)
            await asyncio.sleep(0.005)
    async with http.get(base + HOSPITALS, headers=headers) as resp:
        assert resp.status == 200
    # Answered while the hung request is still held: the hang holds up nobody else. (A
    # server serving one request at a time would answer only once the hung one was given up.)
    assert not task.done()
    assert state.requests[HOSPITALS_ROUTE] == 2
    with pytest.raises(asyncio.TimeoutError):
        await task


async def test_malformed_bodies_do_not_parse(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    fault = {"X-Sandbox-Fault": "malformed"}
    async with http.get(
        sandbox.urls["hospital"] + HOSPITALS, headers={**api_key("hospital"), **fault}
    ) as resp:
        assert resp.status == 200 and resp.content_type == "application/json"
        raw = await resp.read()
    with pytest.raises(ValueError):
        json.loads(raw)

    body = soap("QueryPension", {"IdNo": "340104199001011234"}).encode()
    hrss = sandbox.urls["hrss"] + "/services/SiService"
    async with http.post(hrss, data=body, headers=fault) as resp:
        assert resp.status == 200 and resp.content_type == "text/xml"
        with pytest.raises(ElementTree.ParseError):
            ElementTree.fromstring(await resp.read())

    legacy = sandbox.urls["traffic_police"] + "/legacy/jszjf.do?sfzh=340104199001011234"
    async with http.get(legacy, headers=fault) as resp:
        with pytest.raises(UnicodeDecodeError):
            (await resp.read()).decode("gbk")


async def test_redirect(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    base, headers = sandbox.urls["e_license"], api_key("e_license")
    url = f"{base}/license/api/v1/holders/340104199001011234/licences"
    target = "http://127.0.0.1:9/login.jsp"
    faulted = {**headers, "X-Sandbox-Fault": f"redirect={target}"}
    async with http.get(url, headers=faulted, allow_redirects=False) as resp:
        assert resp.status == 302 and resp.headers["Location"] == target
    await _put_faults(http, base, {"redirect": "https://sso.example.gov.cn/cas/login"})
    async with http.get(url, headers=headers, allow_redirects=False) as resp:
        assert resp.status == 302
        assert resp.headers["Location"] == "https://sso.example.gov.cn/cas/login"


async def test_wrong_charset(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    headers = {**api_key("hospital"), "X-Sandbox-Fault": "wrong_charset"}
    async with http.get(sandbox.urls["hospital"] + HOSPITALS, headers=headers) as resp:
        assert resp.headers["Content-Type"] == "application/json; charset=utf-8"
        raw = await resp.read()
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    assert json.loads(raw.decode("gbk"))["data"] == data.hospitals()

    legacy = sandbox.urls["traffic_police"] + "/legacy/jszjf.do?sfzh=340104199001011234"
    async with http.get(legacy, headers={"X-Sandbox-Fault": "wrong_charset"}) as resp:
        assert resp.headers["Content-Type"] == "text/plain; charset=GBK"
        raw = await resp.read()
    assert "正常" in raw.decode("utf-8")
    assert "正常" not in raw.decode("gbk", errors="replace")


async def test_stats_count_concurrent_requests_and_reset(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    base, headers = sandbox.urls["hospital"], api_key("hospital")

    async def one(path: str) -> int:
        async with http.get(base + path, headers=headers) as resp:
            return resp.status

    statuses = await asyncio.gather(*(one("/api/v2/hospitals/H001/departments") for _ in range(20)))
    assert statuses == [200] * 20
    await one(HOSPITALS)
    async with http.get(base + HOSPITALS) as resp:  # refused requests still reached the server
        assert resp.status == 401
    async with http.get(f"{base}/__sandbox/stats") as resp:
        stats = await resp.json()
    assert stats["requests"] == {
        "GET /api/v2/hospitals/{hospitalId}/departments": 20,
        "GET /api/v2/hospitals": 2,
    }
    assert stats["total"] == 22
    async with http.delete(f"{base}/__sandbox/stats") as resp:
        assert resp.status == 200
    async with http.get(f"{base}/__sandbox/stats") as resp:
        assert await resp.json() == {
            "requests": {},
            "total": 0,
            "counters": {},
            "in_flight": 0,
            "max_in_flight": 0,
        }
