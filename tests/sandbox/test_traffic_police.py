"""Traffic police: OAuth client credentials, expiry, pagination, fines and the GBK endpoint."""

from __future__ import annotations

import base64
import math

import aiohttp
import pytest

from integrations.sandbox import AsyncSandbox, data

from .helpers import find_id

CREDENTIALS = {
    "grant_type": "client_credentials",
    "client_id": "sandbox-tp",
    "client_secret": "sandbox-tp-secret",
}


async def _token(http: aiohttp.ClientSession, base: str) -> str:
    async with http.post(f"{base}/oauth/token", data=CREDENTIALS) as resp:
        body = await resp.json()
    assert resp.status == 200
    assert body["token_type"] == "Bearer" and body["expires_in"] == 300
    return str(body["access_token"])


async def test_token_issue_refusal_and_expiry(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    base = sandbox.urls["traffic_police"]
    wrong = {**CREDENTIALS, "client_secret": "guess"}
    async with http.post(f"{base}/oauth/token", data=wrong) as resp:
        assert resp.status == 401 and await resp.json() == {"error": "invalid_client"}
    basic = {"Authorization": "Basic " + base64.b64encode(b"sandbox-tp:sandbox-tp-secret").decode()}
    form = {"grant_type": "client_credentials"}
    async with http.post(f"{base}/oauth/token", data=form, headers=basic) as resp:
        assert resp.status == 200 and (await resp.json())["access_token"]

    url = f"{base}/api/vehicles?idNo=340104199001011234"
    async with http.get(url) as resp:
        assert resp.status == 401 and await resp.json() == {"error": "invalid_token"}
    token = await _token(http, base)
    auth = {"Authorization": f"Bearer {token}"}
    async with http.get(url, headers=auth) as resp:
        body = await resp.json()
    assert body == {"status": 200, "result": {"list": data.vehicles("340104199001011234")}}

    async with http.post(f"{base}/__sandbox/expire-tokens") as resp:
        assert (await resp.json())["expired"] == 2
    async with http.get(url, headers=auth) as resp:
        assert resp.status == 401 and await resp.json() == {"error": "invalid_token"}
    async with http.get(
        url, headers={"Authorization": f"Bearer {await _token(http, base)}"}
    ) as resp:
        assert resp.status == 200
    async with http.get(f"{base}/__sandbox/stats") as resp:
        stats = await resp.json()
    assert stats["counters"]["tokens_issued"] == 3
    assert stats["requests"]["POST /oauth/token"] == 4


async def test_violation_pages_cover_the_total(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    base = sandbox.urls["traffic_police"]
    driver = find_id(lambda i: len(data.violations(i)) > 15, "driver")
    expected = data.violations(driver)
    auth = {"Authorization": f"Bearer {await _token(http, base)}"}
    seen = []
    for page in range(1, math.ceil(len(expected) / 10) + 1):
        params = {"idNo": driver, "pageNo": str(page), "pageSize": "10"}
        async with http.get(f"{base}/api/violations", params=params, headers=auth) as resp:
            result = (await resp.json())["result"]
        assert (result["total"], result["pageNo"], result["pageSize"]) == (len(expected), page, 10)
        seen += result["list"]
    assert seen == expected
    params = {"idNo": driver, "pageNo": "0"}
    async with http.get(f"{base}/api/violations", params=params, headers=auth) as resp:
        assert (await resp.json())["status"] == 400


async def test_pay_a_fine(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    base = sandbox.urls["traffic_police"]
    driver = find_id(lambda i: bool(data.fines(i)), "fined")
    auth = {"Authorization": f"Bearer {await _token(http, base)}"}
    async with http.get(f"{base}/api/fines?idNo={driver}", headers=auth) as resp:
        fines = (await resp.json())["result"]["list"]
    assert fines == data.fines(driver)
    fine = fines[0]
    pay = f"{base}/api/fines/{fine['fineNo']}/pay"
    async with http.post(pay, json={"idNo": driver}, headers=auth) as resp:
        result = (await resp.json())["result"]
    assert result["paid"] is True and result["paymentNo"]
    async with http.get(f"{base}/api/fines?idNo={driver}", headers=auth) as resp:
        left = (await resp.json())["result"]["list"]
    assert fine["fineNo"] not in {f["fineNo"] for f in left}
    unknown = f"{base}/api/fines/FK000/pay"
    async with http.post(unknown, json={"idNo": driver}, headers=auth) as resp:
        assert resp.status == 200
        assert await resp.json() == {"status": 404, "message": "罚单不存在"}


async def test_legacy_endpoint_speaks_gbk(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    base = sandbox.urls["traffic_police"]
    citizen = "340104199001011234"
    async with http.get(f"{base}/legacy/jszjf.do?sfzh={citizen}") as resp:  # no OAuth needed
        assert resp.headers["Content-Type"] == "text/plain; charset=GBK"
        raw = await resp.read()
    points = data.licence_points(citizen)
    text = raw.decode("gbk")
    assert text == "RESULT=0|" + "|".join(f"{k}={v}" for k, v in points.items())
    assert points["XM"].encode("gbk") in raw
    with pytest.raises(UnicodeDecodeError):
        raw.decode("utf-8")
    async with http.get(f"{base}/legacy/jszjf.do?sfzh=123") as resp:
        assert (await resp.read()).decode("gbk") == "RESULT=1|MSG=身份证号码有误"
