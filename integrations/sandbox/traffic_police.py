"""Traffic police: OAuth2 client credentials, paged JSON, and a GBK legacy endpoint.

``/api/*`` needs a Bearer token from ``POST /oauth/token``. Business answers are
HTTP 200 with ``status`` inside: 200 success, 400 bad parameter, 404 unknown fine or
case, 409 fine already paid. ``/legacy/jszjf.do`` has no OAuth (IP allow-listed in real
life) and answers one GBK line of ``KEY=VALUE`` pairs.

``GET /api/applications/{applyNo}`` answers the state of a case the platform forwarded
under its application number; the system cannot call anyone back, so the platform
polls it. Tests play the department's staff through ``PUT /__sandbox/applications/
{applyNo}`` (create or update the case: ``state``, ``opinion``, ``missing``,
``licence_no``, ``mail_no``, and ``trip`` to log one in-person visit) and ``DELETE``
to forget it.
"""

from __future__ import annotations

import base64
import binascii
import re
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
    now_text,
    read_json,
    receipt_no,
    secret_matches,
)
from .faults import ADMIN_PREFIX

CLIENT_ID = SANDBOX_CREDENTIALS["traffic_police"]["client_id"]
CLIENT_SECRET = SANDBOX_CREDENTIALS["traffic_police"]["client_secret"]
TOKEN_TTL_SECONDS = 300
MAX_PAGE_SIZE = 100
# The case system's own state codes. Other upper-case codes are stored as given, so a
# test can play a department that added a state the platform does not know.
CASE_STATES = ("RECEIVED", "REVIEWING", "NEED_MORE", "APPROVED", "REJECTED", "DONE")
_CODE = re.compile(r"^[A-Z_]{1,32}$")
_APPLY_NO = re.compile(r"^[A-Za-z0-9-]{1,32}$")


@dataclass
class Case:
    """One forwarded application as the department's case system records it (业务流水)."""

    apply_no: str
    state: str = "RECEIVED"
    state_time: str = field(default_factory=now_text)
    opinion: str | None = None
    missing: list[str] = field(default_factory=list)
    supplement_times: int = 0  # 补正次数: how often the department has asked for material
    licence_no: str | None = None
    mail_no: str | None = None
    visits: list[dict[str, str]] = field(default_factory=list)

    def public(self) -> dict[str, Any]:
        return {
            "applyNo": self.apply_no,
            "bizState": self.state,
            "stateTime": self.state_time,
            "opinion": self.opinion,
            "missingMaterials": self.missing if self.state == "NEED_MORE" else [],
            "supplementTimes": self.supplement_times,
            "licenceNo": self.licence_no,
            "mailNo": self.mail_no,
            "visits": self.visits,
        }


@dataclass
class PoliceState:
    tokens: dict[str, float] = field(default_factory=dict)  # token -> expiry (monotonic)
    paid: set[str] = field(default_factory=set)  # fineNo
    cases: dict[str, Case] = field(default_factory=dict)  # applyNo -> case

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


async def application_status(request: web.Request) -> web.Response:
    apply_no = request.match_info["applyNo"]
    if not _APPLY_NO.match(apply_no):
        return fail(400, "申请编号格式错误")
    case = request.app[STATE].cases.get(apply_no)
    return fail(404, "业务流水不存在") if case is None else ok(case.public())


def _text(body: dict[str, Any], name: str, limit: int) -> str | None:
    """``body[name]``: absent/null, or a short non-empty string; ValueError otherwise."""
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or not 0 < len(value) <= limit):
        raise ValueError(f"{name} 应为不超过{limit}字的非空字符串")
    return value


def _missing(body: dict[str, Any], current: list[str]) -> list[str]:
    missing = body.get("missing", current)
    if not isinstance(missing, list) or not all(
        isinstance(m, str) and 0 < len(m) <= 100 for m in missing
    ):
        raise ValueError("missing 应为材料名称列表")
    return list(missing)


def update_case(case: Case, body: dict[str, Any]) -> None:
    """Apply an admin PUT, all or nothing; raises ValueError naming the bad field."""
    unknown = set(body) - {"state", "opinion", "missing", "licence_no", "mail_no", "trip"}
    if unknown:
        raise ValueError(f"未知字段：{', '.join(sorted(unknown))}")
    state = body.get("state", case.state)
    if not isinstance(state, str) or not _CODE.match(state):
        raise ValueError("state 应为大写状态码，如 " + "、".join(CASE_STATES))
    missing = _missing(body, case.missing)
    if state == "NEED_MORE" and not missing:
        raise ValueError("NEED_MORE 需要 missing 列出所缺材料")
    trip = _text(body, "trip", 200)
    given = {
        name: _text(body, name, 1000 if name == "opinion" else 64)
        for name in ("opinion", "licence_no", "mail_no")
        if name in body
    }
    if state != case.state:
        # Asking for material again is a new round, the way the real system counts them.
        case.supplement_times += state == "NEED_MORE"
        case.state, case.state_time = state, now_text()
    case.missing = missing
    for name, value in given.items():
        setattr(case, name, value)
    if trip:
        case.visits.append({"visitTime": now_text(), "purpose": trip})


async def put_case(request: web.Request) -> web.Response:
    apply_no = request.match_info["applyNo"]
    body = await read_json(request)
    if body is None or not _APPLY_NO.match(apply_no):
        return json_response({"error": "请求体必须是 JSON 对象，申请编号为字母数字"}, status=400)
    cases = request.app[STATE].cases
    case = cases.get(apply_no) or Case(apply_no)
    try:
        update_case(case, body)
    except ValueError as exc:
        return json_response({"error": str(exc)}, status=400)
    cases[apply_no] = case
    return json_response(case.public())


async def delete_case(request: web.Request) -> web.Response:
    forgotten = request.app[STATE].cases.pop(request.match_info["applyNo"], None)
    return json_response({"deleted": forgotten is not None})


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
    app.router.add_put(ADMIN_PREFIX + "applications/{applyNo}", put_case)
    app.router.add_delete(ADMIN_PREFIX + "applications/{applyNo}", delete_case)
    app.router.add_get("/api/violations", list_violations)
    app.router.add_get("/api/vehicles", list_vehicles)
    app.router.add_get("/api/fines", list_fines)
    app.router.add_post("/api/fines/{fineNo}/pay", pay_fine)
    app.router.add_post("/api/applications", apply)
    app.router.add_get("/api/applications/{applyNo}", application_status)
    app.router.add_get("/legacy/jszjf.do", legacy_points)
    return app
