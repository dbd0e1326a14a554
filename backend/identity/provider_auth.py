"""Systems calling the provider and admin APIs with client-credentials tokens.

A department system's token carries its catalog department code; a platform
administrator's client is granted the ``platform.admin`` scope.
"""

from __future__ import annotations

from typing import Annotated, Any

import jwt
from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.errors import AppError
from backend.identity.auth import identity_of
from backend.identity.clients import ADMIN_SCOPE, PROVIDER_AUDIENCE
from backend.identity.exceptions import InvalidToken

_CHALLENGE = 'Bearer realm="hefeitong-provider"'

# Declares the client-credentials token in the OpenAPI document; ``client_claims`` reads
# and checks the header itself.
CLIENT_TOKEN = HTTPBearer(
    scheme_name="ClientToken",
    bearerFormat="JWT",
    description="A department's or administrator's token: client_credentials at /oauth2/token",
    auto_error=False,
)
ClientToken = Annotated[HTTPAuthorizationCredentials | None, Security(CLIENT_TOKEN)]


class NotAnAdministrator(AppError):
    status = 403
    code = "ADMIN_REQUIRED"
    title_zh = "需要平台管理员权限"
    title_en = "Platform administrator required"


async def client_claims(request: Request) -> dict[str, Any]:
    """The verified claims of a client-credentials access token."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise InvalidToken("A client token is required", headers={"WWW-Authenticate": _CHALLENGE})
    token = header[7:].strip()
    identity = identity_of(request)
    invalid = InvalidToken(headers={"WWW-Authenticate": _CHALLENGE + ', error="invalid_token"'})
    try:
        kid = str(jwt.get_unverified_header(token).get("kid", ""))
        key = identity.tokens.keys.public_key(kid)
        if key is None:
            raise jwt.InvalidKeyError("unknown key")
        claims: dict[str, Any] = jwt.decode(
            token,
            key,
            algorithms=["ES256"],
            audience=PROVIDER_AUDIENCE,
            issuer=identity.tokens.issuer,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "typ", "scope"]},
        )
    except jwt.PyJWTError:
        raise invalid from None
    if claims.get("typ") != "access":
        raise invalid
    return claims


async def current_department(request: Request, _: ClientToken = None) -> str:
    """The catalog department code of the calling department system."""
    department = (await client_claims(request)).get("department")
    if not department:
        raise InvalidToken(headers={"WWW-Authenticate": _CHALLENGE + ', error="invalid_token"'})
    return str(department)


async def current_admin(request: Request, _: ClientToken = None) -> str:
    """The client id of a platform administrator's client."""
    claims = await client_claims(request)
    if ADMIN_SCOPE not in str(claims["scope"]).split():
        raise NotAnAdministrator()
    return str(claims["sub"])


CurrentDepartment = Annotated[str, Depends(current_department)]
CurrentAdmin = Annotated[str, Depends(current_admin)]
