"""Signing a citizen in for real: SMS code through the sandbox SMS gateway's inbox."""

from __future__ import annotations

import itertools
from typing import Any

import httpx

from integrations.sandbox import SandboxHandle

_numbers = itertools.count(10_000_000)


def new_phone() -> str:
    """A fresh mainland mobile number per call, so tests never share accounts."""
    return f"139{next(_numbers) % 100_000_000:08d}"


async def latest_code(sandbox: SandboxHandle, phone: str) -> str:
    async with httpx.AsyncClient() as client:
        inbox = (
            await client.get(f"{sandbox.urls['sms']}/__sandbox/sms/inbox", params={"phone": phone})
        ).json()
    # Newest first; other texts (application updates) may sit in the same inbox.
    return str(next(m for m in inbox["messages"] if "code" in m["params"])["params"]["code"])


async def sign_in(
    client: httpx.AsyncClient, sandbox: SandboxHandle, phone: str | None = None, **extra: Any
) -> dict[str, Any]:
    phone = phone or new_phone()
    sent = await client.post("/v1/auth/sms-codes", json={"phone": phone})
    assert sent.status_code == 202, sent.text
    code = await latest_code(sandbox, phone)
    response = await client.post("/v1/auth/login/sms", json={"phone": phone, "code": code, **extra})
    assert response.status_code == 200, response.text
    tokens: dict[str, Any] = response.json()
    tokens["phone"] = phone
    return tokens


async def platform_code(sandbox: SandboxHandle, platform: str, user: str) -> str:
    """A one-time login code from the sandbox WeChat/Alipay platform for this user."""
    async with httpx.AsyncClient() as client:
        response = await client.post(
            f"{sandbox.urls['mini_program']}/__sandbox/mini-program/codes",
            json={"platform": platform, "user": user},
        )
    response.raise_for_status()
    return str(response.json()["code"])


def bearer(tokens: dict[str, Any]) -> dict[str, str]:
    return {"Authorization": f"Bearer {tokens['access_token']}"}


async def sign_in_real_name(
    client: httpx.AsyncClient, sandbox: SandboxHandle, id_number: str
) -> dict[str, Any]:
    """A signed-in L2 citizen with this ID number: real-name check, then a refreshed token."""
    from integrations.sandbox import data

    tokens = await sign_in(client, sandbox)
    verified = await client.post(
        "/v1/me/real-name",
        json={"name": data.person_name(id_number), "id_number": id_number},
        headers=bearer(tokens),
    )
    assert verified.status_code == 200, verified.text
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
    )
    return dict(refreshed.json()) | {"phone": tokens["phone"], "id_number": id_number}


async def invitation_to(
    client: httpx.AsyncClient, invitee: dict[str, Any], credit_code: str
) -> dict[str, Any]:
    """The invitee's waiting invitation from the enterprise (it must be there)."""
    listed = await client.get("/v1/me/enterprise-invitations", headers=bearer(invitee))
    assert listed.status_code == 200, listed.text
    return next(i for i in listed.json()["items"] if i["credit_code"] == credit_code)


async def make_agent(
    client: httpx.AsyncClient,
    representative: dict[str, Any],
    agent: dict[str, Any],
    credit_code: str,
) -> None:
    """The legal representative invites ``agent`` (an L2 citizen), who accepts."""
    invited = await client.post(
        f"/v1/me/enterprises/{credit_code}/agents",
        json={"phone": agent["phone"]},
        headers=bearer(representative),
    )
    assert invited.status_code == 204, invited.text
    invitation = await invitation_to(client, agent, credit_code)
    accepted = await client.post(
        f"/v1/me/enterprise-invitations/{invitation['id']}/accept", headers=bearer(agent)
    )
    assert accepted.status_code == 200, accepted.text
