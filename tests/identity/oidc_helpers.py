"""Driving the OpenID Provider's pages the way a browser would (forms and cookies)."""

from __future__ import annotations

import re

import httpx

from integrations.sandbox import SandboxHandle
from tests.identity.helpers import latest_code

_FIELD = re.compile(r'name="(request|csrf)" value="([^"]+)"')


def form_fields(html: str) -> dict[str, str]:
    return dict(_FIELD.findall(html))


async def sign_in_and_consent(
    browser: httpx.AsyncClient, sandbox: SandboxHandle, authorize_url: str, phone: str
) -> str:
    """Follow the pages from the authorize URL to the redirect; returns its Location."""
    page = await browser.get(authorize_url)
    assert page.status_code == 200, page.text
    # The request id and the CSRF token bound to it and to this browser's cookie.
    form = form_fields(page.text)
    sent = await browser.post("/oauth2/sign-in/code", data={**form, "phone": phone})
    assert "验证码已发送" in sent.text
    code = await latest_code(sandbox, phone)
    consent = await browser.post("/oauth2/sign-in", data={**form, "phone": phone, "code": code})
    if consent.status_code == 303:  # consent remembered from before
        return consent.headers["location"]
    assert "授权确认" in consent.text, consent.text
    fields = form_fields(consent.text)
    done = await browser.post(
        "/oauth2/consent",
        data={"request": fields["request"], "csrf": fields["csrf"], "decision": "allow"},
    )
    assert done.status_code == 303, done.text
    return done.headers["location"]
