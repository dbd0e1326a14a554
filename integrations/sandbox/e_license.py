"""Electronic licence library (电子证照库): JSON with an API key header.

Errors use HTTP status codes with ``{"success": false, "error": …}``: 400 invalid
ID number or licence type, 401 bad key, 404 unknown licence.
"""

from __future__ import annotations

from aiohttp import web

from . import data
from .common import SANDBOX_CREDENTIALS, api_key_middleware, json_response, new_app

API_KEY = SANDBOX_CREDENTIALS["e_license"]["api_key"]
# Enough of a PDF for a viewer to recognise the type; the content is not the point.
_PDF = b"%PDF-1.4\n% sandbox licence file\n%%EOF\n"


def _base_url(request: web.Request) -> str:
    return f"{request.scheme}://{request.host}"


def _error(status: int, message: str) -> web.Response:
    return json_response({"success": False, "error": message}, status=status)


async def holder_licences(request: web.Request) -> web.Response:
    id_no = request.match_info["idNo"]
    if not data.is_valid_id_format(id_no):
        return _error(400, "invalid id number")
    kind = request.query.get("type", "")
    if kind and kind not in data.LICENCE_TYPES:
        return _error(400, "unknown licence type")
    held = data.licences(id_no, _base_url(request))
    if kind:
        held = [h for h in held if h["licenceType"] == kind]
    return json_response({"success": True, "licences": held})


async def one_licence(request: web.Request) -> web.Response:
    found = data.licence(request.match_info["licenceNo"], _base_url(request))
    if found is None:
        return _error(404, "not found")
    return json_response({"success": True, "licence": found})


async def licence_file(request: web.Request) -> web.Response:
    if data.licence(request.match_info["licenceNo"]) is None:
        return _error(404, "not found")
    return web.Response(body=_PDF, content_type="application/pdf")


def create_app() -> web.Application:
    refusal = {"success": False, "error": "invalid api key"}
    app = new_app("e_license", [api_key_middleware(API_KEY, refusal)])
    app.router.add_get("/license/api/v1/holders/{idNo}/licences", holder_licences)
    app.router.add_get("/license/api/v1/licences/{licenceNo}", one_licence)
    app.router.add_get("/license/files/{licenceNo}.pdf", licence_file)
    return app
