"""Traffic police: OAuth2 client credentials, paged JSON, and a GBK legacy endpoint.

``/api/*`` needs a Bearer token from ``POST /oauth/token``. Business answers are
HTTP 200 with ``status`` inside: 200 success, 400 bad parameter, 404 unknown fine,
409 fine already paid. ``/legacy/jszjf.do`` has no OAuth (IP allow-listed in real
life) and answers one GBK line of ``KEY=VALUE`` pairs.
"""

from __future__ import annotations

import base64
import binascii
import secrets
import time
from dataclasses import dataclass, field
from typing import Any

from aiohttp import hdrs, web
from aiohttp.typedefs import Handler

from . import data
from .common import (
    SANDBOX_CREDENTIALS,
    count,
    json_response,
    new_app,
    read_json,
    receipt_no,
    secret_matches,
)
from .faults import ADMIN_PREFIX

CLIENT_ID = SANDBOX_CREDENTIALS["traffic_police"]["client_id"]
CLIENT_SECRET = SANDBOX_CREDENTIALS["traffic_police"]["client_secret"]
TOKEN_TTL_SECONDS = 300
MAX_PAGE_SIZE = 100


@dataclass
class PoliceState:
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    paid: set[str] = field(default_factory=set)  # fineNo

    def issue(self) -> str:
        now = time.monotonic()
        self.tokens = {t: exp for t, exp in self.tokens.items() if exp > now}
        token = secrets.token_urlsafe(24)
        self.tokens[token] = now + TOKEN_TTL_SECONDS
        return token

    def valid(self, token: str) -> bool:
        return self.tokens.get(token, 0) > time.monotonic()


STATE = web.AppKey("traffic_police_state", PoliceState)


def ok(result: object) -> web.Response:
    return json_response({"status": 200, "result": result})


def fail(status: int, message: str) -> web.Response:
    return json_response({"status": status, "message": message})


@web.middleware
async def bearer_guard(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith("/api/"):
        scheme, _, token = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
        if scheme.lower() != "bearer" or not request.app[STATE].valid(token.strip()):
            return json_response({"error": "invalid_token"}, status=401)
    return await handler(request)


async def issue_token(request: web.Request) -> web.Response:
    form = await request.post()
    client_id, client_secret = str(form.get("client_id", "")), str(form.get("client_secret", ""))
    scheme, _, encoded = request.headers.get(hdrs.AUTHORIZATION, "").partition(" ")
    if scheme.lower() == "basic":
        try:
            decoded = base64.b64decode(encoded.strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            return json_response({"error": "invalid_client"}, status=401)
        client_id, _, client_secret = decoded.partition(":")
    if form.get("grant_type") != "client_credentials":
        return json_response({"error": "unsupported_grant_type"}, status=400)
    if not (secret_matches(client_id, CLIENT_ID) and secret_matches(client_secret, CLIENT_SECRET)):
        return json_response({"error": "invalid_client"}, status=401)
    count(request, "tokens_issued")
    token = request.app[STATE].issue()
    return json_response(
        {"access_token": token, "token_type": "Bearer", "expires_in": TOKEN_TTL_SECONDS}
    )


async def expire_tokens(request: web.Request) -> web.Response:
    state = request.app[STATE]
    expired = len(state.tokens)
    state.tokens.clear()
    return json_response({"expired": expired})


def _id(request: web.Request) -> str | None:
    id_no = request.query.get("idNo", "")
    return id_no if data.is_valid_id_format(id_no) else None


def _bad_id() -> web.Response:
    return fail(400, "身份证号码格式错误")


async def list_violations(request: web.Request) -> web.Response:
    id_no = _id(request)
    if id_no is None:
        return _bad_id()
    try:
        page_no = int(request.query.get("pageNo", "1"))
        page_size = int(request.query.get("pageSize", "10"))
    except ValueError:
        return fail(400, "pageNo和pageSize必须是整数")
    if page_no < 1 or not 1 <= page_size <= MAX_PAGE_SIZE:
        return fail(400, f"pageNo从1开始，pageSize范围1-{MAX_PAGE_SIZE}")
    paid = request.app[STATE].paid
    items: list[dict[str, Any]] = data.violations(id_no)
    for item in items:
        item["handled"] = item["handled"] or ("FK" + item["violationId"][2:]) in paid
    start = (page_no - 1) * page_size
    return ok(
        {
            "total": len(items),
            "pageNo": page_no,
            "pageSize": page_size,
            "list": items[start : start + page_size],
        }
    )


async def list_vehicles(request: web.Request) -> web.Response:
    id_no = _id(request)
    return _bad_id() if id_no is None else ok({"list": data.vehicles(id_no)})


async def list_fines(request: web.Request) -> web.Response:
    id_no = _id(request)
    if id_no is None:
        return _bad_id()
    paid = request.app[STATE].paid
    return ok({"list": [f for f in data.fines(id_no) if f["fineNo"] not in paid]})


async def pay_fine(request: web.Request) -> web.Response:
    body = await read_json(request)
    id_no = (body or {}).get("idNo")
    if not data.is_valid_id_format(id_no):
        return _bad_id()
    fine_no = request.match_info["fineNo"]
    if fine_no not in {f["fineNo"] for f in data.fines(str(id_no))}:
        return fail(404, "罚单不存在")
    state = request.app[STATE]
    if fine_no in state.paid:
        return fail(409, "罚单已缴纳")
    state.paid.add(fine_no)
    return ok({"paymentNo": receipt_no("JF"), "paid": True})


async def apply(request: web.Request) -> web.Response:
    body = await read_json(request)
    if body is None:
        return fail(400, "请求体必须是JSON对象")
    if not data.is_valid_id_format(body.get("idNo")):
        return _bad_id()
    kind, form = body.get("applicationType"), body.get("form", {})
    if not isinstance(kind, str) or not kind or not isinstance(form, dict):
        return fail(400, "applicationType或form不正确")
    return ok({"receiptNo": receipt_no("JJ")})


def gbk_text(text: str) -> web.Response:
    return web.Response(body=text.encode("gbk"), content_type="text/plain", charset="GBK")


async def legacy_points(request: web.Request) -> web.Response:
    id_no = request.query.get("sfzh", "")
    if not data.is_valid_id_format(id_no):
        return gbk_text("RESULT=1|MSG=身份证号码有误")
    fields = data.licence_points(id_no)
    return gbk_text("RESULT=0|" + "|".join(f"{k}={v}" for k, v in fields.items()))


def create_app() -> web.Application:
    app = new_app("traffic_police", [bearer_guard])
    app[STATE] = PoliceState()
    app.router.add_post("/oauth/token", issue_token)
    app.router.add_post(ADMIN_PREFIX + "expire-tokens", expire_tokens)
    app.router.add_get("/api/violations", list_violations)
    app.router.add_get("/api/vehicles", list_vehicles)
    app.router.add_get("/api/fines", list_fines)
    app.router.add_post("/api/fines/{fineNo}/pay", pay_fine)
    app.router.add_post("/api/applications", apply)
    app.router.add_get("/legacy/jszjf.do", legacy_points)
    return app
