"""The invoke fast path and the FastAPI route answer every kind of request alike.

``InvokeFastPath`` (backend/gateway/invoke.py) answers ``POST /v1/services/{code}/invoke``
before FastAPI's router sees it. To send the same requests to the route, ``without_fast_path``
builds a second middleware stack of the same running app with only the fast path left out:
the same state, routes, error handlers and other middleware. It is a test-only construction;
the app has no setting that turns the fast path off. That the route declares nothing the
fast path would skip is checked in test_invoke_guard.py.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Mapping
from contextlib import asynccontextmanager
from dataclasses import dataclass, field
from typing import Any

import httpx
import jwt
import pytest
from fastapi import FastAPI
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.app_state import state_of
from backend.gateway.invoke import InvokeFastPath
from backend.identity.tokens import TokenService
from integrations.sandbox import SandboxHandle
from tests.gateway.helpers import SandboxAdmin, citizen
from tests.identity.helpers import bearer, sign_in, sign_in_real_name

PUBLIC = "hospital-directory"  # L0: anyone may call it
BALANCE = "hpf-balance-query"  # L2: real-name verified citizens
DEPOSITS = "hpf-deposit-details"  # L2, with parameters (page 1–100)
REPORTS = "medical-report-query"  # L2, the hospital's system: the one the faults hit


def invoke_path(code: str) -> str:
    return f"/v1/services/{code}/invoke"


# --- the same app, with and without the fast path ---------------------------------------


def without_fast_path(app: FastAPI) -> ASGIApp:
    """The app's middleware stack built again with InvokeFastPath left out."""
    every = app.user_middleware
    fast_path: object = InvokeFastPath  # a class, compared by identity with each factory
    kept = [m for m in every if m.cls is not fast_path]
    assert len(kept) == len(every) - 1, "the app has no InvokeFastPath to leave out"
    app.user_middleware = kept
    try:
        stack = app.build_middleware_stack()
    finally:
        app.user_middleware = every

    async def routed(scope: Scope, receive: Receive, send: Send) -> None:
        scope["app"] = app  # what the app's own __call__ does before its stack
        await stack(scope, receive, send)

    return routed


class Witness:
    """Notes for every request whether the fast path answered it (the router never saw it)."""

    def __init__(self, app: ASGIApp) -> None:
        self.app = app
        self.fast_path_answered: list[bool] = []

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)
        if scope["type"] == "http":
            # The router records the endpoint it dispatched to; the fast path only the route.
            self.fast_path_answered.append("route" in scope and "endpoint" not in scope)


@dataclass
class Both:
    app: FastAPI
    fast: httpx.AsyncClient  # the app as it serves
    routed: httpx.AsyncClient  # the same app without the fast path
    fast_witness: Witness
    routed_witness: Witness
    sandbox: SandboxHandle
    admin: SandboxAdmin


@asynccontextmanager
async def client_of(app: ASGIApp) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


@pytest.fixture
async def both(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle, admin: SandboxAdmin
) -> AsyncIterator[Both]:
    app, _ = app_client
    fast_witness, routed_witness = Witness(app), Witness(without_fast_path(app))
    async with client_of(fast_witness) as fast, client_of(routed_witness) as routed:
        yield Both(app, fast, routed, fast_witness, routed_witness, sandbox, admin)


# --- the cases ---------------------------------------------------------------------------


@dataclass(frozen=True)
class Sent:
    path: str
    method: str = "POST"
    body: bytes | None = b'{"params": {}}'
    headers: Mapping[str, str] = field(default_factory=dict)


Prepare = Callable[[Both], Awaitable[Sent]]
Setup = Callable[[Both], Awaitable[None]]


@dataclass(frozen=True)
class Case:
    status: int
    code: str | None  # the problem's code; None for an answer that is not a problem
    prepare: Prepare
    # Run before each of the two sends, so that both meet the department in the same state.
    before_each: Setup | None = None
    department: str | None = None  # whose breaker is reset afterwards
    fast: bool = True  # the fast path's pattern matches the request


def fixed(sent: Sent) -> Prepare:
    async def prepare(_: Both) -> Sent:
        return sent

    return prepare


def new_citizen(label: str) -> str:
    """An ID number no other test signs in with."""
    return citizen(f"parity-{label}-{uuid.uuid4().hex}")


