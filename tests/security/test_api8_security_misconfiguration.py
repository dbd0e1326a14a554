"""OWASP API Security Top 10 (2023), API8: Security Misconfiguration.

The settings and headers a deployment gets by default: security headers on every response
(nosniff, referrer, framing, caching, HSTS in production), CSRF protection and Origin checks
on the OpenID Provider's forms, CORS only for configured origins, client addresses from
trusted proxies only, /metrics and the API docs exposure, refusal of guessable secrets, and
uploads served back only as attachments.
"""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

import httpx
import pytest
from fastapi import FastAPI

from backend.app_state import state_of
from backend.identity.clients import create_client
from backend.identity.keys import rotate
from backend.settings import Settings, UnsafeSettingsError
from integrations.sandbox import SandboxHandle
from tests.conftest import make_settings, running_app, sandbox_variables
from tests.identity import test_sign_in_browser
from tests.identity.helpers import bearer, latest_code, new_phone, sign_in
from tests.identity.oidc_helpers import form_fields
from tests.identity.test_sign_in_browser import CHROMIUM, CHROMIUM_ARGS
from tests.servers import free_port

ROOT = Path(__file__).resolve().parents[2]
CALLBACK = "https://wsbs.example.gov.cn/oidc/callback"
PDF = b"%PDF-1.7\n" + b"0" * 1024
# A real uvicorn server with a registered web client, as the browser test starts it.
browser_server = test_sign_in_browser.server


def random_key() -> str:
    return base64.b64encode(secrets.token_bytes(32)).decode()


def production_overrides(tmp_path: Path, sandbox: SandboxHandle) -> dict[str, object]:
    """What production needs set, generated the way the README says; the departments' keys
    as the compose topology names them (production refuses the specs' sandbox defaults)."""
    keys = tmp_path / "keys"
    rotate(keys)
    lines = (ROOT / "deploy" / "departments.sandbox.env").read_text(encoding="utf-8").splitlines()
    departments = dict(line.split("=", 1) for line in lines if line and not line.startswith("#"))
    return {
        "adapter_variables": departments | sandbox_variables(sandbox),
        "env": "production",
        "secret_key": secrets.token_hex(32),
        "signing_key_dir": keys,
        "pii_keys": "k1:" + random_key(),
        "pii_index_key": random_key(),
        # The tests' settings send SMS codes back to back; production keeps its back-off.
        "sms_backoff_seconds": Settings.model_fields["sms_backoff_seconds"].default,
    }


@dataclass
class Production:
    app: FastAPI
    client: httpx.AsyncClient


@pytest.fixture(scope="module")
async def production(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox: SandboxHandle,
    postgres_database: str,
    redis_url: str,
) -> AsyncIterator[Production]:
    """An app in production mode (PostgreSQL, Redis, real keys) with nothing else set."""
    tmp_path = tmp_path_factory.mktemp("production-mode")
    settings = make_settings(
        tmp_path, postgres_database, redis_url, sandbox, **production_overrides(tmp_path, sandbox)
    )
    async with running_app(settings) as (app, client):
        yield Production(app, client)


# --- headers on every response -------------------------------------------------------------


def hardened(response: httpx.Response) -> None:
    headers = response.headers
    assert headers["x-content-type-options"] == "nosniff", response.request.url
    assert headers["referrer-policy"] == "same-origin"
    assert headers["x-frame-options"] == "DENY"
    assert "frame-ancestors 'none'" in headers["content-security-policy"]


