"""Every request body is capped before anything reads it.

A 200 MB JSON body to an unauthenticated route used to be read whole and parsed (7.5 s,
+466 MB). ``BodyLimit`` answers 413 ``BODY_TOO_LARGE`` without calling the app when the
declared ``Content-Length`` is over the cap, and counts a body without one (chunked) as it
arrives, refusing at the first chunk past the cap: at most one server read buffer is ever
held. Uploads have a larger cap of their own (``limits`` below, set in backend/app.py).

Hand-written rather than Starlette's ``RequestBodyLimitMiddleware`` (which FastAPI's
``max_body_size`` uses): that one answers a plain-text 413 from outside our error
handlers and request ids, and turns a limit hit inside a route into whatever the route
makes of the exception. This one sits inside the observability middleware and outside
the invoke fast path (which reads its body itself), so every refusal is the same problem
with the request's id, counted in the metrics.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from fastapi import Request
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.errors import PROBLEM_CONTENT_TYPE, AppError, render_app_error


class BodyTooLarge(AppError):
    status = 413
    code = "BODY_TOO_LARGE"
    title_zh = "请求体过大"
    title_en = "Request body too large"


class _Exceeded(Exception):
    """Raised into the app from ``receive``: whatever the app makes of it, 413 is sent."""


def _declared_length(scope: Scope) -> int | None:
    for name, value in scope["headers"]:
        if name == b"content-length":
            try:
                return int(value)
            except ValueError:
                return None  # the server refuses such a request before it reaches us
    return None


class BodyLimit:
    """Cap request bodies at ``max_bytes``; ``limits`` maps (method, path) to a cap and the
    error of its own (uploads: 10 MB, ``UPLOAD_TOO_LARGE``)."""

    def __init__(
        self,
        app: ASGIApp,
        *,
        max_bytes: int,
        limits: Mapping[tuple[str, str], tuple[int, type[AppError]]] | None = None,
    ) -> None:
        self.app = app
        self.max_bytes = max_bytes
        self.limits = dict(limits or {})

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        cap, error = self.limits.get((scope["method"], scope["path"]), (self.max_bytes, None))
        error = error or BodyTooLarge
        declared = _declared_length(scope)
        if declared is not None:
            if declared > cap:
                await _refuse(scope, receive, send, error, cap)
            else:
                # The server delivers no more than the declared length (what follows it
                # is the next request), so there is nothing to count: the common case,
                # left without the wrapping below (~2 µs a request).
                await self.app(scope, receive, send)
            return

        received = 0
        exceeded = started = False

        async def counting_receive() -> Message:
            nonlocal received, exceeded
            message = await receive()
            if message["type"] == "http.request":
                received += len(message.get("body", b""))
                if received > cap:
                    exceeded = True
                    raise _Exceeded()
            return message

        async def guarded_send(message: Message) -> None:
            nonlocal started
            if exceeded and not started:
                return  # the app's own answer to _Exceeded (FastAPI makes it a 400): dropped
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, counting_receive, guarded_send)
        except Exception:
            if not exceeded or started:
                raise
        if exceeded and not started:
            await _refuse(scope, receive, send, error, cap)


async def _refuse(
    scope: Scope, receive: Receive, send: Send, error: type[AppError], cap: int
) -> None:
    problem = error(f"The body may have at most {cap} bytes", max_bytes=cap)
    response = render_app_error(Request(scope), problem)
    # The rest of the body is never read: close the connection rather than drain it.
    response.headers["Connection"] = "close"
    await response(scope, receive, send)


def declare_body_limit(openapi: dict[str, Any], max_bytes: int) -> dict[str, Any]:
    """Every operation that takes a body documents the 413 it may get (routes with a limit of
    their own, uploads, already declare theirs)."""
    for operations in openapi.get("paths", {}).values():
        for operation in operations.values():
            if not isinstance(operation, dict) or "requestBody" not in operation:
                continue
            operation.setdefault("responses", {}).setdefault(
                "413",
                {
                    "description": (
                        f"`{BodyTooLarge.code}`: {BodyTooLarge.title_en} / "
                        f"{BodyTooLarge.title_zh} (more than {max_bytes} bytes)"
                    ),
                    "content": {
                        PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}
                    },
                },
            )
    return openapi