def signed_in(
    code: str,
    level: int,
    body: bytes = b'{"params": {}}',
    headers: Mapping[str, str] | None = None,
) -> Prepare:
    """A real sign-in: SMS code (L1), plus the real-name check for L2."""

    async def prepare(both: Both) -> Sent:
        if level >= 2:
            tokens = await sign_in_real_name(both.fast, both.sandbox, new_citizen(code))
        else:
            tokens = await sign_in(both.fast, both.sandbox)
        return Sent(invoke_path(code), body=body, headers=bearer(tokens) | dict(headers or {}))

    return prepare


async def expired_token(both: Both) -> Sent:
    """A token the app signed for a real session, but expired a minute ago."""
    tokens = await sign_in(both.fast, both.sandbox)
    claims = jwt.decode(tokens["access_token"], options={"verify_signature": False})
    live: TokenService = state_of(both.app).identity.tokens
    lapsed = TokenService(live.keys, live.kv, issuer=live.issuer, audience=live.audience, ttl=-60)
    token, _ = lapsed.issue(
        claims["sub"], claims["sid"], claims["lvl"], auth_time=claims["auth_time"]
    )
    return Sent(invoke_path(PUBLIC), headers={"Authorization": f"Bearer {token}"})


def department_fault(department: str, **fault: Any) -> Setup:
    async def before(both: Both) -> None:
        await both.admin.fault(department, **fault)
        await state_of(both.app).gateway.invoker.breaker(department).reset()

    return before


def breaker_open(department: str) -> Setup:
    async def before(both: Both) -> None:
        breaker = state_of(both.app).gateway.invoker.breaker(department)
        await breaker.reset()
        await breaker.on_failure(trial=True)  # a failed trial call: open for the policy's time

    return before


def anonymous(code: str = PUBLIC, **sent: Any) -> Prepare:
    return fixed(Sent(invoke_path(code), **sent))


CASES: dict[str, Case] = {
    "success, signed in": Case(200, None, signed_in(BALANCE, level=2)),
    "success, public service, anonymous": Case(200, None, anonymous()),
    "success, no body": Case(200, None, anonymous(body=None)),
    "success, English": Case(200, None, anonymous(headers={"Accept-Language": "en"})),
    "invalid JSON": Case(422, "VALIDATION_FAILED", anonymous(body=b'{"params": ')),
    "body not an object": Case(422, "VALIDATION_FAILED", anonymous(body=b"[1, 2]")),
    "params not an object": Case(422, "VALIDATION_FAILED", anonymous(body=b'{"params": [1]}')),
    "a field besides params": Case(
        422, "VALIDATION_FAILED", anonymous(body=b'{"params": {}, "extra": 1}')
    ),
    "params the service refuses": Case(
        422, "VALIDATION_FAILED", signed_in(DEPOSITS, level=2, body=b'{"params": {"page": 0}}')
    ),
    "malformed token": Case(
        401, "TOKEN_INVALID", anonymous(headers={"Authorization": "Bearer not-a-token"})
    ),
    "expired token": Case(401, "TOKEN_INVALID", expired_token),
    "not a bearer token": Case(
        401, "TOKEN_INVALID", anonymous(headers={"Authorization": "Basic dXNlcjpwYXNz"})
    ),
    "X-Timeout-Ms not a number": Case(
        422, "VALIDATION_FAILED", anonymous(headers={"X-Timeout-Ms": "soon"})
    ),
    "X-Timeout-Ms below 50": Case(
        422, "VALIDATION_FAILED", anonymous(headers={"X-Timeout-Ms": "49"})
    ),
    "X-Timeout-Ms above 60000": Case(
        422, "VALIDATION_FAILED", anonymous(headers={"X-Timeout-Ms": "60001"})
    ),
    "X-Timeout-Ms at its maximum": Case(200, None, anonymous(headers={"X-Timeout-Ms": "60000"})),
    "level too low": Case(403, "ASSURANCE_LEVEL_TOO_LOW", signed_in(BALANCE, level=1)),
    "anonymous on a real-name service": Case(403, "ASSURANCE_LEVEL_TOO_LOW", anonymous(BALANCE)),
    "unknown service": Case(404, "SERVICE_NOT_FOUND", anonymous("no-such-service")),
    "unknown service, English, the client's request id": Case(
        404,
        "SERVICE_NOT_FOUND",
        anonymous(
            "no-such-service",
            headers={"Accept-Language": "en", "X-Request-ID": "parity-request-0001"},
        ),
    ),
    "department down": Case(
        503,
        "ADAPTER_UNAVAILABLE",
        signed_in(REPORTS, level=2),
        before_each=department_fault("hospital", error_rate=1.0, status=503),
        department="hospital",
    ),
    "department's breaker open": Case(
        503,
        "ADAPTER_UNAVAILABLE",
        signed_in(REPORTS, level=2),
        before_each=breaker_open("hospital"),
        department="hospital",
    ),
    "department slower than X-Timeout-Ms": Case(
        504,
        "ADAPTER_TIMEOUT",
        signed_in(REPORTS, level=2, headers={"X-Timeout-Ms": "200"}),
        before_each=department_fault("hospital", latency_ms=1500),
        department="hospital",
    ),
    # The body limit sits outside the fast path: neither reads a body over the cap.
    "body over the cap": Case(
        413, "BODY_TOO_LARGE", anonymous(body=b" " * (2**20 + 1)), fast=False
    ),
    "GET": Case(405, "METHOD_NOT_ALLOWED", anonymous(method="GET", body=None), fast=False),
    "trailing slash": Case(307, None, fixed(Sent(invoke_path(PUBLIC) + "/")), fast=False),
    "code longer than the fast path's pattern": Case(
        404, "SERVICE_NOT_FOUND", anonymous("x" * 70), fast=False
    ),
}