async def test_every_response_carries_the_security_headers(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    tokens = await sign_in(client, sandbox)
    for response in (
        await client.get("/healthz"),
        await client.get("/v1/domains"),
        await client.get("/v1/nothing-here"),  # a problem from the framework
        await client.post("/v1/auth/sms-codes", json={"phone": "1"}),  # a validation problem
        await client.post("/v1/services/hospital-directory/invoke", json={"params": {}}),
        await client.get("/v1/me", headers=bearer(tokens)),
    ):
        hardened(response)
        # JSON may not load or frame anything, whatever a browser makes of it.
        assert response.headers["content-security-policy"].startswith("default-src 'none'")


async def test_tokens_and_personal_data_are_never_stored_by_caches(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    phone = new_phone()
    await client.post("/v1/auth/sms-codes", json={"phone": phone})
    login = await client.post(
        "/v1/auth/login/sms", json={"phone": phone, "code": await latest_code(sandbox, phone)}
    )
    assert login.status_code == 200 and login.headers["cache-control"] == "no-store"
    me = await client.get("/v1/me", headers=bearer(login.json()))
    assert me.status_code == 200 and me.headers["cache-control"] == "no-store"
    # What is public and meant to be cached keeps its own policy.
    catalog = await client.get("/v1/domains")
    assert catalog.headers["cache-control"].startswith("public, max-age=")


async def test_hsts_in_production_and_not_over_plain_development_http(
    client: httpx.AsyncClient, production: Production
) -> None:
    assert "strict-transport-security" not in (await client.get("/healthz")).headers
    answered = await production.client.get("/healthz")
    assert answered.headers["strict-transport-security"] == "max-age=31536000; includeSubDomains"
    hardened(answered)


# --- the OpenID Provider's pages -------------------------------------------------------------


async def web_client(app: FastAPI) -> str:
    async with state_of(app).sessions() as db, db.begin():
        client, _ = await create_client(
            db, "合肥市政务服务网", kind="web", redirect_uris=[CALLBACK], scopes=["openid", "phone"]
        )
    return client.client_id


def authorize_url(client_id: str) -> str:
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid phone",
        "state": secrets.token_urlsafe(8),
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    return "/oauth2/authorize?" + urlencode(query)


@pytest.fixture
async def browsers(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> AsyncIterator[tuple[str, httpx.AsyncClient, httpx.AsyncClient]]:
    """A web client, and two browsers with cookie jars of their own: attacker's, victim's."""
    app, _ = app_client
    transport = httpx.ASGITransport(app=app)
    async with (
        httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as attacker,
        httpx.AsyncClient(transport=transport, base_url="http://localhost:8000") as victim,
    ):
        yield await web_client(app), attacker, victim


def refused_form(response: httpx.Response) -> None:
    assert response.status_code == 403, response.text
    assert re.search(r'id="error-code">CSRF_CHECK_FAILED<', response.text)
    assert "hft_sso" not in response.headers.get("set-cookie", "")


async def test_sign_in_pages_cannot_be_framed_or_run_scripts(
    browsers: tuple[str, httpx.AsyncClient, httpx.AsyncClient],
) -> None:
    client_id, browser, _ = browsers
    for page in (
        await browser.get(authorize_url(client_id)),
        await browser.get("/oauth2/authorize?client_id=nobody"),  # the error page
    ):
        assert page.headers["content-type"].startswith("text/html")
        hardened(page)
        policy = page.headers["content-security-policy"]
        assert "default-src 'none'" in policy and "script-src" not in policy
        assert page.headers["cache-control"] == "no-store"


async def test_a_sign_in_form_without_its_token_is_refused(
    browsers: tuple[str, httpx.AsyncClient, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    client_id, browser, _ = browsers
    form = form_fields((await browser.get(authorize_url(client_id))).text)
    assert set(form) == {"request", "csrf"}
    phone = new_phone()
    no_token = {"request": form["request"], "phone": phone}
    refused_form(await browser.post("/oauth2/sign-in/code", data=no_token))
    sent = await browser.post("/oauth2/sign-in/code", data=form | {"phone": phone})
    assert sent.status_code == 200 and "验证码已发送" in sent.text
    code = await latest_code(sandbox, phone)
    refused_form(await browser.post("/oauth2/sign-in", data=no_token | {"code": code}))
    wrong = form | {"csrf": "0" * 64, "phone": phone, "code": code}
    refused_form(await browser.post("/oauth2/sign-in", data=wrong))
    # The code was not used up by the refusals: the real form still signs in.
    signed_in = await browser.post("/oauth2/sign-in", data=form | {"phone": phone, "code": code})
    assert "授权确认" in signed_in.text, signed_in.text


async def test_another_site_cannot_sign_a_victim_in_as_the_attacker(
    browsers: tuple[str, httpx.AsyncClient, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    # Login CSRF: the attacker starts a sign-in in their own browser, receives the code for
    # their own phone, and has the victim's browser post it (an auto-submitting form on
    # their site). Had it worked, the victim's browser would hold the attacker's session
    # and the victim's next sign-ins to department sites would be the attacker's account.
    client_id, attacker, victim = browsers
    form = form_fields((await attacker.get(authorize_url(client_id))).text)
    phone = new_phone()
    await attacker.post("/oauth2/sign-in/code", data=form | {"phone": phone})
    forged = form | {"phone": phone, "code": await latest_code(sandbox, phone)}

    cross_site = {"Origin": "https://evil.example", "Sec-Fetch-Site": "cross-site"}
    refused_form(await victim.post("/oauth2/sign-in", data=forged, headers=cross_site))
    # A page under Referrer-Policy: no-referrer posts with "Origin: null".
    refused_form(await victim.post("/oauth2/sign-in", data=forged, headers={"Origin": "null"}))
    # A browser that sends no Origin: the token is bound to the attacker's browser cookie.
    refused_form(await victim.post("/oauth2/sign-in", data=forged))
    # Even a victim who had a sign-in page open has a cookie of their own.
    await victim.get(authorize_url(client_id))
    refused_form(await victim.post("/oauth2/sign-in", data=forged))
    assert "hft_sso" not in victim.cookies
    # And from our own pages, with our Origin, the attacker's own sign-in works.
    ours = {"Origin": "http://localhost:8000", "Sec-Fetch-Site": "same-origin"}
    signed_in = await attacker.post("/oauth2/sign-in", data=forged, headers=ours)
    assert "授权确认" in signed_in.text, signed_in.text


@pytest.mark.slow
async def test_chromium_posting_another_sites_form_is_refused(
    browser_server: tuple[str, str, str], sandbox: SandboxHandle
) -> None:
    # The login CSRF as a real browser meets it: a page on another site auto-submits the
    # attacker's form (request, token, phone, code) to our sign-in.
    from playwright.async_api import async_playwright

    base, client_id, _ = browser_server
    async with httpx.AsyncClient(base_url=base) as attacker:
        form = form_fields((await attacker.get(authorize_url(client_id))).text)
        phone = new_phone()
        await attacker.post("/oauth2/sign-in/code", data=form | {"phone": phone})
        forged = form | {"phone": phone, "code": await latest_code(sandbox, phone)}
    fields = "".join(f'<input type="hidden" name="{k}" value="{v}">' for k, v in forged.items())
    evil = (
        f'<form id="f" method="post" action="{base}/oauth2/sign-in">{fields}</form>'
        '<script>document.getElementById("f").submit()</script>'
    )
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context()
        page = await context.new_page()
        await page.route(
            "https://evil.example/**",
            lambda route: route.fulfill(body=evil, content_type="text/html"),
        )
        await page.goto("https://evil.example/")
        await page.wait_for_url(f"{base}/oauth2/sign-in")
        answered = await page.content()
        cookies = {c["name"] for c in await context.cookies()}
        await browser.close()
    assert "CSRF_CHECK_FAILED" in answered and "授权确认" not in answered
    assert "hft_sso" not in cookies


async def test_the_consent_form_checks_its_origin(
    browsers: tuple[str, httpx.AsyncClient, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    client_id, browser, _ = browsers
    form = form_fields((await browser.get(authorize_url(client_id))).text)
    phone = new_phone()
    await browser.post("/oauth2/sign-in/code", data=form | {"phone": phone})
    consent_page = await browser.post(
        "/oauth2/sign-in", data=form | {"phone": phone, "code": await latest_code(sandbox, phone)}
    )
    consent = form_fields(consent_page.text) | {"decision": "allow"}
    framed = await browser.post(
        "/oauth2/consent", data=consent, headers={"Origin": "https://evil.example"}
    )
    refused_form(framed)
    allowed = await browser.post("/oauth2/consent", data=consent)
    assert allowed.status_code == 303 and allowed.headers["location"].startswith(CALLBACK)


# --- CORS ------------------------------------------------------------------------------------

APP_ORIGIN = "https://app.hefeitong.gov.cn"


def preflight(origin: str) -> dict[str, str]:
    return {
        "Origin": origin,
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization, content-type",
    }


async def test_no_cross_origin_access_unless_configured(client: httpx.AsyncClient) -> None:
    asked = await client.options("/v1/auth/sms-codes", headers=preflight(APP_ORIGIN))
    assert "access-control-allow-origin" not in asked.headers
    simple = await client.get("/v1/domains", headers={"Origin": APP_ORIGIN})
    assert "access-control-allow-origin" not in simple.headers


async def test_configured_origins_and_only_those_may_call_from_a_browser(
    tmp_path: Path, sandbox: SandboxHandle
) -> None:
    settings = make_settings(tmp_path, None, None, sandbox, cors_origins=APP_ORIGIN)
    async with running_app(settings) as (_, client):
        allowed = await client.options("/v1/auth/sms-codes", headers=preflight(APP_ORIGIN))
        assert allowed.status_code == 200
        assert allowed.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "authorization" in allowed.headers["access-control-allow-headers"].lower()
        assert "access-control-allow-credentials" not in allowed.headers
        simple = await client.get("/v1/domains", headers={"Origin": APP_ORIGIN})
        assert simple.headers["access-control-allow-origin"] == APP_ORIGIN
        assert "x-request-id" in simple.headers["access-control-expose-headers"].lower()
        hardened(simple)

        other = "https://evil.example"
        refused = await client.options("/v1/auth/sms-codes", headers=preflight(other))
        assert "access-control-allow-origin" not in refused.headers
        simple = await client.get("/v1/domains", headers={"Origin": other})
        assert "access-control-allow-origin" not in simple.headers


@pytest.mark.parametrize("origins", ["*", "https://app.example/path", "app.example", "ftp://x"])
def test_an_origin_must_be_named_exactly(origins: str) -> None:
    with pytest.raises(ValueError, match="not an origin"):
        Settings(cors_origins=origins)


# --- client addresses and proxies ---------------------------------------------------------------


async def sms_codes_until_limited(client: httpx.AsyncClient, forwarded_for: bool) -> int | None:
    """Codes for fresh phones, each request claiming a fresh address in X-Forwarded-For:
    how many were sent before the per-address limit answered 429 (None: never, in 100)."""
    for n in range(100):
        spoofed = {"X-Forwarded-For": f"198.51.100.{n + 1}"} if forwarded_for else {}
        sent = await client.post("/v1/auth/sms-codes", json={"phone": new_phone()}, headers=spoofed)
        if sent.status_code == 429:
            return n
        assert sent.status_code == 202, sent.text
    return None


async def test_forwarded_addresses_count_only_from_trusted_proxies(
    tmp_path: Path, sandbox: SandboxHandle
) -> None:
    # The ASGI client's peer is 127.0.0.1: trusted in the first app, not in the second.
    trusting = make_settings(tmp_path / "a", None, None, sandbox, trusted_proxies="127.0.0.1")
    async with running_app(trusting) as (_, client):
        assert await sms_codes_until_limited(client, forwarded_for=True) is None
    others = make_settings(tmp_path / "b", None, None, sandbox, trusted_proxies="10.0.0.0/8")
    async with running_app(others) as (_, client):
        limited_after = await sms_codes_until_limited(client, forwarded_for=True)
        assert limited_after is not None and limited_after >= 1


@pytest.mark.parametrize("value", ["10.0.0.0/33", "proxy.internal", "10.0.0.1;10.0.0.2"])
def test_trusted_proxies_must_be_addresses_or_networks(value: str) -> None:
    with pytest.raises(ValueError, match="not an address or CIDR"):
        Settings(trusted_proxies=value)


def test_trusted_proxies_read_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("HEFEITONG_TRUSTED_PROXIES", "10.0.0.0/8, 192.168.1.10 fd00::/8")
    assert Settings().trusted_proxies == ["10.0.0.0/8", "192.168.1.10", "fd00::/8"]
    monkeypatch.delenv("HEFEITONG_TRUSTED_PROXIES")
    assert Settings().trusted_proxies == []  # none by default, production included


@pytest.mark.parametrize("everyone", ["0.0.0.0/0", "::/0", "10.0.0.0/8, 0.0.0.0/0"])
def test_production_refuses_to_trust_every_peer(everyone: str) -> None:
    with pytest.raises(UnsafeSettingsError, match="HEFEITONG_TRUSTED_PROXIES trusts every"):
        production_settings(trusted_proxies=everyone).check_safe()
    production_settings(trusted_proxies="10.0.0.0/8").check_safe()


@pytest.fixture
def served(tmp_path: Path, sandbox: SandboxHandle) -> Iterator[str]:
    """`hefeitong serve` as a user starts it, its peers on loopback (where uvicorn's own
    proxy-header handling believes X-Forwarded-For by default)."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEFEITONG_")}
    env |= {"HEFEITONG_VAR_DIR": str(tmp_path / "var"), "HEFEITONG_SANDBOX": "false"}
    env |= sandbox_variables(sandbox) | {"HEFEITONG_LOG_LEVEL": "WARNING"}
    port = free_port()
    command = [str(Path(sys.executable).parent / "hefeitong"), "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, env=env, cwd=tmp_path, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.2)
        yield base
    finally:
        server.terminate()
        server.wait(timeout=15)


@pytest.mark.slow
async def test_the_served_app_ignores_forwarded_for_from_its_loopback_peer(served: str) -> None:
    async with httpx.AsyncClient(base_url=served, timeout=10) as client:
        limited_after = await sms_codes_until_limited(client, forwarded_for=True)
    assert limited_after is not None, "X-Forwarded-For let every request count as new"


def test_the_image_runs_uvicorn_without_its_own_proxy_headers() -> None:
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    command = dockerfile[dockerfile.index("CMD") :]
    assert '"--no-proxy-headers"' in command
    assert "--forwarded-allow-ips" not in command


# --- /metrics and the API documents ------------------------------------------------------------


async def test_metrics_are_not_served_publicly_in_production(
    client: httpx.AsyncClient, production: Production
) -> None:
    assert (await client.get("/metrics")).status_code == 200  # development: public
    hidden = await production.client.get("/metrics")
    assert hidden.status_code == 404
    assert hidden.json()["code"] == "NOT_FOUND"


async def test_metrics_behind_a_bearer_token(tmp_path: Path, sandbox: SandboxHandle) -> None:
    token = secrets.token_urlsafe(32)
    settings = make_settings(tmp_path, None, None, sandbox, metrics_token=token)
    async with running_app(settings) as (_, client):
        for presented in ({}, {"Authorization": "Bearer " + token[:-1] + "x"}):
            refused = await client.get("/metrics", headers=presented)
            assert refused.status_code == 401
            assert refused.json()["code"] == "METRICS_TOKEN_INVALID"
            assert refused.headers["www-authenticate"].startswith("Bearer")
        scraped = await client.get("/metrics", headers={"Authorization": f"Bearer {token}"})
        assert scraped.status_code == 200
        assert "hefeitong_http_requests_total" in scraped.text


async def test_the_api_documents_can_be_withdrawn(
    client: httpx.AsyncClient, tmp_path: Path, sandbox: SandboxHandle
) -> None:
    docs = await client.get("/docs")
    assert docs.status_code == 200
    # Swagger UI loads from its CDN under a policy of its own, still unframeable.
    hardened(docs)
    assert "https://cdn.jsdelivr.net" in docs.headers["content-security-policy"]
    assert (await client.get("/openapi.json")).status_code == 200
    settings = make_settings(tmp_path, None, None, sandbox, public_api_docs=False)
    async with running_app(settings) as (app, closed):
        for path in ("/docs", "/redoc", "/openapi.json"):
            assert (await closed.get(path)).status_code == 404, path
        assert "/v1/uploads" in app.openapi()["paths"]  # `hefeitong openapi export` still works


# --- secrets --------------------------------------------------------------------------------------


def production_settings(**overrides: object) -> Settings:
    values: dict[str, object] = {
        "env": "production",
        "database_url": "postgresql+asyncpg://postgres@db/hft",
        "redis_url": "redis://cache:6379/0",
        "secret_key": secrets.token_hex(32),
        "signing_key_dir": "/run/secrets/keys",
        "pii_keys": "k1:" + random_key(),
        "pii_index_key": random_key(),
    }
    return Settings(**(values | overrides))  # type: ignore[arg-type]


@pytest.mark.parametrize(
    "guessable",
    [
        "x" * 48,  # a 32+ character secret of one letter was accepted
        "ab" * 24,
        "password" * 5,
        "0123456789" * 4,
        "abcdefghijklmnopqrstuvwxyz0123456789",
        "qwertyuiopasdfghjklzxcvbnm1234567890",
        "hefeitong-production-secret-2024!",
    ],
)
def test_production_refuses_a_guessable_secret_key(guessable: str) -> None:
    with pytest.raises(UnsafeSettingsError) as refused:
        production_settings(secret_key=guessable).check_safe()
    assert "HEFEITONG_SECRET_KEY is guessable" in str(refused.value)
    assert guessable not in str(refused.value)  # a refusal never repeats the secret


def test_production_refuses_guessable_data_keys_and_metrics_token() -> None:
    with pytest.raises(UnsafeSettingsError) as refused:
        production_settings(
            pii_keys="k1:" + random_key() + ",k2:" + "A" * 43 + "=",
            pii_index_key="QUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUFBQUE=",  # base64 of "AAA…"
            metrics_token="metrics-metrics-metrics-metrics",
        ).check_safe()
    for variable in ("HEFEITONG_PII_KEYS", "HEFEITONG_PII_INDEX_KEY", "HEFEITONG_METRICS_TOKEN"):
        assert f"{variable} is guessable" in str(refused.value)


@pytest.mark.parametrize(
    "generated",
    [secrets.token_hex(32), secrets.token_hex(16), secrets.token_urlsafe(24), random_key()],
    # Named, not shown: the values differ in every process that collects them (xdist workers).
    ids=["openssl rand -hex 32", "hex 16", "urlsafe 24", "base64 key"],
)
def test_generated_secrets_are_accepted(generated: str) -> None:
    production_settings(secret_key=generated, metrics_token=generated).check_safe()


# --- uploads served back --------------------------------------------------------------------------


async def test_an_upload_comes_back_only_as_an_attachment_of_its_checked_type(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner = bearer(await sign_in(client, sandbox))
    stored = await client.post(
        "/v1/uploads", content=PDF, headers=owner | {"Content-Type": "application/pdf"}
    )
    upload_id = stored.json()["id"]
    served = await client.get(f"/v1/uploads/{upload_id}", headers=owner)
    assert served.status_code == 200 and served.content == PDF
    assert served.headers["content-type"] == "application/pdf"
    assert served.headers["content-disposition"] == f'attachment; filename="{upload_id}.pdf"'
    assert served.headers["x-content-type-options"] == "nosniff"
    assert "sandbox" in served.headers["content-security-policy"]
    assert "no-store" in served.headers["cache-control"]
    # Someone else's upload, or none, is the same 404.
    stranger = bearer(await sign_in(client, sandbox))
    for who, which in ((stranger, upload_id), (owner, "0" * 36)):
        missing = await client.get(f"/v1/uploads/{which}", headers=who)
        assert missing.status_code == 404 and missing.json()["code"] == "UPLOAD_NOT_FOUND"
