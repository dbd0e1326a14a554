from __future__ import annotations

from backend.errors import NotFound


class ServiceNotFound(NotFound):
    code = "SERVICE_NOT_FOUND"
    title_zh = "服务事项不存在"
    title_en = "Service not found"


class LifeEventNotFound(NotFound):
    code = "LIFE_EVENT_NOT_FOUND"
    title_zh = "“一件事”主题不存在"
    title_en = "Life event not found"
