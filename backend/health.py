"""Liveness, readiness and metrics endpoints (outside /v1: they are for operators)."""

from __future__ import annotations

import asyncio
import hmac

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from pydantic import BaseModel
from starlette.exceptions import HTTPException

from backend import db
from backend.errors import AppError, problem_response
from backend.state import CoreStateDep

router = APIRouter(tags=["operations"])

READY_TIMEOUT = 2.0


class Health(BaseModel):
    status: str


class Readiness(BaseModel):
    status: str
    checks: dict[str, str]


@router.get(
    "/healthz",
    response_model=Health,
    summary="进程存活 / Process is up",
    description=(
        "存活探针：进程在运行即返回 ok，不检查依赖；无需凭证。"
        " Liveness probe for load balancers and orchestrators: `ok` while the process runs,"
        " dependencies not checked. No credentials."
    ),
)
async def healthz() -> Health:
    return Health(status="ok")


@router.get(
    "/readyz",
    response_model=Readiness,
    summary="依赖就绪 / Database and KV store reachable",
    description=(
        "就绪探针：检查数据库与键值存储能否访问；任一不可达时返回503问题详情，"
        "`failing` 列出失败项。无需凭证。"
        " Readiness probe: checks that the database and the KV store answer; when one does not, a"
        " 503 problem whose `failing` names it. No credentials."
    ),
    responses={503: {"description": "A dependency is unreachable; `failing` names it"}},
)
async def readyz(request: Request, state: CoreStateDep) -> Response:
    checks: dict[str, str] = {}
    for name, probe in (("database", db.ping(state.engine)), ("kv", state.kv.ping())):
        try:
            await asyncio.wait_for(probe, READY_TIMEOUT)
            checks[name] = "ok"
        except Exception as exc:  # any failure means not ready; the kind is reported
            checks[name] = f"unavailable: {type(exc).__name__}"
    failing = [name for name, result in checks.items() if result != "ok"]
    if failing:
        return problem_response(
            request,
            status=503,
            code="NOT_READY",
            title_zh="服务未就绪",
            title_en="Not ready",
            detail="Unreachable: " + ", ".join(failing),
            extensions={"failing": failing, "checks": checks},
        )
    return JSONResponse({"status": "ok", "checks": checks})


class MetricsTokenInvalid(AppError):
    status = 401
    code = "METRICS_TOKEN_INVALID"
    title_zh = "监控指标需要有效的令牌"
    title_en = "Metrics need a valid bearer token"


@router.get("/metrics", include_in_schema=False)
async def metrics(request: Request, state: CoreStateDep) -> Response:
    """Prometheus metrics: behind HEFEITONG_METRICS_TOKEN when one is set; without one,
    public outside production and not served in production (route names and request
    counts tell an attacker what is used and what fails)."""
    token = state.settings.metrics_token
    if token is not None:
        scheme, _, presented = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(
            presented.strip().encode(), token.encode()
        ):
            raise MetricsTokenInvalid(headers={"WWW-Authenticate": 'Bearer realm="metrics"'})
    elif state.settings.env == "production":
        raise HTTPException(status_code=404)  # the answer of a path that does not exist
    body, content_type = state.metrics.render()
    return Response(body, media_type=content_type)
