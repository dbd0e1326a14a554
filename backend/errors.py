"""Typed application errors rendered as RFC 9457 ``application/problem+json``.

Every error the API returns carries a stable machine ``code`` that clients branch
on, a ``title`` in zh-CN or English chosen by ``Accept-Language``, and the
``request_id`` that also appears in our logs. Routes raise ``AppError``
subclasses; one handler renders them, so no route builds an error body by hand.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any, ClassVar

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pydantic import BaseModel, ConfigDict, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from backend.request_context import current_request_id

PROBLEM_CONTENT_TYPE = "application/problem+json"
PROBLEM_TYPE_BASE = "https://api.hefeitong.gov.cn/problems/"


class AppError(Exception):
    """Base of every error the API reports on purpose."""

    status: ClassVar[int] = 500
    code: ClassVar[str] = "INTERNAL_ERROR"
    title_zh: ClassVar[str] = "服务器内部错误"
    title_en: ClassVar[str] = "Internal server error"
    # Response headers the problem may carry, as OpenAPI header objects (clients act on
    # them: Retry-After for a countdown, WWW-Authenticate to refresh the token).
    headers_doc: ClassVar[Mapping[str, Mapping[str, Any]]] = {}

    def __init__(
        self,
        detail: str | None = None,
        *,
        headers: Mapping[str, str] | None = None,
        **extensions: Any,
    ) -> None:
        super().__init__(detail or self.title_en)
        self.detail = detail
        self.headers = dict(headers or {})
        self.extensions = extensions


class BadRequest(AppError):
    status = 400
    code = "BAD_REQUEST"
    title_zh = "请求无效"
    title_en = "Bad request"


class NotFound(AppError):
    status = 404
    code = "NOT_FOUND"
    title_zh = "资源不存在"
    title_en = "Not found"


class ValidationFailed(AppError):
    status = 422
    code = "VALIDATION_FAILED"
    title_zh = "请求参数校验失败"
    title_en = "Request validation failed"


class ServiceUnavailable(AppError):
    status = 503
    code = "SERVICE_UNAVAILABLE"
    title_zh = "服务暂时不可用"
    title_en = "Service temporarily unavailable"


class ProblemField(BaseModel):
    """One offending input field of a validation problem."""

    location: list[str | int] = Field(description="Where the field is, e.g. ['query', 'page_size']")
    message: str
    type: str


class Problem(BaseModel):
    """RFC 9457 problem details, as every error response of this API."""

    # An expired access token; a body field that failed validation; a service that needs a
    # higher assurance level (its extension members tell the app which step is missing).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "type": PROBLEM_TYPE_BASE + "token-invalid",
                    "title": "登录凭证无效或已过期",
                    "status": 401,
                    "detail": "token expired",
                    "code": "TOKEN_INVALID",
                    "request_id": "6e43a28eb5cb07a17984c18065effc97",
                },
                {
                    "type": PROBLEM_TYPE_BASE + "validation-failed",
                    "title": "请求参数校验失败",
                    "status": 422,
                    "detail": "Invalid fields: phone",
                    "code": "VALIDATION_FAILED",
                    "request_id": "56a21fd516f951c0deeab03f408f6e15",
                    "errors": [
                        {
                            "location": ["body", "phone"],
                            "message": "手机号码格式不正确 / not a valid mainland mobile number",
                            "type": "phone_number",
                        }
                    ],
                },
                {
                    "type": PROBLEM_TYPE_BASE + "assurance-level-too-low",
                    "title": "身份认证等级不足",
                    "status": 403,
                    "detail": (
                        "This service needs assurance level L2 (L2 实名认证); the caller has L1"
                    ),
                    "code": "ASSURANCE_LEVEL_TOO_LOW",
                    "request_id": "0f9d3c2b7a6e4d1c8b5a4f3e2d1c0b9a",
                    "required_level": 2,
                    "current_level": 1,
                },
            ]
        }
    )

    type: str = Field(examples=[PROBLEM_TYPE_BASE + "service-not-found"])
    title: str = Field(examples=["服务事项不存在"])
    status: int = Field(examples=[404])
    detail: str | None = None
    code: str = Field(description="Stable machine-readable code", examples=["SERVICE_NOT_FOUND"])
    request_id: str | None = None
    errors: list[ProblemField] | None = None


def prefers_english(accept_language: str | None) -> bool:
    """True when the client's highest-weighted language is English; zh-CN is the default."""
    if not accept_language:
        return False
    best_lang, best_q = "", -1.0
    for part in accept_language.split(","):
        lang, _, params = part.strip().partition(";")
        q = 1.0
        if params.strip().startswith("q="):
            try:
                q = float(params.strip()[2:])
            except ValueError:
                q = 0.0
        if q > best_q:
            best_lang, best_q = lang.strip().lower(), q
    return best_lang.startswith("en")


