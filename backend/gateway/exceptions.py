"""The gateway's own problems (department failures are in backend/department_problems.py)."""

from __future__ import annotations

from backend.errors import AppError


class ServiceNotInvocable(AppError):
    status = 409
    code = "SERVICE_NOT_INVOCABLE"
    title_zh = "该服务暂不支持在线办理"
    title_en = "This service cannot be used online"