def shape(value: Any) -> Any:
    """The structure of a JSON value: keys and types, not the values."""
    if isinstance(value, dict):
        return {k: shape(v) for k, v in sorted(value.items())}
    if isinstance(value, list):
        return [shape(value[0])] if value else []
    return type(value).__name__


def noticed(response: httpx.Response, sent: Sent) -> dict[str, Any]:
    """What a client notices of an answer, less what differs between any two requests."""
    headers = response.headers
    content_type = headers.get("content-type", "")
    body = response.json() if response.content and "json" in content_type else None
    request_id = headers.get("x-request-id")
    sent_id = {k.lower(): v for k, v in sent.headers.items()}.get("x-request-id")
    seen: dict[str, Any] = {
        "status": response.status_code,
        "content-type": content_type,
        "content-language": headers.get("content-language"),
        "www-authenticate": headers.get("www-authenticate"),
        "allow": headers.get("allow"),
        "location": headers.get("location"),
        "retry-after": "retry-after" in headers,  # its seconds count down between the sends
        "x-request-id": bool(request_id) and (sent_id is None or sent_id == request_id),
        "shape": shape(body),
    }
    if isinstance(body, dict) and "code" in body:  # a problem: all of it but its request id
        seen["problem"] = {k: v for k, v in body.items() if k != "request_id"}
        seen["problem names the request id"] = body.get("request_id") == request_id
    elif isinstance(body, dict):
        seen["data"] = body.get("data")
        seen["source"] = body.get("source")
    return seen


async def send(client: httpx.AsyncClient, sent: Sent) -> httpx.Response:
    return await client.request(sent.method, sent.path, content=sent.body, headers=sent.headers)


@pytest.mark.parametrize("name", list(CASES))
async def test_the_fast_path_and_the_route_answer_alike(both: Both, name: str) -> None:
    case = CASES[name]
    sent = await case.prepare(both)
    try:
        answers = []
        for client in (both.fast, both.routed):
            if case.before_each is not None:
                await case.before_each(both)
            answers.append(await send(client, sent))
    finally:
        if case.department is not None:
            await state_of(both.app).gateway.invoker.breaker(case.department).reset()
    by_fast_path, by_route = (noticed(a, sent) for a in answers)

    assert by_fast_path == by_route
    assert (answers[0].status_code, by_fast_path.get("problem", {}).get("code")) == (
        case.status,
        case.code,
    ), answers[0].text
    # Each answer came the way it was meant to: else the comparison proves nothing.
    assert both.fast_witness.fast_path_answered[-1] is case.fast
    assert both.routed_witness.fast_path_answered[-1] is False
