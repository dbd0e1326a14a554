"""Transit (公交/地铁/停车): JSON with an API key header and an ``errcode`` envelope.

Business errors are HTTP 200 with ``errcode`` 40002 (invalid ID number) or 40003
(bad parameter); a bad key is HTTP 401 with ``errcode`` 40001.
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

API_KEY = SANDBOX_CREDENTIALS["transit"]["api_key"]


def ok(payload: object) -> web.Response:
    return json_response({"errcode": 0, "errmsg": "ok", "data": payload})


def fail(code: int, message: str) -> web.Response:
    return json_response({"errcode": code, "errmsg": message})


def _bad_id() -> web.Response:
    return fail(40002, "身份证号码格式错误")


async def cards(request: web.Request) -> web.Response:
    id_no = request.query.get("idNo", "")
    if not data.is_valid_id_format(id_no):
        return _bad_id()
    return ok({"cards": data.transit_cards(id_no)})


async def parking(request: web.Request) -> web.Response:
    id_no = request.query.get("idNo", "")
    if not data.is_valid_id_format(id_no):
        return _bad_id()
    return ok({"records": data.parking_records(id_no)})


async def routes(request: web.Request) -> web.Response:
    return ok({"routes": data.routes(request.query.get("keyword", "").strip() or None)})


async def apply(request: web.Request) -> web.Response:
    body = await read_json(request)
    if body is None:
        return fail(40003, "请求体必须是JSON对象")
    if not data.is_valid_id_format(body.get("idNo")):
        return _bad_id()
    kind, form = body.get("applicationType"), body.get("form", {})
    if not isinstance(kind, str) or not kind or not isinstance(form, dict):
        return fail(40003, "applicationType或form不正确")
    return ok({"receiptNo": receipt_no("JT")})


def create_app() -> web.Application:
    refusal = {"errcode": 40001, "errmsg": "invalid api key"}
    app = new_app("transit", [api_key_middleware(API_KEY, refusal)])
    app.router.add_get("/transit/v1/cards", cards)
    app.router.add_get("/transit/v1/parking", parking)
    app.router.add_get("/transit/v1/routes", routes)
    app.router.add_post("/transit/v1/applications", apply)
    return app
