"""How department failures reach clients: 502/503/504 problems, never a 500 or a raw body."""

from __future__ import annotations

from backend.errors import RETRY_AFTER_DOC, AppError


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


class ServiceNotInvocable(AppError):
    status = 409
    code = "SERVICE_NOT_INVOCABLE"
    title_zh = "该服务暂不支持在线办理"
    title_en = "This service cannot be used online"
