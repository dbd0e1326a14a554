"""Department systems calling the provider API with their client-credentials tokens."""

from __future__ import annotations

from typing import Annotated

import jwt
from fastapi import Depends, Request

from backend.identity.auth import identity_of
from backend.identity.clients import PROVIDER_AUDIENCE
from backend.identity.exceptions import InvalidToken

_CHALLENGE = 'Bearer realm="hefeitong-provider"'


async def current_department(request: Request) -> str:
    """The catalog department code of the calling department system."""
    header = request.headers.get("authorization", "")
    if not header.lower().startswith("bearer "):
        raise InvalidToken(
            "A department token is required", headers={"WWW-Authenticate": _CHALLENGE}
        )
    token = header[7:].strip()
    identity = identity_of(request)
    try:
        kid = str(jwt.get_unverified_header(token).get("kid", ""))
        key = identity.tokens.keys.public_key(kid)
        if key is None:
            raise jwt.InvalidKeyError("unknown key")
        claims = jwt.decode(
            token,
            key,
            algorithms=["ES256"],
            audience=PROVIDER_AUDIENCE,
            issuer=identity.tokens.issuer,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "typ", "scope"]},
        )
    except jwt.PyJWTError:
        raise InvalidToken(
            headers={"WWW-Authenticate": _CHALLENGE + ', error="invalid_token"'}
        ) from None
    department = claims.get("department")
    if claims.get("typ") != "access" or not department:
        raise InvalidToken(headers={"WWW-Authenticate": _CHALLENGE + ', error="invalid_token"'})
    return str(department)


CurrentDepartment = Annotated[str, Depends(current_department)]
