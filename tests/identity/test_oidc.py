"""A department's web system signs a citizen in, driven by an independent client (authlib)."""

from __future__ import annotations

from urllib.parse import parse_qs, urlsplit

import httpx
from authlib.common.security import generate_token
from authlib.integrations.httpx_client import AsyncOAuth2Client
from authlib.jose import JsonWebKey, JsonWebToken
from fastapi import FastAPI

from backend.app_state import state_of
from backend.identity.clients import create_client
from integrations.sandbox import SandboxHandle
from tests.identity.helpers import bearer, new_phone, sign_in
from tests.identity.oidc_helpers import sign_in_and_consent

CALLBACK = "https://bdc.example.gov.cn/oidc/callback"


async def _web_client(app: FastAPI) -> tuple[str, str]:
    async with state_of(app).sessions() as db, db.begin():
        client, secret = await create_client(
            db,
            "合肥市不动产登记网上办事大厅",
            kind="web",
            redirect_uris=[CALLBACK],
            scopes=["openid", "profile", "phone", "idcard"],
        )
    return client.client_id, secret


def _query(url: str) -> dict[str, str]:
    return {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}


async def test_authorization_code_flow_with_an_independent_client(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, api = app_client
    client_id, secret = await _web_client(app)
    transport = httpx.ASGITransport(app=app)
    config = (await api.get("/.well-known/openid-configuration")).json()
    oauth = AsyncOAuth2Client(
        client_id,
        secret,
        scope="openid phone",
        redirect_uri=CALLBACK,
        code_challenge_method="S256",
        transport=transport,
    )
    verifier, nonce = generate_token(48), generate_token(20)
    url, state = oauth.create_authorization_url(
        config["authorization_endpoint"], code_verifier=verifier, nonce=nonce
    )
    phone = new_phone()
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as browser:
        location = await sign_in_and_consent(browser, sandbox, url, phone)
        assert location.startswith(CALLBACK)
        assert _query(location)["state"] == state

        token = await oauth.fetch_token(
            config["token_endpoint"], authorization_response=location, code_verifier=verifier
        )
        jwks = JsonWebKey.import_key_set((await api.get("/.well-known/jwks.json")).json())
        claims = JsonWebToken(["ES256"]).decode(
            token["id_token"],
            jwks,
            claims_options={
                "iss": {"essential": True, "value": config["issuer"]},
                "aud": {"essential": True, "value": client_id},
                "nonce": {"essential": True, "value": nonce},
            },
        )
        claims.validate()
        info = (await oauth.get(config["userinfo_endpoint"])).json()
        assert info["sub"] == claims["sub"]
        assert info["phone_number"] == phone
        assert "id_number" not in info  # not asked for

        # The code worked once.
        replay = await api.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": _query(location)["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
            },
            auth=(client_id, secret),
        )
        assert replay.status_code == 400 and replay.json()["error"] == "invalid_grant"

        # Signed in and consented: the next authorization goes straight back with a code.
        again, _ = oauth.create_authorization_url(
            config["authorization_endpoint"], code_verifier=generate_token(48), nonce="n2"
        )
        direct = await browser.get(again)
        assert direct.status_code == 303 and "code=" in direct.headers["location"]

    # Withdrawing consent stops the release of data at once.
    citizen = await sign_in(api, sandbox, phone)
    consents = (await api.get("/v1/me/consents", headers=bearer(citizen))).json()["items"]
    assert [c["client_id"] for c in consents] == [client_id]
    withdrawn = await api.delete(f"/v1/me/consents/{client_id}", headers=bearer(citizen))
    assert withdrawn.status_code == 204
    assert (await oauth.get(config["userinfo_endpoint"])).status_code == 401


async def test_bad_authorization_requests(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, api = app_client
    client_id, _ = await _web_client(app)
    base = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid",
        "state": "s1",
        "code_challenge": "x" * 43,
        "code_challenge_method": "S256",
    }
    wrong_redirect = await api.get(
        "/oauth2/authorize", params=base | {"redirect_uri": "https://evil.example/cb"}
    )
    assert wrong_redirect.status_code == 400  # shown, never redirected to an unknown URI
    assert "回调地址未登记" in wrong_redirect.text
    no_pkce = await api.get("/oauth2/authorize", params=base | {"code_challenge_method": "plain"})
    assert no_pkce.status_code == 303
    assert _query(no_pkce.headers["location"]) == {
        "error": "invalid_request",
        "error_description": "PKCE with code_challenge_method=S256 is required",
        "state": "s1",
    }
    bad_scope = await api.get("/oauth2/authorize", params=base | {"scope": "profile"})
    assert _query(bad_scope.headers["location"])["error"] == "invalid_scope"


async def test_idcard_needs_a_real_name_account(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, _ = app_client
    client_id, secret = await _web_client(app)
    transport = httpx.ASGITransport(app=app)
    oauth = AsyncOAuth2Client(
        client_id, secret, scope="openid idcard", redirect_uri=CALLBACK,
        code_challenge_method="S256", transport=transport,
    )  # fmt: skip
    url, _ = oauth.create_authorization_url(
        "http://localhost:8000/oauth2/authorize", code_verifier=generate_token(48)
    )
    async with httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as browser:
        location = await sign_in_and_consent(browser, sandbox, url, new_phone())
    assert _query(location)["error"] == "access_denied"
