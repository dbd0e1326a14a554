"""Registered systems and the OAuth 2.0 client-credentials grant (RFC 6749 §4.4).

Department systems authenticate with their own client id and secret and get a
short-lived access token for a different audience from citizens' tokens, so a
department token never works on a citizen's endpoints and the other way round.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
import time
from typing import Any

import jwt
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.clock import utcnow
from backend.identity.keys import KeyStore
from backend.identity.models import OAuthClient
from backend.ids import uuid7

PROVIDER_AUDIENCE = "hefeitong-provider"
DEPARTMENT_SCOPES = ("provider.applications", "provider.adapters")
# Platform administration: the calendar, statistics (and, later, provider approval).
ADMIN_SCOPE = "platform.admin"


def _hash_secret(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


async def create_client(
    db: AsyncSession,
    name: str,
    *,
    kind: str,
    redirect_uris: list[str] | None = None,
    scopes: list[str] | None = None,
    department_code: str | None = None,
) -> tuple[OAuthClient, str]:
    """A new client and its secret; the secret is shown once and only its hash is kept."""
    secret = secrets.token_urlsafe(32)
    now = utcnow()
    client = OAuthClient(
        client_id=f"{kind}-{uuid7()}",
        secret_hash=_hash_secret(secret),
        name=name,
        kind=kind,
        redirect_uris=list(redirect_uris or []),
        department_code=department_code,
        scopes=list(scopes if scopes is not None else DEPARTMENT_SCOPES),
        created_at=now,
        secret_rotated_at=now,
    )
    db.add(client)
    await db.flush()
    return client, secret


async def authenticate(db: AsyncSession, client_id: str, secret: str) -> OAuthClient | None:
    client = await db.get(OAuthClient, client_id)
    # Compared in constant time; an unknown id costs the same comparison.
    expected = client.secret_hash if client else _hash_secret(secrets.token_hex(16))
    if not hmac.compare_digest(expected, _hash_secret(secret)) or client is None:
        return None
    return client


def issue_client_token(
    keys: KeyStore, issuer: str, client: OAuthClient, scopes: list[str], ttl: float
) -> dict[str, Any]:
    now = int(time.time())
    claims: dict[str, Any] = {
        "iss": issuer,
        "sub": client.client_id,
        "aud": PROVIDER_AUDIENCE,
        "iat": now,
        "exp": now + int(ttl),
        "jti": uuid7(),
        "typ": "access",
        "client_id": client.client_id,
        "scope": " ".join(scopes),
    }
    if client.department_code:
        claims["department"] = client.department_code
    key = keys.current
    token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
    return {
        "access_token": token,
        "token_type": "Bearer",
        "expires_in": int(ttl),
        "scope": " ".join(scopes),
    }


async def rotate_secret_of(db: AsyncSession, client_id: str) -> str:
    """``rotate_secret`` for the client with this id, which must exist (it just signed in)."""
    client = await db.get(OAuthClient, client_id)
    assert client is not None, "only an authenticated client rotates its secret"
    return await rotate_secret(db, client)


async def rotate_secret(db: AsyncSession, client: OAuthClient) -> str:
    """A new secret for the client; the old one stops working at once."""
    secret = secrets.token_urlsafe(32)
    client.secret_hash, client.secret_rotated_at = _hash_secret(secret), utcnow()
    db.add(client)
    await db.flush()
    return secret
