"""The invoke route declares nothing that the fast path would skip.

``InvokeFastPath`` (backend/gateway/invoke.py) answers invoke requests without FastAPI's
router, so a dependency, parameter, body limit or deprecation added to the route, a
middleware added inside the fast path or a handler for one problem would apply to the
route only. ``fast_path_gaps`` compares the route as the app serves it with
``FAST_PATH_HONOURS`` and names whatever is new; apps built with one such change each show
that the guard sees it. The parity of answers is in test_invoke_parity.py.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import fields
from datetime import date
from pathlib import Path
from typing import Annotated, Any

import pytest
from fastapi import APIRouter, Depends, FastAPI, Header, Request, Response
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute, RouteContext, iter_route_contexts
from starlette.types import ASGIApp, Receive, Scope, Send

from backend.app import create_app
from backend.catalog.exceptions import ServiceNotFound
from backend.contracts.deprecation import deprecated_since
from backend.errors import AppError, install_error_handlers, render_app_error
from backend.gateway.invoke import (
    FAST_PATH_HONOURS,
    InvokeDeclaration,
    InvokeFastPath,
    answer_invoke,
)
from backend.gateway.router import INVOKE_OPENAPI_EXTRA, invoke_service
from backend.settings import Settings

SAMPLE = "/v1/services/sample-code/invoke"


def _dependants(root: Dependant) -> Iterator[Dependant]:
    yield root
    for child in root.dependencies:
        yield from _dependants(child)


def _name(call: Callable[..., Any] | None) -> str:
    return getattr(call, "__qualname__", None) or repr(call)


def declaration_of(app: FastAPI, route: RouteContext) -> InvokeDeclaration:
    """The route's declaration as the app serves it (router and app dependencies merged)."""
    nodes = list(_dependants(route.dependant))
    parsed = {
        (where, param.alias)
        for node in nodes
        for where, params in (
            ("path", node.path_params),
            ("query", node.query_params),
            ("header", node.header_params),
            ("cookie", node.cookie_params),
            ("body", node.body_params),
        )
        for param in params
    }
    special = {
        kind
        for node in nodes
        for kind, parameter in (
            ("request", node.request_param_name),
            ("response", node.response_param_name),
            ("background_tasks", node.background_tasks_param_name),
            ("http_connection", node.http_connection_param_name),
            ("security_scopes", node.security_scopes_param_name),
        )
        if parameter
    }
    operation = app.openapi()["paths"][route.path]["post"]
    return InvokeDeclaration(
        methods=frozenset(route.methods or ()),
        path=str(route.path),
        parsed_params=frozenset(parsed),
        documented_params=frozenset((p["in"], p["name"]) for p in operation.get("parameters", [])),
        security=tuple(tuple(sorted(r)) for r in operation.get("security", [])),
        special_params=frozenset(special),
        dependencies=tuple(_name(node.call) for node in nodes[1:]),
        deprecated=bool(route.deprecated),
        max_body_size=route.max_body_size,
        endpoint_names=frozenset(route.endpoint.__code__.co_names if route.endpoint else ()),
    )


def fast_path_gaps(app: FastAPI) -> list[str]:
    """Everything the route (or the app around it) does that the fast path would skip."""
    gaps: list[str] = []
    routes = [
        r
        for r in iter_route_contexts(app.routes)
        if r.methods and "POST" in r.methods and getattr(r, "path_regex", None)
        if r.path_regex.match(SAMPLE)
    ]
    if len(routes) != 1:
        return [f"{len(routes)} routes take POST {SAMPLE}; the fast path stands in for one"]
    declared = declaration_of(app, routes[0])
    for item in fields(InvokeDeclaration):
        has, honoured = getattr(declared, item.name), getattr(FAST_PATH_HONOURS, item.name)
        if has == honoured:
            continue
        if isinstance(has, frozenset):
            gaps.append(f"{item.name}: new {sorted(has - honoured)}, gone {sorted(honoured - has)}")
        else:
            gaps.append(f"{item.name}: the route has {has!r}, the fast path honours {honoured!r}")
    classes: list[object] = [m.cls for m in app.user_middleware]
    inside = classes[classes.index(InvokeFastPath) + 1 :] if InvokeFastPath in classes else classes
    if InvokeFastPath not in classes or inside:
        names = [getattr(c, "__name__", repr(c)) for c in inside]
        gaps.append(f"middleware the route runs through and the fast path skips: {names}")
    specific = [
        k.__name__
        for k in app.exception_handlers
        if isinstance(k, type) and issubclass(k, AppError) and k is not AppError
    ]
    if specific:
        gaps.append(f"exception handlers the fast path does not use: {sorted(specific)}")
    reference = FastAPI()
    install_error_handlers(reference)  # whose AppError handler renders as the fast path does
    if app.exception_handlers.get(AppError) is not reference.exception_handlers[AppError]:
        gaps.append("AppError is rendered by a handler other than render_app_error's")
    return gaps


