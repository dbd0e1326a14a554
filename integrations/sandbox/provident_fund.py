"""Housing provident fund centre (公积金): JSON with HMAC-signed requests.

Every request carries ``app_id``, ``timestamp`` (unix seconds), ``nonce`` (≥ 8
characters) and ``sign`` — in the query string for GET, as top-level JSON fields
for POST. All answers are HTTP 200 with ``code``: "0000" success, "1000" missing or
bad common parameter, "1001" bad signature, "1002" timestamp more than 300 s off,
"1003" nonce reused within 5 minutes, "1004" unknown app_id, "2001" invalid ID
number, "2002" withdrawal above balance, "2003" bad business parameter.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections import deque
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal, InvalidOperation
from typing import Any

from aiohttp import web

from . import data
from .common import SANDBOX_CREDENTIALS, json_response, new_app, read_json, receipt_no

APP_ID = SANDBOX_CREDENTIALS["provident_fund"]["app_id"]
SECRET = SANDBOX_CREDENTIALS["provident_fund"]["secret"]
MAX_SKEW_SECONDS = 300
NONCE_TTL_SECONDS = 300
MAX_PAGE_SIZE = 100


def _value_text(value: object, ensure_ascii: bool) -> str:
    if isinstance(value, str):
        return value
    return json.dumps(value, separators=(",", ":"), ensure_ascii=ensure_ascii)


def provident_fund_sign(
    params: Mapping[str, object], secret: str, *, ensure_ascii: bool = False
) -> str:
    """The centre's signature: HMAC-SHA256 over ``k=v&…&key=<secret>``, hex upper-case.

    Keys are sorted and ``sign`` itself is left out. Strings go in as they are;
    other values (numbers, booleans, objects in a POST body) as compact JSON
    (``separators=(",", ":")``, keys in the order given, non-ASCII kept as UTF-8).
    The server also accepts ``\\uXXXX``-escaped JSON (``ensure_ascii=True``), since
    "compact JSON" alone does not pin that choice down.
    """
    base = "&".join(
        f"{k}={_value_text(params[k], ensure_ascii)}" for k in sorted(params) if k != "sign"
    )
    message = f"{base}&key={secret}".encode()
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest().upper()


@dataclass
class FundState:
    nonces: dict[str, float] = field(default_factory=dict)  # nonce -> expiry (monotonic)
    expiry_order: deque[tuple[float, str]] = field(default_factory=deque)

    def use_nonce(self, nonce: str) -> bool:
        """Record a nonce; False when it was already used within the TTL."""
        now = time.monotonic()
        while self.expiry_order and self.expiry_order[0][0] <= now:
            _, old = self.expiry_order.popleft()
            if self.nonces.get(old, 0) <= now:
                self.nonces.pop(old, None)
        if self.nonces.get(nonce, 0) > now:
            return False
        self.nonces[nonce] = now + NONCE_TTL_SECONDS
        self.expiry_order.append((now + NONCE_TTL_SECONDS, nonce))
        return True


STATE = web.AppKey("provident_fund_state", FundState)


def ok(payload: object) -> web.Response:
    return json_response({"code": "0000", "msg": "success", "data": payload})


def fail(code: str, msg: str) -> web.Response:
    return json_response({"code": code, "msg": msg})


def check_signature(params: Mapping[str, Any], state: FundState) -> web.Response | None:
    """None when the common parameters are acceptable, else the refusal to send."""
    if params.get("app_id") != APP_ID:
        return fail("1004", "app_id无效")
    sign, nonce, timestamp = params.get("sign"), params.get("nonce"), params.get("timestamp")
    if not isinstance(sign, str) or nonce is None or timestamp is None:
        return fail("1000", "缺少公共参数timestamp、nonce或sign")
    if not isinstance(nonce, str) or len(nonce) < 8:
        return fail("1000", "nonce长度不能少于8位")
    expected = (provident_fund_sign(params, SECRET, ensure_ascii=a) for a in (False, True))
    if not any(hmac.compare_digest(sign.encode(), e.encode()) for e in expected):
        return fail("1001", "签名错误")
    try:
        skew = abs(time.time() - int(str(timestamp)))
    except ValueError:
        return fail("1002", "时间戳无效")
    if skew > MAX_SKEW_SECONDS:
        return fail("1002", "请求已过期，请校准时间")
    if not state.use_nonce(nonce):
        return fail("1003", "nonce重复，请勿重放请求")
    return None


def _signed_query(request: web.Request) -> tuple[dict[str, str], web.Response | None]:
    params = dict(request.query.items())
    return params, check_signature(params, request.app[STATE])


async def _signed_body(request: web.Request) -> tuple[dict[str, Any], web.Response | None]:
    body = await read_json(request)
    if body is None:
        return {}, fail("1000", "请求体必须是JSON对象")
    return body, check_signature(body, request.app[STATE])


def _id_or_error(params: Mapping[str, Any]) -> tuple[str, web.Response | None]:
    id_no = params.get("id_no")
    if not data.is_valid_id_format(id_no):
        return "", fail("2001", "身份证号码格式错误")
    return str(id_no), None


async def balance(request: web.Request) -> web.Response:
    params, refusal = _signed_query(request)
    id_no, bad = _id_or_error(params)
    return refusal or bad or ok(data.provident_fund_account(id_no))


async def deposits(request: web.Request) -> web.Response:
    params, refusal = _signed_query(request)
    id_no, bad = _id_or_error(params)
    error = refusal or bad
    if error:
        return error
    try:
        page, size = int(params.get("page", "1")), int(params.get("size", "20"))
    except ValueError:
        return fail("2003", "page和size必须是整数")
    if page < 1 or not 1 <= size <= MAX_PAGE_SIZE:
        return fail("2003", f"page从1开始，size范围1-{MAX_PAGE_SIZE}")
    records = data.provident_fund_deposits(id_no)
    start = (page - 1) * size
    return ok(
        {
            "total": len(records),
            "page": page,
            "size": size,
            "records": records[start : start + size],
        }
    )


async def loans(request: web.Request) -> web.Response:
    params, refusal = _signed_query(request)
    id_no, bad = _id_or_error(params)
    return refusal or bad or ok({"loans": data.provident_fund_loans(id_no)})


async def withdraw(request: web.Request) -> web.Response:
    body, refusal = await _signed_body(request)
    if refusal:
        return refusal
    id_no, bad = _id_or_error(body)
    if bad:
        return bad
    reason, raw_amount = body.get("reason"), body.get("amount")
    if not isinstance(reason, str) or not reason.strip():
        return fail("2003", "提取原因不能为空")
    try:
        amount = Decimal(str(raw_amount))
    except InvalidOperation:
        return fail("2003", "提取金额格式错误")
    if isinstance(raw_amount, bool) or not amount.is_finite() or amount <= 0:
        return fail("2003", "提取金额必须大于0")
    if amount > Decimal(data.provident_fund_account(id_no)["balance"]):
        return fail("2002", "提取金额超过账户余额")
    # Accepted for processing only: the balance changes when the centre pays out,
    # which is why it stays the deterministic data.provident_fund_account value.
    return ok({"withdrawalNo": receipt_no("TQ"), "status": "受理"})


async def apply(request: web.Request) -> web.Response:
    body, refusal = await _signed_body(request)
    if refusal:
        return refusal
    _, bad = _id_or_error(body)
    if bad:
        return bad
    kind, form = body.get("application_type"), body.get("form", {})
    if not isinstance(kind, str) or not kind or not isinstance(form, dict):
        return fail("2003", "application_type或form不正确")
    return ok({"receiptNo": receipt_no("GJJ")})


def create_app() -> web.Application:
    app = new_app("provident_fund")
    app[STATE] = FundState()
    app.router.add_get("/openapi/gjj/account/balance", balance)
    app.router.add_get("/openapi/gjj/account/deposits", deposits)
    app.router.add_get("/openapi/gjj/loans", loans)
    app.router.add_post("/openapi/gjj/withdrawals", withdraw)
    app.router.add_post("/openapi/gjj/applications", apply)
    return app
