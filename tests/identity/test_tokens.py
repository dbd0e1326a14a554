"""Access tokens: every forgery and misuse is refused with 401; JWKS and rotation."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec
from fastapi import FastAPI

from backend.app_state import state_of
from backend.identity.keys import rotate
from integrations.sandbox import SandboxHandle
from tests.conftest import make_settings, running_app
from tests.identity.helpers import sign_in


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _claims(token: str) -> dict[str, Any]:
    return jwt.decode(token, options={"verify_signature": False})


def _sign(app: FastAPI, claims: dict[str, Any], **header: Any) -> str:
    key = state_of(app).identity.tokens.keys.current
    return jwt.encode(
        claims, key.private_key, algorithm="ES256", headers={"kid": key.kid, **header}
    )


Forge = Callable[[FastAPI, str], str]


def _alg_none(app: FastAPI, token: str) -> str:
    header = _b64(json.dumps({"alg": "none", "typ": "JWT"}).encode())
    return f"{header}.{token.split('.')[1]}."


def _hs256_with_public_key(app: FastAPI, token: str) -> str:
    key = state_of(app).identity.tokens.keys.current
    pem = key.public_key.public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    # Built by hand: PyJWT itself refuses to use a PEM key as an HMAC secret.
    header = _b64(json.dumps({"alg": "HS256", "typ": "JWT", "kid": key.kid}).encode())
    payload = _b64(json.dumps(_claims(token)).encode())
    signature = hmac.new(pem, f"{header}.{payload}".encode(), hashlib.sha256).digest()
    return f"{header}.{payload}.{_b64(signature)}"


def _changed(**changes: Any) -> Forge:
    def forge(app: FastAPI, token: str) -> str:
        claims = _claims(token) | changes
        return _sign(app, {k: v for k, v in claims.items() if v is not None})

    return forge


def _tampered(app: FastAPI, token: str) -> str:
    header, _, signature = token.split(".")
    claims = _claims(token) | {"lvl": 3}
    return f"{header}.{_b64(json.dumps(claims).encode())}.{signature}"


def _unknown_kid(app: FastAPI, token: str) -> str:
    stranger = ec.generate_private_key(ec.SECP256R1())
    return jwt.encode(_claims(token), stranger, algorithm="ES256", headers={"kid": "nope"})


def _foreign_key_same_kid(app: FastAPI, token: str) -> str:
    stranger = ec.generate_private_key(ec.SECP256R1())
    kid = state_of(app).identity.tokens.keys.current.kid
    return jwt.encode(_claims(token), stranger, algorithm="ES256", headers={"kid": kid})


FORGERIES: dict[str, Forge] = {
    "alg none": _alg_none,
    "HS256 signed with the public key": _hs256_with_public_key,
    "wrong aud": _changed(aud="some-department"),
    "missing aud": _changed(aud=None),
    "wrong iss": _changed(iss="https://evil.example"),
    "missing iss": _changed(iss=None),
    "missing exp": _changed(exp=None),
    "expired": _changed(exp=int(time.time()) - 10, iat=int(time.time()) - 1000),
    "id token as access token": _changed(typ="id"),
    "refresh token as access token": _changed(typ="refresh"),
    "tampered payload": _tampered,
    "unknown kid": _unknown_kid,
    "another key under our kid": _foreign_key_same_kid,
}


@pytest.mark.parametrize("forgery", sorted(FORGERIES))
async def test_token_matrix_is_refused(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle, forgery: str
) -> None:
    app, client = app_client
    tokens = await sign_in(client, sandbox)
    assert (await client.get("/v1/me", headers=_auth(tokens["access_token"]))).status_code == 200
    forged = FORGERIES[forgery](app, tokens["access_token"])
    response = await client.get("/v1/me", headers=_auth(forged))
    assert response.status_code == 401, forgery
    assert response.json()["code"] == "TOKEN_INVALID"
    assert response.headers["www-authenticate"].startswith("Bearer")


async def test_garbage_and_wrong_scheme_are_401(client: httpx.AsyncClient) -> None:
    for header in ("Bearer not-a-jwt", "Basic dXNlcjpwYXNz", "Bearer "):
        response = await client.get("/v1/me", headers={"Authorization": header})
        assert response.status_code == 401, header


def _auth(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def test_required_claims_are_present(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    _, client = app_client
    tokens = await sign_in(client, sandbox)
    header = jwt.get_unverified_header(tokens["access_token"])
    claims = _claims(tokens["access_token"])
    assert header["alg"] == "ES256" and header["kid"]
    assert {"iss", "sub", "aud", "exp", "iat", "jti", "typ", "lvl", "sid"} <= set(claims)
    assert claims["exp"] - claims["iat"] == 900
    assert claims["typ"] == "access"


async def test_jwks_verifies_tokens_and_keeps_the_old_key_after_rotation(
    tmp_path: Path, sandbox: SandboxHandle
) -> None:
    settings = make_settings(tmp_path, None, None, sandbox)
    async with running_app(settings) as (app, client):
        old = await sign_in(client, sandbox)
        old_kid = jwt.get_unverified_header(old["access_token"])["kid"]
        rotate(settings.key_dir)
        state_of(app).identity.tokens.keys.load(create=False)  # what the 5-second check does
        jwks = (await client.get("/.well-known/jwks.json")).json()
        kids = {k["kid"] for k in jwks["keys"]}
        assert old_kid in kids and len(kids) == 2
        new = await sign_in(client, sandbox)
        assert jwt.get_unverified_header(new["access_token"])["kid"] != old_kid
        # Tokens signed by the retired key keep working until they expire.
        assert (await client.get("/v1/me", headers=_auth(old["access_token"]))).status_code == 200
        # An independent verifier needs nothing but the JWKS.
        for tokens in (old, new):
            kid = jwt.get_unverified_header(tokens["access_token"])["kid"]
            jwk = next(k for k in jwks["keys"] if k["kid"] == kid)
            key = jwt.PyJWK(jwk).key
            verified = jwt.decode(
                tokens["access_token"],
                key,
                algorithms=["ES256"],
                audience="hefeitong-app",
                issuer="http://localhost:8000",
            )
            assert verified["sid"] == tokens["session_id"]
