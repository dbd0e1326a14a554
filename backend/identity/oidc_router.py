"""OpenID Provider endpoints: authorize (pages), code → tokens, userinfo, consents."""

from __future__ import annotations

import hmac
import re
import secrets
from typing import Annotated, Any
from urllib.parse import urlencode, urlsplit

from fastapi import APIRouter, Cookie, Form, Request, Response
from fastapi.responses import HTMLResponse, RedirectResponse

from backend.db import SessionDep
from backend.errors import AppError, problem_responses
from backend.identity import oidc, otp
from backend.identity.auth import CurrentCitizen, IdentityDep
from backend.identity.exceptions import InvalidToken, RateLimited
from backend.identity.pages import consent_page, error_page, sign_in_page
from backend.identity.requester import requester_of
from backend.identity.service import LOGIN, Identity
from backend.identity.validators import normalize_phone

router = APIRouter(tags=["oauth2"])
SSO_COOKIE = "hft_sso"
# The browser a pending sign-in belongs to (see _sign_in_csrf); a session cookie.
BROWSER_COOKIE = "hft_oidc"
_BROWSER_TOKEN = re.compile(r"^[A-Za-z0-9_-]{43}$")


class ConsentNotFound(AppError):
    status = 404
    code = "CONSENT_NOT_FOUND"
    title_zh = "授权记录不存在"
    title_en = "Consent not found"


# The pages answer HTML; the code still names the refusal, for support and for tests.
FORM_REFUSED = "CSRF_CHECK_FAILED"


def _expired() -> HTMLResponse:
    return HTMLResponse(error_page("登录请求已过期，请返回重新发起。"), status_code=400)


def _refused() -> HTMLResponse:
    page = error_page("请求无效或来源不符，请返回重新发起。", code=FORM_REFUSED)
    return HTMLResponse(page, status_code=403)


def _redirect_with(uri: str, **params: str) -> RedirectResponse:
    separator = "&" if "?" in uri else "?"
    return RedirectResponse(
        uri + separator + urlencode({k: v for k, v in params.items() if v}), status_code=303
    )


# --- forms that only our own pages can post ----------------------------------------------
# Sign-in CSRF: without these checks another site could post its own pending request and
# its own phone's code from a victim's browser, signing the victim in as the attacker. Each
# form carries a token bound to the authorize request *and* to this browser's cookie
# (SameSite=Lax, so not sent on another site's POST); a browser's Origin, when it sends one,
# must be ours.


def _secure(identity: Identity) -> bool:
    return identity.tokens.issuer.startswith("https://")


def _sign_in_csrf(identity: Identity, browser: str, request_id: str) -> str:
    return oidc.csrf_token(identity, "sign-in:" + browser, request_id)


def _from_our_pages(request: Request, identity: Identity) -> bool:
    if request.headers.get("sec-fetch-site") == "cross-site":
        return False
    origin = request.headers.get("origin")
    if origin is None:
        return True  # not a browser, or one too old to say: the token decides
    issuer = urlsplit(identity.tokens.issuer)
    ours = {f"{issuer.scheme}://{issuer.netloc}"}
    host = request.headers.get("host")
    return origin in ours or (host is not None and urlsplit(origin).netloc == host)


def _sign_in_form_ok(
    request: Request, identity: Identity, browser: str | None, request_id: str, csrf: str
) -> bool:
    if not _from_our_pages(request, identity) or not browser:
        return False
    return hmac.compare_digest(csrf, _sign_in_csrf(identity, browser, request_id))


def _with_browser_cookie(response: Response, identity: Identity, browser: str) -> Response:
    response.set_cookie(
        BROWSER_COOKIE,
        browser,
        httponly=True,
        samesite="lax",
        secure=_secure(identity),
        path="/oauth2",
    )
    return response


