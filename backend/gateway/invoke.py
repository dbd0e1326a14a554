"""The invoke hot path: ``POST /v1/services/{code}/invoke`` without FastAPI's router.

Invoke is the busiest route of the API and most of its cost was framework, not work:
FastAPI's routing, dependency solving and response re-validation took longer than the
whole cache-hit path. ``InvokeFastPath`` is an ASGI middleware, inside the
observability middleware (request ids, metrics and logs still apply), that answers
matching requests itself; the FastAPI route stays for the OpenAPI document and for
anything the pattern does not match. Both call ``answer_invoke``, so the behaviour is
one implementation. Measured in bench/gateway_invoke.py.

Whatever the route declares beyond ``FAST_PATH_HONOURS`` (a dependency such as
``deprecated_since``, a parameter, a body limit, a middleware inside this one) would be
skipped here. tests/gateway/test_invoke_guard.py inspects the route as the app serves it
and fails naming anything new; tests/gateway/test_invoke_parity.py sends the same requests
both ways and compares the answers.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

import orjson
from fastapi import Request
from fastapi.routing import APIRoute
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.catalog import snapshot_of
from backend.errors import AppError, ValidationFailed, render_app_error
from backend.gateway.dependencies import TIMEOUT_HEADER, deadline_from, gateway_of
from backend.identity import optional_caller_from

_INVOKE_PATH = re.compile(r"^/v1/services/([^/]{1,64})/invoke$")
_JSON_HEADERS = [(b"content-type", b"application/json")]


@dataclass(frozen=True)
class InvokeDeclaration:
    """What an invoke route declares, in the terms the fast path is held to."""

    methods: frozenset[str]
    path: str
    # Parameters FastAPI parses and validates for the route (its dependant tree).
    parsed_params: frozenset[tuple[str, str]]
    # Parameters of the operation in the OpenAPI document: (location, name).
    documented_params: frozenset[tuple[str, str]]
    security: tuple[tuple[str, ...], ...]
    # Framework objects the endpoint or a dependency asks for (request, response, ...).
    special_params: frozenset[str]
    # Route, router and app dependencies, by qualified name.
    dependencies: tuple[str, ...]
    deprecated: bool
    max_body_size: int | None
    # Global names the endpoint's body uses: it may only hand over to answer_invoke.
    endpoint_names: frozenset[str]


FAST_PATH_HONOURS = InvokeDeclaration(
    methods=frozenset({"POST"}),
    path="/v1/services/{code}/invoke",
    parsed_params=frozenset({("path", "code")}),  # _INVOKE_PATH's group
    # X-Timeout-Ms: deadline_from. Besides the bearer token (security, below) and the
    # test-only X-Dev-* headers nothing is read from the request by name.
    documented_params=frozenset({("path", "code"), ("header", TIMEOUT_HEADER)}),
    # Optional sign-in: optional_caller_from reads the bearer token, if any.
    security=(("CitizenToken",), ()),
    special_params=frozenset({"request"}),
    dependencies=(),
    deprecated=False,
    max_body_size=None,
    endpoint_names=frozenset({"Response", "answer_invoke"}),
)


async def invoke_params(request: Request) -> dict[str, Any]:
    """The ``params`` of an invoke body, parsed by hand (see ``invoke_service``)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = orjson.loads(raw)
    except orjson.JSONDecodeError:
        raise ValidationFailed(
            "The body is not valid JSON",
            errors=[{"location": ["body"], "message": "invalid JSON", "type": "json_invalid"}],
        ) from None
    if not isinstance(body, dict) or set(body) - {"params"}:
        raise ValidationFailed(
            'The body must be an object with only "params"',
            errors=[{"location": ["body"], "message": "unexpected shape", "type": "object"}],
        )
    params = body.get("params", {})
    if not isinstance(params, dict):
        raise ValidationFailed(
            '"params" must be an object',
            errors=[{"location": ["body", "params"], "message": "not an object", "type": "object"}],
        )
    return params


async def answer_invoke(request: Request, code: str) -> bytes:
    """The ``InvokeResponse`` JSON for one invoke request; raises ``AppError`` problems."""
    service = snapshot_of(request).service(code)
    caller = await optional_caller_from(request)
    deadline = deadline_from(request)
    params = await invoke_params(request)
    return await gateway_of(request).invoke(service, params, caller, deadline)


class InvokeFastPath:
    def __init__(self, app: ASGIApp, route: APIRoute) -> None:
        self.app = app
        self.route = route

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        match = None
        if scope["type"] == "http" and scope["method"] == "POST":
            match = _INVOKE_PATH.match(scope["path"])
        if match is None:
            await self.app(scope, receive, send)
            return
        scope["route"] = self.route  # so metrics and logs name the route template
        request = Request(scope, receive)
        try:
            body = await answer_invoke(request, match.group(1))
        except AppError as exc:
            response = render_app_error(request, exc)
            await response(scope, receive, send)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [*_JSON_HEADERS, (b"content-length", str(len(body)).encode())],
            }
        )
        await send({"type": "http.response.body", "body": body})
