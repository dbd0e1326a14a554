"""How department failures reach clients: 502/503/504 problems, never a 500 or a raw body.

Core, not the gateway's: every feature that calls a department (the gateway's invoke and
overview, identity's SMS and real-name checks, applications' e-licence lookups) reports
its failures the same way, and identity must not depend on the gateway for it.
"""

from __future__ import annotations

from backend.errors import RETRY_AFTER_DOC, AppError, ValidationFailed
from integrations.base import (
    AdapterBadResponse,
    AdapterError,
    AdapterTimeout,
    AdapterUnavailable,
    InvalidParameters,
    RequestRejected,
    UnknownOperation,
)


class AdapterTimeoutProblem(AppError):
    status = 504
    code = "ADAPTER_TIMEOUT"
    title_zh = "部门系统响应超时"
    title_en = "The department's system did not answer in time"


class AdapterUnavailableProblem(AppError):
    status = 503
    code = "ADAPTER_UNAVAILABLE"
    title_zh = "部门系统暂时不可用"
    title_en = "The department's system is temporarily unavailable"
    headers_doc = RETRY_AFTER_DOC


class AdapterBadResponseProblem(AppError):
    status = 502
    code = "ADAPTER_BAD_RESPONSE"
    title_zh = "部门系统返回了无法识别的结果"
    title_en = "The department's system sent a reply we could not use"


class DepartmentRejected(AppError):
    status = 422
    code = "DEPARTMENT_REJECTED"
    title_zh = "部门未受理该请求"
    title_en = "The department refused the request"


# The failures a client may see from any call to a department (declared in `responses=`).
ADAPTER_PROBLEMS = (AdapterTimeoutProblem, AdapterUnavailableProblem, AdapterBadResponseProblem)


def problem_for(exc: AdapterError) -> AppError:
    """The client-facing problem for an adapter failure (no upstream body ever included)."""
    if isinstance(exc, AdapterTimeout):
        return AdapterTimeoutProblem(f"{exc.adapter_id} did not answer in time")
    if isinstance(exc, AdapterUnavailable):
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return AdapterUnavailableProblem(f"{exc.adapter_id} is unavailable", headers=headers)
    if isinstance(exc, AdapterBadResponse):
        return AdapterBadResponseProblem(f"{exc.adapter_id} sent an unusable reply")
    if isinstance(exc, RequestRejected):
        return DepartmentRejected(exc.message, upstream_code=exc.upstream_code)
    if isinstance(exc, InvalidParameters):
        return ValidationFailed("Invalid parameters for this service", errors=exc.errors)
    if isinstance(exc, UnknownOperation):
        return AdapterUnavailableProblem(f"{exc.adapter_id}.{exc.operation} is not configured")
    return AdapterUnavailableProblem(str(exc))
