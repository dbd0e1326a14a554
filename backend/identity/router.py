"""Sign-in, tokens, sessions and the citizen's own profile."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter, Query, Request, Response

from backend.client_address import client_ip
from backend.db import SessionDep
from backend.department_problems import DepartmentRejected
from backend.errors import problem_responses
from backend.identity import mini_program
from backend.identity.auth import CurrentCitizen, IdentityDep
from backend.identity.exceptions import (
    BindingTicketInvalid,
    FaceMismatch,
    IdNumberInUse,
    InvalidCredentials,
    InvalidToken,
    OtpInvalid,
    RateLimited,
    RealNameMismatch,
    RealNameRequired,
    RecentLoginRequired,
    RefreshTokenInvalid,
    RefreshTokenReused,
    SessionNotFound,
)
from backend.identity.models import Citizen
from backend.identity.otp import CODE_TTL
from backend.identity.schemas import (
    FaceVerification,
    Me,
    MiniProgramBind,
    MiniProgramLoginRequest,
    MiniProgramLoginResult,
    PasswordChange,
    PasswordLogin,
    RealNameRequest,
    RefreshRequest,
    SessionList,
    SessionOut,
    SmsCodeRequest,
    SmsCodeSent,
    SmsLogin,
    TokenPair,
)
from backend.identity.service import Identity
from backend.pagination import PageDep
from backend.pii import mask_id_number, mask_name, mask_phone

auth_router = APIRouter(prefix="/v1/auth", tags=["auth"])
me_router = APIRouter(prefix="/v1/me", tags=["me"])
jwks_router = APIRouter(tags=["auth"])

RECENT_LOGIN_SECONDS = 300


@auth_router.post(
    "/sms-codes",
    response_model=SmsCodeSent,
    status_code=202,
    summary="发送短信验证码 / Send a sign-in code",
    description="已注册与未注册的手机号回答相同。Known and unknown phones get the same answer.",
    responses=problem_responses(RateLimited),
)
async def send_sms_code(
    body: SmsCodeRequest, request: Request, identity: IdentityDep
) -> SmsCodeSent:
    await identity.send_login_code(body.phone, client_ip(request))
    return SmsCodeSent(expires_in=int(CODE_TTL), resend_after=60)


@auth_router.post(
    "/login/sms",
    response_model=TokenPair,
    summary="短信验证码登录 / Sign in with an SMS code",
    description="首次登录即创建账号（L1）。The first sign-in creates the account (L1).",
    responses=problem_responses(OtpInvalid),
)
async def login_sms(body: SmsLogin, db: SessionDep, identity: IdentityDep) -> TokenPair:
    return await identity.login_with_sms(db, body.phone, body.code, body.client, body.device)


@auth_router.post(
    "/login/password",
    response_model=TokenPair,
    summary="密码登录 / Sign in with a password",
    description=(
        "已设置密码的账号用手机号和密码登录；按来源地址和账号限制失败次数。"
        " For accounts that set a password (`PUT /v1/me/password`). A wrong phone or password is"
        " 401 `INVALID_CREDENTIALS`; too many attempts from one address or on one account is 429"
        " `RATE_LIMITED` with `Retry-After`."
    ),
    responses=problem_responses(InvalidCredentials, RateLimited),
)
async def login_password(
    body: PasswordLogin, request: Request, db: SessionDep, identity: IdentityDep
) -> TokenPair:
    return await identity.login_with_password(
        db, body.phone, body.password, client_ip(request), body.client, body.device
    )


@auth_router.post(
    "/login/mini-program",
    response_model=MiniProgramLoginResult,
    summary="小程序登录 / Sign in from the WeChat or Alipay mini-program",
    description=(
        "用平台登录code换取身份；首次使用时返回绑定凭证，验证手机号后完成绑定。"
        " Exchanges the platform's code; the first time it returns a binding ticket, and"
        " verifying a phone with an SMS code binds the mini-program user to that account."
    ),
    responses=problem_responses(DepartmentRejected),
)
async def login_mini_program(
    body: MiniProgramLoginRequest, db: SessionDep, identity: IdentityDep
) -> MiniProgramLoginResult:
    return await mini_program.login_with_code(identity, db, body.platform, body.code, body.device)


@auth_router.post(
    "/login/mini-program/bind",
    response_model=TokenPair,
    summary="小程序绑定手机号 / Bind the mini-program user by phone",
    description=(
        "小程序首次登录后，用返回的绑定凭证和该手机号收到的短信验证码，"
        "把小程序用户绑定到该手机号的账号（没有则创建），并返回登录凭证。"
        " After a first mini-program sign-in: the binding ticket it returned plus an SMS code sent"
        " to a phone bind the mini-program user to that phone's account (created if new) and return"
        " tokens. An expired or used ticket is 401 `BINDING_TICKET_INVALID`; a wrong code 401"
        " `OTP_INVALID`."
    ),
    responses=problem_responses(BindingTicketInvalid, OtpInvalid),
)
async def bind_mini_program(
    body: MiniProgramBind, db: SessionDep, identity: IdentityDep
) -> TokenPair:
    return await mini_program.bind_with_phone(
        identity, db, body.binding_ticket, body.phone, body.code, body.device
    )


@auth_router.post(
    "/refresh",
    response_model=TokenPair,
    summary="刷新登录凭证 / Refresh tokens",
    description=(
        "刷新凭证只能使用一次；重复使用会使该设备退出登录。"
        " A refresh token works once; replaying one signs that device out."
    ),
    responses=problem_responses(RefreshTokenInvalid, RefreshTokenReused),
)
async def refresh(body: RefreshRequest, db: SessionDep, identity: IdentityDep) -> TokenPair:
    return await identity.refresh(db, body.refresh_token)


@auth_router.post(
    "/logout",
    status_code=204,
    summary="退出本设备 / Sign out this device",
    description=(
        "吊销发出此请求的访问令牌所属会话，该会话的访问和刷新凭证随即失效。"
        " Revokes the session of the access token sent (this device): its access and refresh"
        " tokens stop working at once. Citizen token required."
    ),
    responses=problem_responses(InvalidToken),
)
async def logout(signed_in: CurrentCitizen, db: SessionDep, identity: IdentityDep) -> Response:
    await identity.revoke(db, signed_in.citizen.id, signed_in.claims.session_id, "logout")
    return Response(status_code=204)


@auth_router.post(
    "/logout-all",
    status_code=204,
    summary="退出所有设备 / Sign out everywhere",
    description=(
        "吊销本账号的全部会话，每台设备都须重新登录。"
        " Revokes every session of the account: each device has to sign in again. Citizen token"
        " required."
    ),
    responses=problem_responses(InvalidToken),
)
async def logout_all(signed_in: CurrentCitizen, db: SessionDep, identity: IdentityDep) -> Response:
    await identity.revoke_all(db, signed_in.citizen.id)
    return Response(status_code=204)


@jwks_router.get(
    "/.well-known/jwks.json",
    summary="令牌验签公钥 / Token signing keys (JWKS)",
    description=(
        "验证本平台签发的访问令牌和 ID Token 的公钥（ES256）；"
        "密钥轮换后旧公钥保留到其签发的令牌全部过期。无需凭证。"
        " The public keys (ES256) that verify the access and ID tokens this platform signs; after a"
        " rotation the old key stays listed until every token it signed has expired. Public."
    ),
)
async def jwks(identity: IdentityDep) -> dict[str, Any]:
    return identity.tokens.keys.jwks()


def _profile(identity: Identity, citizen: Citizen, reveal: bool) -> Me:
    pii = identity.pii
    phone = pii.decrypt(citizen.phone_enc, field="phone")
    name = pii.decrypt(citizen.name_enc, field="name") if citizen.name_enc else None
    id_number = (
        pii.decrypt(citizen.id_number_enc, field="id_number") if citizen.id_number_enc else None
    )
    return Me(
        id=citizen.id,
        phone=phone if reveal else mask_phone(phone),
        name=name if reveal or name is None else mask_name(name),
        id_number=id_number if reveal or id_number is None else mask_id_number(id_number),
        assurance_level=citizen.assurance_level,
        has_password=citizen.password_hash is not None,
        created_at=citizen.created_at,
    )


@me_router.get(
    "",
    response_model=Me,
    summary="我的账号 / My account",
    description=(
        "个人信息默认脱敏；`reveal=true` 需在5分钟内登录过。"
        " Personal data is masked; `reveal=true` needs a sign-in within the last 5 minutes."
    ),
    responses=problem_responses(InvalidToken, RecentLoginRequired),
)
async def me(
    signed_in: CurrentCitizen, identity: IdentityDep, reveal: bool = Query(default=False)
) -> Me:
    if reveal and time.time() - signed_in.claims.auth_time > RECENT_LOGIN_SECONDS:
        raise RecentLoginRequired()
    return _profile(identity, signed_in.citizen, reveal)


@me_router.put(
    "/password",
    status_code=204,
    summary="设置密码 / Set a password",
    description=(
        "设置或更换登录密码（8–128个字符），此后可用密码登录；已登录的设备不受影响。"
        " Sets or replaces the sign-in password (8–128 characters) for `/v1/auth/login/password`;"
        " devices already signed in stay signed in. Citizen token required."
    ),
    responses=problem_responses(InvalidToken),
)
async def set_password(
    body: PasswordChange, signed_in: CurrentCitizen, db: SessionDep, identity: IdentityDep
) -> Response:
    await identity.set_password(db, signed_in.citizen, body.password)
    return Response(status_code=204)


@me_router.post(
    "/real-name",
    response_model=Me,
    summary="实名认证 / Verify real name (L2)",
    description=(
        "提交姓名和身份证号，经公安身份核验一致后账号升至L2并返回脱敏的个人信息；"
        "新等级在刷新令牌后生效。"
        " Checks the name and national ID number with public security; a match raises the account"
        " to L2 and returns the masked profile, the new level in tokens issued from then on"
        " (refresh). No match is 422 `REAL_NAME_MISMATCH`; a number already on another account is"
        " 409 `ID_NUMBER_IN_USE`."
    ),
    responses=problem_responses(InvalidToken, RealNameMismatch, IdNumberInUse),
)
async def real_name(
    body: RealNameRequest, signed_in: CurrentCitizen, db: SessionDep, identity: IdentityDep
) -> Me:
    citizen = await identity.verify_real_name(db, signed_in.citizen, body.name, body.id_number)
    return _profile(identity, citizen, reveal=False)


@me_router.post(
    "/face-verification",
    response_model=Me,
    summary="人脸认证 / Face verification (L3)",
    description=(
        "上传活体照片（base64）与公安人像比对，通过后账号升至L3；须先完成实名认证（L2），"
        "新等级在刷新令牌后生效。"
        " Compares a live photo (base64) with the public-security portrait of the verified ID"
        " number; a match raises the account to L3, in tokens issued from then on (refresh). Needs"
        " L2 first (403 `ASSURANCE_LEVEL_TOO_LOW`); no match is 422 `FACE_MISMATCH`."
    ),
    responses=problem_responses(InvalidToken, RealNameRequired, FaceMismatch),
)
async def face_verification(
    body: FaceVerification, signed_in: CurrentCitizen, db: SessionDep, identity: IdentityDep
) -> Me:
    citizen = await identity.verify_face(db, signed_in.citizen, body.image)
    return _profile(identity, citizen, reveal=False)


@me_router.get(
    "/sessions",
    response_model=SessionList,
    summary="登录设备 / Signed-in devices",
    description=(
        "本账号当前有效的登录会话（设备），最近登录的在前，按游标分页；"
        "`current` 标出本次请求所用的会话。"
        " The account's live sessions (devices), most recently signed in first, a page at a time"
        " (pass `next_cursor` back as `cursor`); `current` marks the one this request came from."
        " Citizen token required."
    ),
    responses=problem_responses(InvalidToken),
)
async def sessions(
    signed_in: CurrentCitizen, db: SessionDep, identity: IdentityDep, page: PageDep
) -> SessionList:
    active, next_cursor = await identity.session_page(db, signed_in.citizen.id, page)
    return SessionList(
        items=[
            SessionOut(
                id=s.id,
                client=s.client,
                device=s.device,
                created_at=s.created_at,
                last_used_at=s.last_used_at,
                current=s.id == signed_in.claims.session_id,
            )
            for s in active
        ],
        next_cursor=next_cursor,
    )


@me_router.delete(
    "/sessions/{session_id}",
    status_code=204,
    summary="移除登录设备 / Sign a device out",
    description=(
        "让某台登录设备退出，其访问和刷新凭证随即失效。"
        " Signs one device out: its tokens stop working at once. A session that is not the caller's"
        " is 404 `SESSION_NOT_FOUND`."
    ),
    responses=problem_responses(InvalidToken, SessionNotFound),
)
async def revoke_session(
    session_id: str, signed_in: CurrentCitizen, db: SessionDep, identity: IdentityDep
) -> Response:
    await identity.revoke(db, signed_in.citizen.id, session_id, "revoked_by_owner")
    return Response(status_code=204)
