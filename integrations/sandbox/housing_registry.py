"""Real-estate registry (不动产登记): JSON with an API key header.

Envelope ``{"code": "200", "data": …}`` or ``{"code": "4xx", "msg": …}`` — the code
is a string and the HTTP status is 200, except a bad key (HTTP 401, code "401").
"""

from __future__ import annotations

from aiohttp import web

from . import data
from .common import (
    SANDBOX_CREDENTIALS,
    api_key_middleware,
    json_response,
    new_app,
    read_json,
    receipt_no,
)

API_KEY = SANDBOX_CREDENTIALS["housing_registry"]["api_key"]


def ok(payload: object) -> web.Response:
    return json_response({"code": "200", "data": payload})


def fail(code: str, message: str) -> web.Response:
    return json_response({"code": code, "msg": message})


async def properties(request: web.Request) -> web.Response:
    id_no = request.query.get("idNo", "")
    if not data.is_valid_id_format(id_no):
        return fail("400", "身份证号码格式错误")
    return ok({"properties": data.properties(id_no)})


async def apply(request: web.Request) -> web.Response:
    body = await read_json(request)
    if body is None:
        return fail("400", "请求体必须是JSON对象")
    if not data.is_valid_id_format(body.get("idNo")):
        return fail("400", "身份证号码格式错误")
    kind, form = body.get("applicationType"), body.get("form", {})
    if not isinstance(kind, str) or not kind or not isinstance(form, dict):
        return fail("400", "applicationType或form不正确")
    return ok({"receiptNo": receipt_no("BDC")})


def create_app() -> web.Application:
    refusal = {"code": "401", "msg": "API Key无效"}
    app = new_app("housing_registry", [api_key_middleware(API_KEY, refusal)])
    app.router.add_get("/housing/api/properties", properties)
    app.router.add_post("/housing/api/applications", apply)
    return app