def problem_response(
    request: Request,
    *,
    status: int,
    code: str,
    title_zh: str,
    title_en: str,
    detail: str | None = None,
    headers: Mapping[str, str] | None = None,
    extensions: Mapping[str, Any] | None = None,
    errors: Sequence[Mapping[str, Any]] | None = None,
) -> JSONResponse:
    english = prefers_english(request.headers.get("accept-language"))
    body: dict[str, Any] = {
        "type": PROBLEM_TYPE_BASE + code.lower().replace("_", "-"),
        "title": title_en if english else title_zh,
        "status": status,
        "code": code,
        "request_id": current_request_id(),
    }
    if detail:
        body["detail"] = detail
    if errors is not None:
        body["errors"] = list(errors)
    if extensions:
        body.update(extensions)
    response_headers = {"Content-Language": "en" if english else "zh-CN", **(headers or {})}
    return JSONResponse(
        body, status_code=status, headers=response_headers, media_type=PROBLEM_CONTENT_TYPE
    )


def render_app_error(request: Request, exc: AppError) -> JSONResponse:
    """The problem response for an ``AppError`` (also used outside FastAPI's handlers)."""
    return problem_response(
        request,
        status=exc.status,
        code=exc.code,
        title_zh=exc.title_zh,
        title_en=exc.title_en,
        detail=exc.detail,
        headers=exc.headers,
        extensions=exc.extensions,
    )


async def _handle_validation_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, RequestValidationError)
    fields = [
        {
            "location": [str(p) if not isinstance(p, int) else p for p in err.get("loc", ())],
            "message": str(err.get("msg", "")),
            "type": str(err.get("type", "")),
        }
        for err in exc.errors()
    ]
    names = ", ".join(".".join(str(p) for p in f["location"][1:]) or "body" for f in fields)
    return problem_response(
        request,
        status=ValidationFailed.status,
        code=ValidationFailed.code,
        title_zh=ValidationFailed.title_zh,
        title_en=ValidationFailed.title_en,
        detail=f"Invalid fields: {names}",
        errors=fields,
    )


# Framework-level HTTP errors (unknown path, wrong method) get the same shape.
_HTTP_CODES: dict[int, tuple[str, str]] = {
    404: ("NOT_FOUND", "资源不存在"),
    405: ("METHOD_NOT_ALLOWED", "不支持的请求方法"),
    406: ("NOT_ACCEPTABLE", "无法提供所请求的格式"),
    415: ("UNSUPPORTED_MEDIA_TYPE", "不支持的内容类型"),
}


async def _handle_http_exception(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, StarletteHTTPException)
    if exc.status_code == 400 and isinstance(exc.__cause__, UnicodeDecodeError):
        # FastAPI answers a JSON body that is not UTF-8 with a bare 400, but one that is not
        # JSON with a 422: the same mistake, reported the way every route declares it.
        return problem_response(
            request,
            status=ValidationFailed.status,
            code=ValidationFailed.code,
            title_zh=ValidationFailed.title_zh,
            title_en=ValidationFailed.title_en,
            detail="Invalid fields: body",
            errors=[{"location": ["body"], "message": "Not UTF-8 text", "type": "json_invalid"}],
        )
    code, title_zh = _HTTP_CODES.get(exc.status_code, ("HTTP_ERROR", "请求错误"))
    title_en = HTTPStatus(exc.status_code).phrase
    detail = exc.detail if isinstance(exc.detail, str) and exc.detail != title_en else None
    return problem_response(
        request,
        status=exc.status_code,
        code=code,
        title_zh=title_zh,
        title_en=title_en,
        detail=detail,
        headers=exc.headers,
    )


async def _handle_unexpected(request: Request, exc: Exception) -> JSONResponse:
    # The traceback goes to the log (see observability); the client only gets the request id.
    return problem_response(
        request,
        status=500,
        code=AppError.code,
        title_zh=AppError.title_zh,
        title_en=AppError.title_en,
    )


async def _handle_app_error(request: Request, exc: Exception) -> JSONResponse:
    assert isinstance(exc, AppError)
    return render_app_error(request, exc)


def install_error_handlers(app: FastAPI) -> None:
    app.add_exception_handler(AppError, _handle_app_error)
    app.add_exception_handler(RequestValidationError, _handle_validation_error)
    app.add_exception_handler(StarletteHTTPException, _handle_http_exception)
    app.add_exception_handler(Exception, _handle_unexpected)


def problem_responses(*errors: type[AppError]) -> dict[int | str, dict[str, Any]]:
    """``responses=`` entry for a route, so its problems appear in the OpenAPI document."""
    by_status: dict[int, list[type[AppError]]] = {}
    every: tuple[type[AppError], ...] = (*errors, ValidationFailed)
    for err in every:
        by_status.setdefault(err.status, []).append(err)
    responses: dict[int | str, dict[str, Any]] = {}
    for status, errs in sorted(by_status.items()):
        response: dict[str, Any] = {
            "content": {PROBLEM_CONTENT_TYPE: {"schema": {"$ref": "#/components/schemas/Problem"}}},
            "description": "; ".join(f"`{e.code}`: {e.title_en} / {e.title_zh}" for e in errs),
        }
        headers = {name: dict(doc) for e in errs for name, doc in e.headers_doc.items()}
        if headers:
            response["headers"] = headers
        responses[status] = response
    return responses


RETRY_AFTER_DOC: Mapping[str, Mapping[str, Any]] = {
    "Retry-After": {
        "description": "几秒后可以重试 / Seconds to wait before trying again (RFC 9110)",
        "schema": {"type": "integer", "minimum": 1},
    }
}
