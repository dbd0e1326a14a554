"""WeChat and Alipay mini-program sign-in through the sandbox platforms."""

from __future__ import annotations

import uuid

import httpx

from integrations.sandbox import SandboxHandle
from tests.identity.helpers import bearer, latest_code, new_phone, platform_code


async def _login(client: httpx.AsyncClient, platform: str, code: str) -> httpx.Response:
    return await client.post(
        "/v1/auth/login/mini-program", json={"platform": platform, "code": code}
    )


async def test_first_login_binds_by_phone_then_code_login_goes_straight_in(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    user = f"wx-user-{uuid.uuid4()}"
    first = await _login(client, "wechat", await platform_code(sandbox, "wechat", user))
    assert first.status_code == 200, first.text
    pending = first.json()
    assert pending["bound"] is False and pending["tokens"] is None
    assert pending["ticket_expires_in"] == 600

    phone = new_phone()
    await client.post("/v1/auth/sms-codes", json={"phone": phone})
    bound = await client.post(
        "/v1/auth/login/mini-program/bind",
        json={
            "binding_ticket": pending["binding_ticket"],
            "phone": phone,
            "code": await latest_code(sandbox, phone),
        },
    )
    assert bound.status_code == 200, bound.text
    me = (await client.get("/v1/me", headers=bearer(bound.json()))).json()
    sessions = (await client.get("/v1/me/sessions", headers=bearer(bound.json()))).json()
    assert sessions["items"][0]["client"] == "mini_program"

    again = await _login(client, "wechat", await platform_code(sandbox, "wechat", user))
    result = again.json()
    assert result["bound"] is True
    assert (await client.get("/v1/me", headers=bearer(result["tokens"]))).json()["id"] == me["id"]

    # The ticket was single use.
    replay = await client.post(
        "/v1/auth/login/mini-program/bind",
        json={"binding_ticket": pending["binding_ticket"], "phone": phone, "code": "000000"},
    )
    assert replay.status_code == 401
    assert replay.json()["code"] == "BINDING_TICKET_INVALID"


async def test_used_code_is_the_platforms_refusal(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    code = await platform_code(sandbox, "wechat", f"wx-{uuid.uuid4()}")
    assert (await _login(client, "wechat", code)).status_code == 200
    reused = await _login(client, "wechat", code)
    assert reused.status_code == 422
    assert reused.json()["code"] == "DEPARTMENT_REJECTED"


async def test_alipay_code_login(client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    code = await platform_code(sandbox, "alipay", f"ali-{uuid.uuid4()}")
    response = await _login(client, "alipay", code)
    assert response.status_code == 200, response.text
    assert response.json()["bound"] is False
    unknown = await _login(client, "alipay", "not-a-code")
    assert unknown.status_code == 422