@router.get(
    "/oauth2/authorize",
    response_class=HTMLResponse,
    summary="授权 / Authorize",
    description=(
        "浏览器授权码流程（须 PKCE S256）的入口：按需显示短信登录页或授权同意页，"
        "随后303重定向回接入方的 `redirect_uri`，附 code 或 error。"
        " Start of the browser's authorization-code flow (PKCE S256 required): shows the SMS"
        " sign-in or the consent page as needed, then redirects (303) to the client's"
        " `redirect_uri` with a `code` or an `error`. A request that cannot be sent back (unknown"
        " client or redirect URI) gets an HTML error page (400)."
    ),
    responses={
        303: {"description": "Back to the client's redirect_uri with a code or an error"},
        400: {
            "content": {"text/html": {"schema": {"type": "string"}}},
            "description": "An error page: the request cannot be sent back to the client",
        },
    },
)
async def authorize(
    request: Request,
    db: SessionDep,
    identity: IdentityDep,
    hft_sso: Annotated[str | None, Cookie()] = None,
    hft_oidc: Annotated[str | None, Cookie()] = None,
) -> Response:
    params = dict(request.query_params)
    try:
        pending = await oidc.validate_request(db, params)
    except oidc.AuthorizePageError as exc:
        return HTMLResponse(error_page(str(exc)), status_code=400)
    except oidc.AuthorizeError as exc:
        return _redirect_with(
            params["redirect_uri"],
            error=exc.error,
            error_description=exc.description,
            state=params.get("state", ""),
        )
    request_id = await oidc.remember_request(identity, pending)
    # One cookie per browser, kept across requests: a second tab must not void the first.
    browser = hft_oidc if hft_oidc and _BROWSER_TOKEN.match(hft_oidc) else None
    browser = browser or secrets.token_urlsafe(32)
    response = await _continue(request_id, pending, db, identity, hft_sso, browser)
    return _with_browser_cookie(response, identity, browser)


async def _continue(
    request_id: str,
    pending: oidc.AuthorizationRequest,
    db: SessionDep,
    identity: IdentityDep,
    sso_token: str | None,
    browser: str,
) -> Response:
    sso = await oidc.browser_session(identity, sso_token)
    sign_in = sign_in_page(
        request_id, pending.client_name, csrf=_sign_in_csrf(identity, browser, request_id)
    )
    if sso is None or sso_token is None:
        return HTMLResponse(sign_in)
    citizen = await identity.find_citizen(db, sso["citizen_id"])
    if citizen is None:
        return HTMLResponse(sign_in)
    if "idcard" in pending.scopes and citizen.assurance_level < 2:
        return _redirect_with(
            pending.redirect_uri,
            error="access_denied",
            error_description="idcard needs a real-name verified account (L2)",
            state=pending.state,
        )
    if set(pending.scopes) <= await oidc.granted_scopes(db, citizen.id, pending.client_id):
        code = await oidc.issue_code(identity, pending, citizen.id, sso["auth_time"])
        return _redirect_with(pending.redirect_uri, code=code, state=pending.state)
    csrf = oidc.csrf_token(identity, sso_token, request_id)
    return HTMLResponse(consent_page(request_id, pending.client_name, pending.scopes, csrf))


@router.post("/oauth2/sign-in/code", response_class=HTMLResponse, include_in_schema=False)
async def sign_in_code(
    request: Request,
    identity: IdentityDep,
    request_id: Annotated[str, Form(alias="request", max_length=64)],
    phone: Annotated[str, Form(max_length=32)],
    csrf: Annotated[str, Form(max_length=128)] = "",
    hft_oidc: Annotated[str | None, Cookie()] = None,
) -> Response:
    pending = await oidc.pending_request(identity, request_id)
    if pending is None:
        return _expired()
    if not _sign_in_form_ok(request, identity, hft_oidc, request_id, csrf):
        return _refused()
    assert hft_oidc is not None  # _sign_in_form_ok checked it

    def page(phone_value: str, message: str, code_sent: bool = False) -> str:
        return sign_in_page(
            request_id, pending.client_name, phone_value, message, code_sent, csrf=csrf
        )

    try:
        normalized = normalize_phone(phone)
    except ValueError:
        return HTMLResponse(page(phone, "手机号码格式不正确"), status_code=422)
    try:
        await identity.send_login_code(normalized, requester_of(request))
    except RateLimited:
        return HTMLResponse(page(normalized, "发送过于频繁，请稍后再试", True), status_code=429)
    return HTMLResponse(page(normalized, "验证码已发送", True))


@router.post("/oauth2/sign-in", include_in_schema=False)
async def sign_in(
    request: Request,
    db: SessionDep,
    identity: IdentityDep,
    request_id: Annotated[str, Form(alias="request", max_length=64)],
    phone: Annotated[str, Form(max_length=32)],
    code: Annotated[str, Form(max_length=6)],
    csrf: Annotated[str, Form(max_length=128)] = "",
    hft_oidc: Annotated[str | None, Cookie()] = None,
) -> Response:
    pending = await oidc.pending_request(identity, request_id)
    if pending is None:
        return _expired()
    if not _sign_in_form_ok(request, identity, hft_oidc, request_id, csrf):
        return _refused()
    assert hft_oidc is not None  # _sign_in_form_ok checked it
    try:
        normalized = normalize_phone(phone)
    except ValueError:
        page = sign_in_page(request_id, pending.client_name, csrf=csrf)
        return HTMLResponse(page, status_code=422)
    phone_hash = identity.phone_hash(normalized)
    if not await otp.consume_code(identity.kv, LOGIN, phone_hash, code, clock=identity.clock):
        page = sign_in_page(
            request_id, pending.client_name, normalized, "验证码错误或已失效", True, csrf=csrf
        )
        return HTMLResponse(page, status_code=401)
    await identity.phone_proven(phone_hash, requester_of(request))
    citizen = await identity.citizen_for_phone(db, normalized, phone_hash)
    sso_token = await oidc.start_browser_session(identity, citizen.id)
    response = await _continue(request_id, pending, db, identity, sso_token, hft_oidc)
    response.set_cookie(
        SSO_COOKIE,
        sso_token,
        max_age=int(oidc.SSO_TTL),
        httponly=True,
        samesite="lax",
        secure=_secure(identity),
        path="/oauth2",
    )
    return response


