"""Department systems get their own tokens with client credentials."""

from __future__ import annotations

import base64
from typing import Any

import httpx
import jwt
from fastapi import FastAPI

from backend.app_state import state_of
from backend.identity.clients import create_client


async def _register(app: FastAPI) -> tuple[str, str]:
    async with state_of(app).sessions() as db, db.begin():
        client, secret = await create_client(db, "合肥住房公积金管理中心", kind="department")
    return client.client_id, secret


def _basic(client_id: str, secret: str) -> dict[str, str]:
    pair = base64.b64encode(f"{client_id}:{secret}".encode()).decode()
    return {"Authorization": f"Basic {pair}"}


async def test_client_credentials_with_basic_and_post(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    client_id, secret = await _register(app)
    by_basic = await client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        headers=_basic(client_id, secret),
    )
    assert by_basic.status_code == 200, by_basic.text
    assert by_basic.headers["cache-control"] == "no-store"
    body: dict[str, Any] = by_basic.json()
    assert body["token_type"] == "Bearer" and body["expires_in"] == 900
    by_post = await client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "client_id": client_id, "client_secret": secret},
    )
    assert by_post.status_code == 200

    # The token verifies against the published keys, for the provider audience only.
    jwks = (await client.get("/.well-known/jwks.json")).json()
    kid = jwt.get_unverified_header(body["access_token"])["kid"]
    key = jwt.PyJWK(next(k for k in jwks["keys"] if k["kid"] == kid)).key
    claims = jwt.decode(
        body["access_token"], key, algorithms=["ES256"], audience="hefeitong-provider"
    )
    assert claims["sub"] == client_id
    assert "provider.applications" in claims["scope"].split()
    # …and it is not a citizen's token.
    me = await client.get("/v1/me", headers={"Authorization": f"Bearer {body['access_token']}"})
    assert me.status_code == 401


async def test_bad_client_credentials_are_refused(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    client_id, secret = await _register(app)
    for headers, data in (
        (_basic(client_id, "wrong"), {"grant_type": "client_credentials"}),
        (_basic("unknown", secret), {"grant_type": "client_credentials"}),
        ({}, {"grant_type": "client_credentials"}),
    ):
        response = await client.post("/oauth2/token", data=data, headers=headers)
        assert response.status_code == 401
        assert response.json()["error"] == "invalid_client"
        assert response.headers["www-authenticate"].startswith("Basic")
    grant = await client.post(
        "/oauth2/token", data={"grant_type": "password"}, headers=_basic(client_id, secret)
    )
    assert grant.status_code == 400 and grant.json()["error"] == "unsupported_grant_type"
    scope = await client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials", "scope": "admin"},
        headers=_basic(client_id, secret),
    )
    assert scope.status_code == 400 and scope.json()["error"] == "invalid_scope"


async def test_discovery_names_the_endpoints(client: httpx.AsyncClient) -> None:
    config = (await client.get("/.well-known/openid-configuration")).json()
    assert config["issuer"] == "http://localhost:8000"
    assert config["jwks_uri"].endswith("/.well-known/jwks.json")
    assert config["token_endpoint"].endswith("/oauth2/token")
    assert "client_credentials" in config["grant_types_supported"]
