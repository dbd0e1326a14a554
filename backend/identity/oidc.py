"""OpenID Provider logic: authorization requests, codes with PKCE, ID tokens, userinfo.

Departments' web systems sign citizens in here (authorization code + PKCE S256,
``state`` and ``nonce``), with consent per scope remembered and revocable. The
``idcard`` scope releases the ID number and needs a real-name (L2) account.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import jwt
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.clock import utcnow
from backend.identity.models import Citizen, Consent, OAuthClient
from backend.identity.service import Identity
from backend.ids import uuid7

USERINFO_AUDIENCE = "hefeitong-userinfo"
SCOPES = ("openid", "profile", "phone", "idcard")
SCOPE_TEXT = {
    "openid": "确认您的身份（合肥通账号）",
    "profile": "姓名",
    "phone": "手机号码",
    "idcard": "身份证号码（需已实名认证）",
}
REQUEST_TTL = 600.0
CODE_TTL = 60.0
SSO_TTL = 8 * 3600.0


class AuthorizeError(Exception):
    """An error to send back to the client's redirect URI (RFC 6749 §4.1.2.1)."""

    def __init__(self, error: str, description: str) -> None:
        super().__init__(description)
        self.error = error
        self.description = description


class AuthorizePageError(Exception):
    """An error shown to the citizen: the redirect URI itself cannot be trusted."""


@dataclass(frozen=True)
class AuthorizationRequest:
    client_id: str
    client_name: str
    redirect_uri: str
    scopes: list[str]
    state: str
    nonce: str | None
    code_challenge: str


async def validate_request(db: AsyncSession, params: dict[str, str]) -> AuthorizationRequest:
    client = await db.get(OAuthClient, params.get("client_id", ""))
    if client is None or client.kind != "web":
        raise AuthorizePageError("未知的接入系统 / Unknown client")
    redirect_uri = params.get("redirect_uri", "")
    if redirect_uri not in client.redirect_uris:  # exact match, never a prefix
        raise AuthorizePageError("回调地址未登记 / Redirect URI not registered for this client")
    if params.get("response_type") != "code":
        raise AuthorizeError("unsupported_response_type", "Only response_type=code")
    scopes = params.get("scope", "").split()
    if "openid" not in scopes or not set(scopes) <= set(SCOPES) & set(client.scopes):
        raise AuthorizeError("invalid_scope", "openid is required; other scopes must be granted")
    challenge = params.get("code_challenge", "")
    if params.get("code_challenge_method") != "S256" or not 43 <= len(challenge) <= 128:
        raise AuthorizeError("invalid_request", "PKCE with code_challenge_method=S256 is required")
    return AuthorizationRequest(
        client_id=client.client_id,
        client_name=client.name,
        redirect_uri=redirect_uri,
        scopes=scopes,
        state=params.get("state", ""),
        nonce=params.get("nonce"),
        code_challenge=challenge,
    )


async def remember_request(identity: Identity, request: AuthorizationRequest) -> str:
    request_id = secrets.token_urlsafe(24)
    await identity.kv.set(f"oidc-req:{request_id}", json.dumps(asdict(request)), ttl=REQUEST_TTL)
    return request_id


async def pending_request(identity: Identity, request_id: str) -> AuthorizationRequest | None:
    raw = await identity.kv.get(f"oidc-req:{request_id}")
    return AuthorizationRequest(**json.loads(raw)) if raw else None


# --- the browser's sign-in (a cookie naming a server-side record) ------------------------


async def start_browser_session(identity: Identity, citizen_id: str) -> str:
    token = secrets.token_urlsafe(32)
    record = {"citizen_id": citizen_id, "auth_time": int(time.time())}
    await identity.kv.set(f"sso:{token}", json.dumps(record), ttl=SSO_TTL)
    return token


async def browser_session(identity: Identity, token: str | None) -> dict[str, Any] | None:
    if not token:
        return None
    raw = await identity.kv.get(f"sso:{token}")
    return json.loads(raw) if raw else None


def csrf_token(identity: Identity, sso_token: str, request_id: str) -> str:
    key = identity.pii.blind_index(sso_token, field="csrf")
    return hmac.new(key.encode(), request_id.encode(), hashlib.sha256).hexdigest()


# --- consent and codes ----------------------------------------------------------------


async def granted_scopes(db: AsyncSession, citizen_id: str, client_id: str) -> set[str]:
    found = await db.exec(
        select(Consent).where(Consent.citizen_id == citizen_id, Consent.client_id == client_id)
    )
    consent = found.first()
    return set(consent.scopes) if consent else set()


async def consents_of(db: AsyncSession, citizen_id: str) -> Sequence[Consent]:
    found = await db.exec(select(Consent).where(Consent.citizen_id == citizen_id))
    return found.all()


