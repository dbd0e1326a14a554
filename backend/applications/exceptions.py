from __future__ import annotations

from backend.errors import RETRY_AFTER_DOC, AppError, NotFound


class ApplicationNotFound(AppError):
    status = 404
    code = "APPLICATION_NOT_FOUND"
    title_zh = "办件不存在"
    title_en = "Application not found"


class NotAnApplicationService(AppError):
    status = 422
    code = "NOT_AN_APPLICATION_SERVICE"
    title_zh = "该服务事项不支持在线申请"
    title_en = "This service does not take applications"


class FormInvalid(AppError):
    status = 422
    code = "FORM_INVALID"
    title_zh = "申请表填写有误"
    title_en = "The application form has errors"


class MaterialInvalid(AppError):
    status = 422
    code = "MATERIAL_INVALID"
    title_zh = "材料无效"
    title_en = "A material is not valid"


class IdempotencyKeyReused(AppError):
    status = 422
    code = "IDEMPOTENCY_KEY_REUSED"
    title_zh = "同一幂等键对应了不同的申请内容"
    title_en = "This Idempotency-Key was used with a different request"


class IdempotencyInFlight(AppError):
    status = 409
    code = "IDEMPOTENCY_IN_FLIGHT"
    title_zh = "相同的申请正在提交中"
    title_en = "The same submission is still being processed"
    headers_doc = RETRY_AFTER_DOC


class IdempotencyKeyRequired(AppError):
    status = 400
    code = "IDEMPOTENCY_KEY_REQUIRED"
    title_zh = "缺少 Idempotency-Key 请求头"
    title_en = "The Idempotency-Key header is required"


class NotAReviewer(AppError):
    status = 403
    code = "NOT_A_REVIEWER"
    title_zh = "本部门无权进行此操作"
    title_en = "This department cannot do that for this application"


class NotRatable(AppError):
    status = 409
    code = "NOT_RATABLE"
    title_zh = "办结后方可评价，且每件只能评价一次"
    title_en = "Only a completed application can be rated, once"


class RectificationNotFound(AppError):
    status = 404
    code = "RECTIFICATION_NOT_FOUND"
    title_zh = "整改事项不存在"
    title_en = "Rectification item not found"


class RectificationClosed(AppError):
    status = 409
    code = "RECTIFICATION_CLOSED"
    title_zh = "该整改事项已办结"
    title_en = "This rectification is resolved already"


class MessageNotFound(NotFound):
    code = "MESSAGE_NOT_FOUND"
    title_zh = "消息不存在"
    title_en = "Message not found"
