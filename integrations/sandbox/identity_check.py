"""Public-security identity check: does a name belong to an ID number, and a face check.

``resultCode``: "00" match, "01" name mismatch, "02" no such ID (format or GB 11643
checksum invalid), "03" no usable image (face check), "99" unreadable request.
"""

from __future__ import annotations

import base64
import binascii

from aiohttp import web

from . import data
from .common import SANDBOX_CREDENTIALS, api_key_middleware, json_response, new_app, read_json

API_KEY = SANDBOX_CREDENTIALS["identity_check"]["api_key"]
# A fixed score: the sandbox does not look at faces, only at whether one was sent.
FACE_SIMILARITY = 0.97


def _unreadable() -> web.Response:
    return json_response({"resultCode": "99", "message": "请求报文格式错误"}, status=400)


async def verify(request: web.Request) -> web.Response:
    body = await read_json(request)
    if body is None:
        return _unreadable()
    id_no, name = body.get("idNumber"), body.get("name")
    if not data.is_valid_id_checksum(id_no):
        return json_response({"resultCode": "02", "match": False})
    if not isinstance(name, str) or name.strip() != data.person_name(str(id_no)):
        return json_response({"resultCode": "01", "match": False})
    return json_response({"resultCode": "00", "match": True})


def _is_base64_image(value: object) -> bool:
    if not isinstance(value, str) or not value.strip():
        return False
    try:
        return len(base64.b64decode(value, validate=True)) > 0
    except (binascii.Error, ValueError):
        return False


async def face(request: web.Request) -> web.Response:
    body = await read_json(request)
    if body is None:
        return _unreadable()
    if not data.is_valid_id_checksum(body.get("idNumber")):
        return json_response({"resultCode": "02", "similarity": 0.0})
    if not _is_base64_image(body.get("image")):
        return json_response({"resultCode": "03", "similarity": 0.0})
    return json_response({"resultCode": "00", "similarity": FACE_SIMILARITY})


def create_app() -> web.Application:
    refusal = {"resultCode": "98", "message": "invalid api key"}
    app = new_app("identity_check", [api_key_middleware(API_KEY, refusal)])
    app.router.add_post("/idcheck/v1/verify", verify)
    app.router.add_post("/idcheck/v1/face", face)
    return app
