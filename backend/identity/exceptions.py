from __future__ import annotations

from backend.errors import AppError


class AuthenticationRequired(AppError):
    status = 401
    code = "AUTHENTICATION_REQUIRED"
    title_zh = "请先登录"
    title_en = "Authentication required"


class InvalidDevIdentity(AppError):
    status = 400
    code = "INVALID_DEV_IDENTITY"
    title_zh = "开发身份标头无效"
    title_en = "Invalid development identity header"


class AssuranceLevelTooLow(AppError):
    status = 403
    code = "ASSURANCE_LEVEL_TOO_LOW"
    title_zh = "身份认证等级不足"
    title_en = "Identity assurance level too low"