@router.post("/oauth2/consent", include_in_schema=False)
async def consent(
    request: Request,
    db: SessionDep,
    identity: IdentityDep,
    request_id: Annotated[str, Form(alias="request", max_length=64)],
    csrf: Annotated[str, Form(max_length=128)],
    decision: Annotated[str, Form(max_length=8)],
    hft_sso: Annotated[str | None, Cookie()] = None,
) -> Response:
    pending = await oidc.pending_request(identity, request_id)
    sso = await oidc.browser_session(identity, hft_sso)
    if pending is None or sso is None or hft_sso is None:
        return _expired()
    expected = oidc.csrf_token(identity, hft_sso, request_id)
    if not _from_our_pages(request, identity) or not hmac.compare_digest(csrf, expected):
        return _refused()
    if decision != "allow":
        return _redirect_with(pending.redirect_uri, error="access_denied", state=pending.state)
    await oidc.grant(db, sso["citizen_id"], pending.client_id, pending.scopes)
    code = await oidc.issue_code(identity, pending, sso["citizen_id"], sso["auth_time"])
    return _redirect_with(pending.redirect_uri, code=code, state=pending.state)


@router.get(
    "/oauth2/userinfo",
    summary="用户信息 / UserInfo",
    description=(
        "用授权码流程取得的访问令牌读取用户信息，只返回已授权 scope 对应的声明；"
        "用户撤销授权后返回401。"
        " The citizen's claims for an access token from the authorization-code flow, limited to the"
        " scopes granted. After the citizen withdraws consent the token gets 401 `TOKEN_INVALID`."
    ),
    responses=problem_responses(InvalidToken),
)
async def userinfo(request: Request, db: SessionDep, identity: IdentityDep) -> dict[str, Any]:
    header = request.headers.get("authorization", "")
    claims = None
    if header.lower().startswith("bearer "):
        claims = oidc.verify_userinfo_token(identity, header[7:].strip())
    if claims is None:
        raise InvalidToken(headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    citizen = await identity.find_citizen(db, str(claims["sub"]))
    granted = await oidc.granted_scopes(db, str(claims["sub"]), str(claims.get("azp", "")))
    if citizen is None or not granted:
        # Consent withdrawn since the token was issued: nothing more is released.
        raise InvalidToken(headers={"WWW-Authenticate": 'Bearer error="invalid_token"'})
    return oidc.userinfo(identity, citizen, set(str(claims["scope"]).split()) & granted)


@router.get(
    "/v1/me/consents",
    tags=["me"],
    summary="授权管理 / Systems I allowed",
    description=(
        "当前用户授权过的接入系统及其 scope。"
        " The web systems the citizen allowed to sign them in, with the scopes granted. Citizen"
        " token required."
    ),
    responses=problem_responses(InvalidToken),
)
async def list_consents(signed_in: CurrentCitizen, db: SessionDep) -> dict[str, Any]:
    return {
        "items": [
            {"client_id": c.client_id, "scopes": c.scopes, "granted_at": c.granted_at.isoformat()}
            for c in await oidc.consents_of(db, signed_in.citizen.id)
        ]
    }


@router.delete(
    "/v1/me/consents/{client_id}",
    tags=["me"],
    status_code=204,
    summary="撤销授权 / Withdraw consent",
    description=(
        "撤销对某接入系统的授权：该系统的令牌此后不能再读取用户信息，下次登录须重新同意。"
        " Withdraws the consent given to a client: its tokens no longer read UserInfo and its next"
        " sign-in asks again. No consent for that client is 404 `CONSENT_NOT_FOUND`."
    ),
    responses=problem_responses(InvalidToken, ConsentNotFound),
)
async def revoke_consent(client_id: str, signed_in: CurrentCitizen, db: SessionDep) -> Response:
    if not await oidc.withdraw_consent(db, signed_in.citizen.id, client_id):
        raise ConsentNotFound()
    return Response(status_code=204)
