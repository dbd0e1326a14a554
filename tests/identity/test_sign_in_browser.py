"""The sign-in and consent pages in a real headless browser, at a phone's size."""

from __future__ import annotations

import base64
import hashlib
import os
import re
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from urllib.parse import parse_qs, urlencode, urlsplit

import httpx
import pytest
from playwright.async_api import async_playwright

from integrations.sandbox import SandboxHandle
from tests.conftest import sandbox_variables
from tests.identity.helpers import latest_code, new_phone
from tests.servers import free_port

# Starts a server process and Chromium: ~20 s.
pytestmark = pytest.mark.slow

CALLBACK = "https://wsbs.example.gov.cn/oidc/callback"
CHROMIUM = shutil.which("chromium") or "/usr/bin/chromium"
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
]


@pytest.fixture
def server(tmp_path: Path, sandbox: SandboxHandle) -> Iterator[tuple[str, str, str]]:
    """A real uvicorn server with a registered web client: (base URL, client id, secret)."""
    if not Path(CHROMIUM).exists():
        pytest.fail("Chromium is missing: `make test` installs it (apt-get install chromium)")
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEFEITONG_")}
    env |= {"HEFEITONG_VAR_DIR": str(tmp_path / "var"), **sandbox_variables(sandbox)}
    hefeitong = str(Path(sys.executable).parent / "hefeitong")
    created = subprocess.run(
        [hefeitong, "clients", "create", "合肥市政务服务网", "--kind", "web",
         "--redirect-uri", CALLBACK],
        env=env, capture_output=True, text=True, check=True, cwd=tmp_path,
    ).stdout  # fmt: skip
    client_id = re.search(r"client_id: (\S+)", created).group(1)  # type: ignore[union-attr]
    secret = re.search(r"client_secret: (\S+)", created).group(1)  # type: ignore[union-attr]
    port = free_port()
    process = subprocess.Popen(
        [sys.executable, "-m", "uvicorn", "backend.main:app", "--port", str(port)],
        env=env | {"HEFEITONG_TOKEN_ISSUER": f"http://127.0.0.1:{port}"},
        cwd=Path(__file__).resolve().parents[2],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 60
    while True:
        try:
            if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                break
        except httpx.TransportError:
            pass
        assert process.poll() is None and time.monotonic() < deadline, "server did not start"
        time.sleep(0.2)
    yield base, client_id, secret
    process.terminate()
    process.wait(timeout=15)


async def test_sign_in_consent_and_redirect_in_chromium(
    server: tuple[str, str, str], sandbox: SandboxHandle, tmp_path: Path
) -> None:
    base, client_id, secret = server
    verifier = secrets.token_urlsafe(48)
    challenge = base64.urlsafe_b64encode(hashlib.sha256(verifier.encode()).digest())
    query = {
        "response_type": "code",
        "client_id": client_id,
        "redirect_uri": CALLBACK,
        "scope": "openid profile phone",
        "state": "st-123",
        "nonce": "n-456",
        "code_challenge": challenge.rstrip(b"=").decode(),
        "code_challenge_method": "S256",
    }
    phone = new_phone()
    async with async_playwright() as playwright:
        browser = await playwright.chromium.launch(executable_path=CHROMIUM, args=CHROMIUM_ARGS)
        context = await browser.new_context(
            viewport={"width": 390, "height": 844}, is_mobile=True, has_touch=True, locale="zh-CN"
        )
        page = await context.new_page()
        # The department's site is not here: answer its callback URL in the browser itself.
        await page.route(f"{CALLBACK}**", lambda route: route.fulfill(body="callback"))
        await page.goto(f"{base}/oauth2/authorize?{urlencode(query)}")
        assert "合肥市政务服务网" in await page.content()
        await page.fill("#phone", phone)
        await page.click("#send-code")
        await page.wait_for_selector("#code")
        await page.fill("#code", await latest_code(sandbox, phone))
        await page.click("#sign-in")
        await page.wait_for_selector("#allow")
        assert "手机号码" in await page.inner_text("main")
        # Laid out for the phone: the page is no wider than its screen.
        assert await page.evaluate("document.documentElement.scrollWidth") <= 390
        await page.screenshot(path=str(tmp_path / "consent.png"))
        await page.click("#allow")
        await page.wait_for_url(f"{CALLBACK}**")
        redirected = {k: v[0] for k, v in parse_qs(urlsplit(page.url).query).items()}
        await browser.close()
    assert redirected["state"] == "st-123"
    async with httpx.AsyncClient(base_url=base) as department:
        token = await department.post(
            "/oauth2/token",
            data={
                "grant_type": "authorization_code",
                "code": redirected["code"],
                "redirect_uri": CALLBACK,
                "code_verifier": verifier,
            },
            auth=(client_id, secret),
        )
        assert token.status_code == 200, token.text
        access = token.json()["access_token"]
        info = (
            await department.get("/oauth2/userinfo", headers={"Authorization": f"Bearer {access}"})
        ).json()
    assert info["phone_number"] == phone
