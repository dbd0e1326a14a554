"""Provident fund: the HMAC signature scheme, replay protection, reads and withdrawals."""

from __future__ import annotations

import hashlib
import hmac
import time
from typing import Any

import aiohttp

from integrations.sandbox import AsyncSandbox, data, provident_fund_sign

from .helpers import find_id, signed

CITIZEN = "340104199001011234"
SECRET = "sandbox-gjj-secret"


def test_sign_matches_the_documented_recipe() -> None:
    params = {"b": "2", "a": "1", "sign": "ignored", "form": {"x": 1, "名": "合肥"}, "n": 5}
    base = 'a=1&b=2&form={"x":1,"名":"合肥"}&n=5&key=sandbox-gjj-secret'
    expected = hmac.new(SECRET.encode(), base.encode(), hashlib.sha256).hexdigest().upper()
    assert provident_fund_sign(params, SECRET) == expected


async def _get(http: aiohttp.ClientSession, url: str, params: dict[str, Any]) -> Any:
    async with http.get(url, params=params) as resp:
        assert resp.status == 200
        return await resp.json()


async def test_balance_deposits_and_loans(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    base = sandbox.urls["provident_fund"] + "/openapi/gjj"
    body = await _get(http, f"{base}/account/balance", signed({"id_no": CITIZEN}))
    assert body == {"code": "0000", "msg": "success", "data": data.provident_fund_account(CITIZEN)}

    saver = find_id(lambda i: len(data.provident_fund_deposits(i)) > 25, "saver")
    records = data.provident_fund_deposits(saver)
    page = await _get(
        http, f"{base}/account/deposits", signed({"id_no": saver, "page": "2", "size": "20"})
    )
    assert page["data"] == {"total": len(records), "page": 2, "size": 20, "records": records[20:40]}

    borrower = find_id(lambda i: bool(data.provident_fund_loans(i)), "loan")
    loans = await _get(http, f"{base}/loans", signed({"id_no": borrower}))
    assert loans["data"] == {"loans": data.provident_fund_loans(borrower)}
    assert (await _get(http, f"{base}/loans", signed({"id_no": "bad"})))["code"] == "2001"


async def test_signature_errors(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    url = sandbox.urls["provident_fund"] + "/openapi/gjj/account/balance"
    tampered = {**signed({"id_no": CITIZEN}), "id_no": data.make_id_no("someone else")}
    assert await _get(http, url, tampered) == {"code": "1001", "msg": "签名错误"}
    lower = signed({"id_no": CITIZEN})
    lower["sign"] = lower["sign"].lower()
    assert (await _get(http, url, lower))["code"] == "1001"
    wrong_secret = signed({"id_no": CITIZEN})
    wrong_secret["sign"] = provident_fund_sign(wrong_secret, "not-the-secret")
    assert (await _get(http, url, wrong_secret))["code"] == "1001"

    stale = signed({"id_no": CITIZEN}, timestamp=str(int(time.time()) - 301))
    assert (await _get(http, url, stale))["code"] == "1002"
    future = signed({"id_no": CITIZEN}, timestamp=str(int(time.time()) + 400))
    assert (await _get(http, url, future))["code"] == "1002"

    once = signed({"id_no": CITIZEN})
    assert (await _get(http, url, once))["code"] == "0000"
    assert (await _get(http, url, once))["code"] == "1003"
    short = signed({"id_no": CITIZEN}, nonce="abc")
    assert (await _get(http, url, short))["code"] == "1000"
    other_app = signed({"id_no": CITIZEN}, app_id="someone")
    assert (await _get(http, url, other_app))["code"] == "1004"


async def test_signed_posts(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    base = sandbox.urls["provident_fund"] + "/openapi/gjj"
    balance = data.provident_fund_account(CITIZEN)["balance"]
    fine = signed({"id_no": CITIZEN, "reason": "租房提取", "amount": 100.5})
    async with http.post(f"{base}/withdrawals", json=fine) as resp:
        body = await resp.json()
    assert body["code"] == "0000" and body["data"]["status"] == "受理"
    too_much = signed({"id_no": CITIZEN, "reason": "购房提取", "amount": f"{balance}1"})
    async with http.post(f"{base}/withdrawals", json=too_much) as resp:
        assert await resp.json() == {"code": "2002", "msg": "提取金额超过账户余额"}

    form = {
        "id_no": CITIZEN,
        "application_type": "贷款申请",
        "form": {"房屋": "滨湖世纪城", "n": 1},
    }
    for ascii_escaped in (False, True):
        payload = signed(form)
        payload["sign"] = provident_fund_sign(payload, SECRET, ensure_ascii=ascii_escaped)
        async with http.post(f"{base}/applications", json=payload) as resp:
            receipt = await resp.json()
        assert receipt["code"] == "0000" and receipt["data"]["receiptNo"].startswith("GJJ")
    unsigned = {**signed(form), "form": {"房屋": "别处"}}
    async with http.post(f"{base}/applications", json=unsigned) as resp:
        assert (await resp.json())["code"] == "1001"
