"""The home screen: every section at once, partial answers by the deadline."""

from __future__ import annotations

import time
from pathlib import Path

import httpx

from integrations.sandbox import SandboxHandle, data
from tests.conftest import make_settings, running_app
from tests.gateway.helpers import SandboxAdmin, citizen, headers


async def test_overview_has_every_section(client: httpx.AsyncClient) -> None:
    who = citizen("overview")
    response = await client.get("/v1/me/overview", headers=headers(who))
    assert response.status_code == 200, response.text
    body = response.json()
    sections = {k: v for k, v in body.items() if k != "generated_at"}
    assert {s["status"] for s in sections.values()} == {"ok"}
    assert (
        body["provident_fund"]["data"]["balance"] == (data.provident_fund_account(who)["balance"])
    )
    assert body["licence_points"]["data"]["points"] == int(data.licence_points(who)["LJJF"])
    assert (
        body["social_security"]["data"]["pension_balance"]
        == (data.social_security_balance(who)["PensionBalance"])
    )


async def test_overview_needs_a_signed_in_real_name_citizen(client: httpx.AsyncClient) -> None:
    anonymous = await client.get("/v1/me/overview")
    assert anonymous.status_code == 401
    assert anonymous.json()["code"] == "AUTHENTICATION_REQUIRED"
    assert "www-authenticate" in anonymous.headers
    low = await client.get("/v1/me/overview", headers=headers(citizen("l1"), level=1))
    assert low.status_code == 403


async def test_hung_department_does_not_hold_the_overview(
    tmp_path: Path, sandbox: SandboxHandle, admin: SandboxAdmin
) -> None:
    settings = make_settings(tmp_path, None, None, sandbox, overview_deadline=0.8)
    await admin.fault("hospital", hang=True)
    await admin.fault("provident_fund", error_rate=1.0, status=503)
    async with running_app(settings) as (_, client):
        started = time.monotonic()
        response = await client.get("/v1/me/overview", headers=headers(citizen("partial")))
        elapsed = time.monotonic() - started
    assert response.status_code == 200
    body = response.json()
    assert elapsed < 1.5
    assert body["appointments"] == {
        "status": "unavailable",
        "data": None,
        "fetched_at": None,
        "error": "ADAPTER_TIMEOUT",
    }
    assert body["provident_fund"]["status"] == "unavailable"
    assert body["provident_fund"]["error"] == "ADAPTER_UNAVAILABLE"
    assert body["social_security"]["status"] == "ok"
    assert body["licence_points"]["status"] == "ok"