async def withdraw_consent(db: AsyncSession, citizen_id: str, client_id: str) -> bool:
    """Forget the consent given to ``client_id``; False when there was none."""
    found = await db.exec(
        select(Consent).where(Consent.citizen_id == citizen_id, Consent.client_id == client_id)
    )
    consent = found.first()
    if consent is None:
        return False
    await db.delete(consent)
    return True


async def grant(db: AsyncSession, citizen_id: str, client_id: str, scopes: list[str]) -> None:
    found = await db.exec(
        select(Consent).where(Consent.citizen_id == citizen_id, Consent.client_id == client_id)
    )
    consent = found.first()
    if consent is None:
        consent = Consent(
            citizen_id=citizen_id, client_id=client_id, scopes=[], granted_at=utcnow()
        )
    consent.scopes = sorted(set(consent.scopes) | set(scopes))
    consent.granted_at = utcnow()
    db.add(consent)


async def issue_code(
    identity: Identity, request: AuthorizationRequest, citizen_id: str, auth_time: int
) -> str:
    code = secrets.token_urlsafe(32)
    record = asdict(request) | {"citizen_id": citizen_id, "auth_time": auth_time}
    await identity.kv.set(f"oidc-code:{code}", json.dumps(record), ttl=CODE_TTL)
    return code


def _s256(verifier: str) -> str:
    return (
        base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest()).rstrip(b"=").decode()
    )


async def redeem_code(
    identity: Identity, code: str, client_id: str, redirect_uri: str, verifier: str
) -> dict[str, Any] | None:
    """The code's record if everything matches; a code works once, whatever the outcome."""
    key = f"oidc-code:{code}"
    raw = await identity.kv.get(key)
    if raw is None or await identity.kv.delete(key) != 1:
        return None
    record: dict[str, Any] = json.loads(raw)
    if record["client_id"] != client_id or record["redirect_uri"] != redirect_uri:
        return None
    if not hmac.compare_digest(_s256(verifier), record["code_challenge"]):
        return None
    return record


def issue_tokens(identity: Identity, record: dict[str, Any], citizen: Citizen) -> dict[str, Any]:
    keys, issuer, ttl = identity.tokens.keys, identity.tokens.issuer, identity.tokens.ttl
    now = int(time.time())
    key = keys.current
    access = jwt.encode(
        {
            "iss": issuer,
            "sub": citizen.id,
            "aud": USERINFO_AUDIENCE,
            "azp": record["client_id"],
            "iat": now,
            "exp": now + int(ttl),
            "jti": uuid7(),
            "typ": "access",
            "scope": " ".join(record["scopes"]),
        },
        key.private_key,
        algorithm="ES256",
        headers={"kid": key.kid},
    )
    id_claims: dict[str, Any] = {
        "iss": issuer,
        "sub": citizen.id,
        "aud": record["client_id"],
        "iat": now,
        "exp": now + int(ttl),
        "auth_time": record["auth_time"],
        "acr": f"urn:hefeitong:loa:{citizen.assurance_level}",
    }
    if record.get("nonce"):
        id_claims["nonce"] = record["nonce"]
    id_token = jwt.encode(
        id_claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, "typ": "JWT"}
    )
    return {
        "access_token": access,
        "token_type": "Bearer",
        "expires_in": int(ttl),
        "scope": " ".join(record["scopes"]),
        "id_token": id_token,
    }


def verify_userinfo_token(identity: Identity, token: str) -> dict[str, Any] | None:
    try:
        header = jwt.get_unverified_header(token)
        public_key = identity.tokens.keys.public_key(str(header.get("kid", "")))
        if public_key is None or header.get("alg") != "ES256":
            return None
        claims: dict[str, Any] = jwt.decode(
            token,
            public_key,
            algorithms=["ES256"],
            audience=USERINFO_AUDIENCE,
            issuer=identity.tokens.issuer,
            options={"require": ["iss", "sub", "aud", "exp", "iat", "scope", "typ"]},
        )
    except jwt.PyJWTError:
        return None
    return claims if claims.get("typ") == "access" else None


def userinfo(identity: Identity, citizen: Citizen, scopes: set[str]) -> dict[str, Any]:
    info: dict[str, Any] = {"sub": citizen.id}
    pii = identity.pii
    if "profile" in scopes and citizen.name_enc:
        info["name"] = pii.decrypt(citizen.name_enc, field="name")
    if "phone" in scopes:
        info["phone_number"] = pii.decrypt(citizen.phone_enc, field="phone")
        info["phone_number_verified"] = True
    if "idcard" in scopes and citizen.id_number_enc:
        info["id_number"] = pii.decrypt(citizen.id_number_enc, field="id_number")
    info["assurance_level"] = citizen.assurance_level
    return info
