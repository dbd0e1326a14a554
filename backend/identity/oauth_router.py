"""The OAuth 2.0 / OpenID Connect endpoints: discovery and the token endpoint.

Errors here keep the RFC 6749 ``error`` member that OAuth client libraries read,
inside the same problem+json body as every other error of the API.
"""

from __future__ import annotations

import base64
import binascii
from typing import Annotated, Any
from urllib.parse import unquote

from fastapi import APIRouter, Form, Request
from fastapi.responses import JSONResponse

from backend.db import SessionDep
from backend.errors import AppError, problem_responses
from backend.identity.auth import IdentityDep
from backend.identity.clients import authenticate, issue_client_token
from backend.identity.oidc import SCOPES, issue_tokens, redeem_code
from backend.state import settings_of

router = APIRouter(tags=["oauth2"])


class OAuthError(AppError):
    status = 400
    code = "OAUTH_ERROR"
    title_zh = "授权请求无效"
    title_en = "Invalid OAuth request"

    def __init__(self, error: str, description: str, **kw: Any) -> None:
        super().__init__(description, error=error, error_description=description, **kw)


class OAuthClientUnauthorized(OAuthError):
    """``invalid_client``: answered 401 (RFC 6749 section 5.2)."""

    status = 401


def _issuer(request: Request) -> str:
    return settings_of(request).token_issuer.rstrip("/")


@router.get(
    "/.well-known/openid-configuration",
    summary="OpenID 提供方配置 / OpenID Provider discovery",
    description=(
        "OpenID Connect 发现文档：各端点地址、支持的授权类型、scope 与声明，"
        "供接入单点登录的部门网站自动配置。无需凭证。"
        " OpenID Connect discovery: endpoints, grant types, scopes and claims supported, for"
        " department web systems that sign citizens in through Hefei Tong. Public."
    ),
)
async def openid_configuration(request: Request) -> dict[str, Any]:
    issuer = _issuer(request)
    return {
        "issuer": issuer,
        "jwks_uri": f"{issuer}/.well-known/jwks.json",
        "authorization_endpoint": f"{issuer}/oauth2/authorize",
        "token_endpoint": f"{issuer}/oauth2/token",
        "userinfo_endpoint": f"{issuer}/oauth2/userinfo",
        "response_types_supported": ["code"],
        "code_challenge_methods_supported": ["S256"],
        "grant_types_supported": ["authorization_code", "client_credentials"],
        "claims_supported": ["sub", "name", "phone_number", "id_number", "assurance_level"],
        "token_endpoint_auth_methods_supported": ["client_secret_basic", "client_secret_post"],
        "id_token_signing_alg_values_supported": ["ES256"],
        "subject_types_supported": ["public"],
        "scopes_supported": [*SCOPES, "provider.applications", "provider.adapters"],
    }


def _client_credentials(
    request: Request, client_id: str | None, client_secret: str | None
) -> tuple[str, str]:
    header = request.headers.get("authorization", "")
    if header.lower().startswith("basic "):
        try:
            decoded = base64.b64decode(header[6:].strip(), validate=True).decode()
        except (binascii.Error, UnicodeDecodeError):
            raise OAuthClientUnauthorized("invalid_client", "Malformed Basic credentials") from None
        raw_id, _, raw_secret = decoded.partition(":")
        return unquote(raw_id), unquote(raw_secret)
    if client_id and client_secret:
        return client_id, client_secret
    raise OAuthClientUnauthorized(
        "invalid_client",
        "Client authentication is required",
        headers={"WWW-Authenticate": 'Basic realm="hefeitong"'},
    )


@router.post(
    "/oauth2/token",
    summary="令牌端点 / Token endpoint",
    description=(
        "部门系统以客户端凭证换取访问令牌；接入网站以授权码（PKCE）换取令牌与 ID Token。"
        " Department systems exchange client credentials for an access token; web systems"
        " exchange an authorization code (with PKCE) for tokens and an ID token."
    ),
    responses=problem_responses(OAuthError, OAuthClientUnauthorized),
)
async def token(
    request: Request,
    db: SessionDep,
    identity: IdentityDep,
    grant_type: Annotated[str, Form(max_length=64)],
    scope: Annotated[str | None, Form(max_length=512)] = None,
    client_id: Annotated[str | None, Form(max_length=128)] = None,
    client_secret: Annotated[str | None, Form(max_length=256)] = None,
    code: Annotated[str | None, Form(max_length=256)] = None,
    redirect_uri: Annotated[str | None, Form(max_length=2048)] = None,
    code_verifier: Annotated[str | None, Form(max_length=128)] = None,
) -> JSONResponse:
    if grant_type not in ("client_credentials", "authorization_code"):
        raise OAuthError("unsupported_grant_type", f"grant_type {grant_type!r} is not supported")
    found_id, secret = _client_credentials(request, client_id, client_secret)
    client = await authenticate(db, found_id, secret)
    # Systems (departments, platform administration) use client credentials; web sign-in
    # clients only the authorization code.
    expected_kinds = ("department", "admin") if grant_type == "client_credentials" else ("web",)
    if client is None or client.kind not in expected_kinds:
        raise OAuthClientUnauthorized(
            "invalid_client",
            "Unknown client or wrong secret",
            headers={"WWW-Authenticate": 'Basic realm="hefeitong"'},
        )
    if grant_type == "authorization_code":
        record = await redeem_code(
            identity, code or "", client.client_id, redirect_uri or "", code_verifier or ""
        )
        citizen = await identity.find_citizen(db, record["citizen_id"]) if record else None
        if record is None or citizen is None:
            raise OAuthError("invalid_grant", "The code is invalid, used, or does not match")
        body = issue_tokens(identity, record, citizen)
    else:
        requested = scope.split() if scope else list(client.scopes)
        if not set(requested) <= set(client.scopes):
            raise OAuthError("invalid_scope", "A requested scope is not granted to this client")
        body = issue_client_token(
            identity.tokens.keys, identity.tokens.issuer, client, requested, identity.tokens.ttl
        )
    return JSONResponse(body, headers={"Cache-Control": "no-store", "Pragma": "no-cache"})