def test_the_route_declares_nothing_the_fast_path_skips(tmp_path: Path) -> None:
    app = create_app(Settings(env="test", var_dir=tmp_path / "var", log_level="WARNING"))
    gaps = fast_path_gaps(app)
    assert not gaps, "\n".join(gaps)


def test_x_timeout_ms_is_declared_on_invoke_as_where_fastapi_parses_it(tmp_path: Path) -> None:
    paths = create_app(Settings(env="test", var_dir=tmp_path / "var")).openapi()["paths"]
    invoke = paths["/v1/services/{code}/invoke"]["post"]["parameters"]
    overview = paths["/v1/me/overview"]["get"]["parameters"]
    declared = [p for p in invoke if p["name"] == "x-timeout-ms"]
    assert declared == [p for p in overview if p["name"] == "x-timeout-ms"]
    assert declared[0]["schema"]["anyOf"][0] == {
        "minimum": 50,
        "maximum": 60000,
        "type": "integer",
    }


# The guard itself must see each thing a route can gain: apps built like create_app's
# invoke route, with one change each.


async def _app_dependency() -> None:
    return None


async def _router_dependency() -> None:
    return None


async def _with_header(
    code: str, request: Request, x_channel: Annotated[str | None, Header()] = None
) -> Response:
    return Response(await answer_invoke(request, code), media_type="application/json")


async def _doing_more(code: str, request: Request) -> Response:
    request.state.seen = True  # something the fast path never does
    return Response(await answer_invoke(request, code), media_type="application/json")


class _Inner:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self.app(scope, receive, send)


async def _not_found(request: Request, exc: Exception) -> Response:
    assert isinstance(exc, AppError)
    return render_app_error(request, exc)


def invoke_app(change: str | None = None) -> FastAPI:
    app = FastAPI(dependencies=[Depends(_app_dependency)] if change == "app dependency" else None)
    install_error_handlers(app)
    route_args: dict[str, Any] = {}
    if change == "deprecation":
        since, sunset = date(2027, 1, 4), date(2027, 7, 5)
        route_args = {"deprecated": True, "dependencies": [deprecated_since(since, sunset=sunset)]}
    if change == "body limit":
        route_args = {"max_body_size": 1024}
    endpoint = {"header parameter": _with_header, "endpoint does more": _doing_more}.get(
        change or "", invoke_service
    )
    router = APIRouter(prefix="/v1")
    router.add_api_route(
        "/services/{code}/invoke",
        endpoint,
        methods=["POST"],
        name="invoke_service",
        openapi_extra=INVOKE_OPENAPI_EXTRA,
        **route_args,
    )
    router_dependencies = [Depends(_router_dependency)] if change == "router dependency" else []
    app.include_router(router, dependencies=router_dependencies)
    if change == "middleware inside":
        app.add_middleware(_Inner)
    if change == "specific handler":
        app.add_exception_handler(ServiceNotFound, _not_found)
    route = router.routes[0]
    assert isinstance(route, APIRoute)
    app.add_middleware(InvokeFastPath, route=route)
    return app


def test_the_guard_passes_an_invoke_route_like_the_apps() -> None:
    gaps = fast_path_gaps(invoke_app())
    assert not gaps, "\n".join(gaps)


@pytest.mark.parametrize(
    ("change", "named"),
    [
        ("deprecation", "deprecated_since"),
        ("deprecation", "deprecated: the route has True"),
        ("router dependency", "_router_dependency"),
        ("app dependency", "_app_dependency"),
        ("header parameter", "('header', 'x-channel')"),
        ("body limit", "max_body_size"),
        ("endpoint does more", "endpoint_names: new ['seen', 'state']"),
        ("middleware inside", "['_Inner']"),
        ("specific handler", "['ServiceNotFound']"),
    ],
)
def test_the_guard_names_what_the_route_gained(change: str, named: str) -> None:
    gaps = fast_path_gaps(invoke_app(change))
    assert any(named in gap for gap in gaps), gaps
