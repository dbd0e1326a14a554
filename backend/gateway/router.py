"""Invoking services and the home-screen overview."""

from __future__ import annotations

import json
import time
from typing import Any

from fastapi import APIRouter, Request, Response

from backend.catalog.exceptions import ServiceNotFound
from backend.errors import ValidationFailed, problem_responses
from backend.gateway.dependencies import DeadlineDep, GatewayDep, deadline_from
from backend.gateway.exceptions import (
    AdapterBadResponseProblem,
    AdapterTimeoutProblem,
    AdapterUnavailableProblem,
    DepartmentRejected,
)
from backend.gateway.overview import build_overview
from backend.gateway.schemas import InvokeResponse, Overview
from backend.gateway.service import require_level
from backend.identity.dependencies import CurrentCaller, optional_caller_from
from backend.identity.exceptions import AssuranceLevelTooLow, AuthenticationRequired

router = APIRouter(prefix="/v1", tags=["gateway"])

_ADAPTER_PROBLEMS = (
    AdapterTimeoutProblem,
    AdapterUnavailableProblem,
    AdapterBadResponseProblem,
)


async def invoke_params(request: Request) -> dict[str, Any]:
    """The ``params`` of an invoke body, parsed by hand (see ``invoke_service``)."""
    raw = await request.body()
    if not raw.strip():
        return {}
    try:
        body = json.loads(raw)
    except (ValueError, UnicodeDecodeError):
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


INVOKE_REQUEST_BODY: dict[str, Any] = {
    "requestBody": {
        "required": False,
        "content": {"application/json": {"schema": {"$ref": "#/components/schemas/InvokeRequest"}}},
    }
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
        ServiceNotFound, AssuranceLevelTooLow, DepartmentRejected, *_ADAPTER_PROBLEMS
    ),
    openapi_extra=INVOKE_REQUEST_BODY,
)
async def invoke_service(code: str, request: Request) -> Response:
    # The hottest route of the API: state is read directly rather than through four
    # dependencies, and the answer is serialized once here (FastAPI would validate the
    # returned model again). Measured in bench/gateway_invoke.py.
    state = request.app.state
    service = state.catalog.snapshot.service(code)
    caller = optional_caller_from(request)
    deadline = deadline_from(request)
    params = await invoke_params(request)
    body = await state.gateway.invoke(service, params, caller, deadline)
    return Response(body, media_type="application/json")


@router.get(
    "/me/overview",
    response_model=Overview,
    summary="首页概览 / Home-screen overview",
    description=(
        "社保、公积金、医保余额，交通违法与记分，近期预约；各部分独立返回状态，整体受时限约束。"
        " Balances, traffic violations and points, upcoming appointments: fetched at once,"
        " each section with its own status, the whole answer bounded by one deadline."
    ),
    responses=problem_responses(AuthenticationRequired, AssuranceLevelTooLow),
)
async def overview(
    request: Request, gateway: GatewayDep, caller: CurrentCaller, deadline: DeadlineDep
) -> Overview:
    require_level(caller, 2)
    budget = min(request.app.state.settings.overview_deadline, deadline - time.monotonic())
    return await build_overview(gateway, caller, budget)
