"""Access tokens (ES256 JWTs) and their revocation across workers.

Verification pins the algorithm, requires every claim and checks ``aud``, ``iss``
and ``typ``. A verified token is cached in-process (signature checks cost ~0.1 ms),
but revocation is checked in the KV store on every use, so logout, logout-all and
refresh-token reuse take effect on every worker at once.
"""

from __future__ import annotations

import time
from collections import OrderedDict
from dataclasses import dataclass
from typing import Any

import jwt

from backend.identity.keys import KeyStore
from backend.ids import uuid7
from backend.kv import KV

ACCESS_TYPE = "access"
REQUIRED_CLAIMS = ["iss", "sub", "aud", "exp", "iat", "jti", "typ", "lvl", "sid", "auth_time"]
_CACHE_SIZE = 10_000


class TokenInvalid(Exception):
    """The token cannot be accepted; the message names why (never the token itself)."""


@dataclass(frozen=True)
class AccessClaims:
    subject: str
    session_id: str
    assurance_level: int
    issued_at: int
    expires_at: int
    auth_time: int
    jti: str
    acting_for: str | None


class TokenService:
    def __init__(self, keys: KeyStore, kv: KV, *, issuer: str, audience: str, ttl: float) -> None:
        self.keys = keys
        self.kv = kv
        self.issuer = issuer
        self.audience = audience
        self.ttl = ttl
        self._verified: OrderedDict[str, AccessClaims] = OrderedDict()

    def issue(
        self,
        subject: str,
        session_id: str,
        level: int,
        *,
        auth_time: int,
        acting_for: str | None = None,
    ) -> tuple[str, int]:
        now = int(time.time())
        claims: dict[str, Any] = {
            "iss": self.issuer,
            "sub": subject,
            "aud": self.audience,
            "iat": now,
            "exp": now + int(self.ttl),
            "jti": uuid7(),
            "typ": ACCESS_TYPE,
            "lvl": level,
            "sid": session_id,
            "auth_time": auth_time,
        }
        if acting_for:
            claims["act"] = {"sub": acting_for}
        key = self.keys.current
        token = jwt.encode(claims, key.private_key, algorithm="ES256", headers={"kid": key.kid})
        return token, int(self.ttl)

    def _decode(self, token: str) -> AccessClaims:
        cached = self._verified.get(token)
        if cached is not None:
            if cached.expires_at > time.time():
                return cached
            del self._verified[token]
        try:
            header = jwt.get_unverified_header(token)
        except jwt.PyJWTError as exc:
            raise TokenInvalid("malformed token") from exc
        if header.get("alg") != "ES256":
            raise TokenInvalid("unexpected algorithm")
        public_key = self.keys.public_key(str(header.get("kid", "")))
        if public_key is None:
            raise TokenInvalid("unknown signing key")
        try:
            claims = jwt.decode(
                token,
                public_key,
                algorithms=["ES256"],
                audience=self.audience,
                issuer=self.issuer,
                options={"require": REQUIRED_CLAIMS},
            )
        except jwt.ExpiredSignatureError as exc:
            raise TokenInvalid("token expired") from exc
        except jwt.PyJWTError as exc:
            raise TokenInvalid(f"token rejected: {type(exc).__name__}") from exc
        if claims["typ"] != ACCESS_TYPE:
            raise TokenInvalid("not an access token")
        act = claims.get("act")
        verified = AccessClaims(
            subject=str(claims["sub"]),
            session_id=str(claims["sid"]),
            assurance_level=int(claims["lvl"]),
            issued_at=int(claims["iat"]),
            expires_at=int(claims["exp"]),
            auth_time=int(claims["auth_time"]),
            jti=str(claims["jti"]),
            acting_for=str(act["sub"]) if isinstance(act, dict) and "sub" in act else None,
        )
        self._verified[token] = verified
        if len(self._verified) > _CACHE_SIZE:
            self._verified.popitem(last=False)
        return verified

    async def verify(self, token: str) -> AccessClaims:
        claims = self._decode(token)
        if await self.kv.get(_session_key(claims.session_id)) is not None:
            raise TokenInvalid("session revoked")
        if claims.acting_for is not None:
            # One more read, for tokens that act for an enterprise only.
            ended = await self.kv.get(_acting_key(claims.subject, claims.acting_for))
            if ended is not None and claims.issued_at <= int(ended):
                raise TokenInvalid("no longer acts for this enterprise")
        return claims

    async def end_acting(self, subject: str, credit_code: str) -> None:
        """Tokens issued so far that act for the enterprise stop working on every worker (an
        agent removed, or leaving); the citizen's other tokens, and later ones, are untouched.
        """
        await self.kv.set(
            _acting_key(subject, credit_code), str(int(time.time())), ttl=self.ttl + 60
        )

    async def revoke_session(self, session_id: str) -> None:
        """Every access token of this session stops working on every worker.

        Refresh tokens are refused by the session's ``revoked_at`` in the database;
        this key only has to outlive the session's last access token.
        """
        await self.kv.set(_session_key(session_id), b"1", ttl=self.ttl + 60)


def _session_key(session_id: str) -> str:
    return f"auth:revoked-session:{session_id}"


def _acting_key(subject: str, credit_code: str) -> str:
    return f"auth:ended-acting:{subject}:{credit_code}"
