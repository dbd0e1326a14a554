"""Invoking services and the home-screen overview."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.routing import APIRoute

from backend.catalog import ServiceNotFound
from backend.department_problems import ADAPTER_PROBLEMS, DepartmentRejected
from backend.errors import problem_responses
from backend.gateway.dependencies import TIMEOUT_HEADER_PARAMETER, DeadlineDep, GatewayDep
from backend.gateway.invoke import answer_invoke
from backend.gateway.overview import build_overview
from backend.gateway.schemas import InvokeResponse, Overview
from backend.identity import (
    AssuranceLevelTooLow,
    AuthenticationRequired,
    CurrentCaller,
    InvalidToken,
    require_level,
)
from backend.state import SettingsDep

router = APIRouter(prefix="/v1", tags=["gateway"])

# What answer_invoke reads by itself, so no parameter or dependency of the route declares
# it (InvokeFastPath answers without FastAPI's parsing; see invoke.py), documented here.
INVOKE_OPENAPI_EXTRA: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InvokeRequest"}}},
    },
    "parameters": [TIMEOUT_HEADER_PARAMETER],
    # Signing in is optional here: public services answer anyone.
    "security": [{"CitizenToken": []}, {}],
}


@router.post(
    "/services/{code}/invoke",
    response_model=InvokeResponse,
    summary="调用服务 / Invoke a service",
    description=(
        "通过部门系统适配器调用服务；查询结果按市民缓存，部门故障时返回近期缓存（stale）。"
        " Calls the department's system for this service. Query answers are cached per citizen;"
        " when the department fails a recent answer is served marked `stale`."
        " An `X-Timeout-Ms` header (50–60000) shortens the time budget of the call."
    ),
    responses=problem_responses(
        InvalidToken, ServiceNotFound, AssuranceLevelTooLow, DepartmentRejected, *ADAPTER_PROBLEMS
    ),
    openapi_extra=INVOKE_OPENAPI_EXTRA,
)
async def invoke_service(code: str, request: Request) -> Response:
    # Normally answered by InvokeFastPath before the router (see invoke.py); this route
    # documents the operation and serves any request the fast path does not match.
    return Response(await answer_invoke(request, code), media_type="application/json")


@router.get(
    "/me/overview",
    response_model=Overview,
    summary="首页概览 / Home-screen overview",
    description=(
        "社保、公积金、医保余额，交通违法与记分，近期预约；各部分独立返回状态，整体受时限约束。"
        " Balances, traffic violations and points, upcoming appointments: fetched at once,"
        " each section with its own status, the whole answer bounded by one deadline."
    ),
    responses=problem_responses(AuthenticationRequired, InvalidToken, AssuranceLevelTooLow),
)
async def overview(
    gateway: GatewayDep, caller: CurrentCaller, deadline: DeadlineDep, settings: SettingsDep
) -> Response:
    require_level(caller, 2)
    budget = min(settings.overview_deadline, deadline - time.monotonic())
    result = await build_overview(gateway, caller, budget)
    # Serialized here: FastAPI would validate the model it was just built from again.
    return Response(result.model_dump_json(), media_type="application/json")


invoke_route = next(
    r for r in router.routes if isinstance(r, APIRoute) and r.name == "invoke_service"
)
