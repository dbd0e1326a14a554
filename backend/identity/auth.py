"""Who is calling: a bearer access token (or, outside production, the development header)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Protocol, cast

from fastapi import Depends, Request, Security
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from backend.db import SessionDep
from backend.identity.exceptions import InvalidToken
from backend.identity.models import Citizen
from backend.identity.service import Identity
from backend.identity.tokens import AccessClaims, TokenInvalid
from backend.state import CoreState, lifespan_state

_CHALLENGE = 'Bearer realm="hefeitong"'

# Declares the citizen's bearer token in the OpenAPI document (security scheme and each
# operation's requirement); ``bearer_token`` below reads and checks the header itself.
CITIZEN_TOKEN = HTTPBearer(
    scheme_name="CitizenToken",
    bearerFormat="JWT",
    description="A citizen's access token, from /v1/auth/login/… or /v1/auth/refresh",
    auto_error=False,
)
CitizenToken = Annotated[HTTPAuthorizationCredentials | None, Security(CITIZEN_TOKEN)]


class IdentityState(CoreState, Protocol):
    """What identity reads of the app's state (see backend/state.py)."""

    @property
    def identity(self) -> Identity: ...


def identity_of(request: Request) -> Identity:
    return cast(IdentityState, lifespan_state(request.app)).identity


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization")
    if not header:
        return None
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise InvalidToken(
            "Use 'Authorization: Bearer <access token>'",
            headers={"WWW-Authenticate": _CHALLENGE + ', error="invalid_request"'},
        )
    return token.strip()


async def verified_claims(request: Request, token: str) -> AccessClaims:
    try:
        return await identity_of(request).tokens.verify(token)
    except TokenInvalid as exc:
        raise InvalidToken(
            str(exc), headers={"WWW-Authenticate": _CHALLENGE + ', error="invalid_token"'}
        ) from None


async def current_claims(request: Request) -> AccessClaims:
    token = bearer_token(request)
    if token is None:
        raise InvalidToken("Sign in first", headers={"WWW-Authenticate": _CHALLENGE})
    return await verified_claims(request, token)


@dataclass(frozen=True)
class SignedIn:
    claims: AccessClaims
    citizen: Citizen


async def signed_in(request: Request, db: SessionDep, _: CitizenToken = None) -> SignedIn:
    claims = await current_claims(request)
    citizen = await db.get(Citizen, claims.subject)
    if citizen is None:
        raise InvalidToken("Account not found", headers={"WWW-Authenticate": _CHALLENGE})
    return SignedIn(claims, citizen)


CurrentClaims = Annotated[AccessClaims, Depends(current_claims)]
CurrentCitizen = Annotated[SignedIn, Depends(signed_in)]


async def get_identity(request: Request) -> Identity:
    return identity_of(request)


IdentityDep = Annotated[Identity, Depends(get_identity)]
