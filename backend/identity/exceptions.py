from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from backend.errors import RETRY_AFTER_DOC, AppError

BEARER_CHALLENGE_DOC: Mapping[str, Mapping[str, Any]] = {
    "WWW-Authenticate": {
        "description": (
            'Bearer 质询；`error="invalid_token"` 表示应刷新令牌 / The bearer challenge'
            ' (RFC 6750): with `error="invalid_token"`, refresh the token and retry'
        ),
        "schema": {"type": "string"},
    }
}


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


class InvalidToken(AppError):
    status = 401
    code = "TOKEN_INVALID"
    title_zh = "登录凭证无效或已过期"
    title_en = "Invalid or expired token"
    headers_doc = BEARER_CHALLENGE_DOC


class OtpInvalid(AppError):
    status = 401
    code = "OTP_INVALID"
    title_zh = "验证码错误或已失效"
    title_en = "Invalid or expired verification code"


class InvalidCredentials(AppError):
    status = 401
    code = "INVALID_CREDENTIALS"
    title_zh = "手机号或密码错误"
    title_en = "Wrong phone number or password"


class RefreshTokenInvalid(AppError):
    status = 401
    code = "REFRESH_TOKEN_INVALID"
    title_zh = "刷新凭证无效，请重新登录"
    title_en = "Invalid refresh token; sign in again"


class RefreshTokenReused(AppError):
    status = 401
    code = "REFRESH_TOKEN_REUSED"
    title_zh = "刷新凭证被重复使用，该设备已退出登录"
    title_en = "Refresh token reused; this device has been signed out"


class RateLimited(AppError):
    status = 429
    code = "RATE_LIMITED"
    title_zh = "操作过于频繁，请稍后再试"
    title_en = "Too many requests; try again later"
    headers_doc = RETRY_AFTER_DOC


class SessionNotFound(AppError):
    status = 404
    code = "SESSION_NOT_FOUND"
    title_zh = "登录设备不存在"
    title_en = "Session not found"


class RecentLoginRequired(AppError):
    status = 403
    code = "RECENT_LOGIN_REQUIRED"
    title_zh = "请重新验证身份后查看"
    title_en = "Sign in again to see this"


class RealNameMismatch(AppError):
    status = 422
    code = "REAL_NAME_MISMATCH"
    title_zh = "姓名与身份证号码不匹配"
    title_en = "Name and ID number do not match"


class IdNumberInUse(AppError):
    status = 409
    code = "ID_NUMBER_IN_USE"
    title_zh = "该身份证号码已绑定其他账号"
    title_en = "This ID number belongs to another account"


class BindingTicketInvalid(AppError):
    status = 401
    code = "BINDING_TICKET_INVALID"
    title_zh = "绑定凭证无效或已过期，请重新登录小程序"
    title_en = "Invalid or expired binding ticket; sign in to the mini-program again"


class RealNameRequired(AppError):
    status = 403
    code = "ASSURANCE_LEVEL_TOO_LOW"
    title_zh = "请先完成实名认证"
    title_en = "Verify your real name first"

    def __init__(self) -> None:
        super().__init__("Face verification needs a verified real name (L2)", required_level=2)


class FaceMismatch(AppError):
    status = 422
    code = "FACE_MISMATCH"
    title_zh = "人脸比对未通过"
    title_en = "Face does not match"


def retry_after(seconds: float) -> dict[str, str]:
    return {"Retry-After": str(max(1, round(seconds)))}
