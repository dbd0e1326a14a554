"""The citizen's own lists, a page at a time: signed-in devices and linked enterprises."""

from __future__ import annotations

import uuid
from datetime import timedelta

import httpx
from fastapi import FastAPI

from backend.app_state import state_of
from backend.clock import utcnow
from backend.identity.models import Enterprise, EnterpriseLink
from integrations.sandbox import SandboxHandle, data
from tests.identity.helpers import bearer, new_phone, sign_in, sign_in_real_name
from tests.paging import pages


async def test_signed_in_devices_page_newest_first(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    phone = new_phone()
    devices = [f"设备{i}-{uuid.uuid4().hex[:6]}" for i in range(3)]
    signed_in = [await sign_in(client, sandbox, phone, device=device) for device in devices]
    newest = signed_in[-1]

    # Refreshing the oldest device while paging does not move it: the order is by sign-in.
    first = await client.get("/v1/me/sessions", params={"page_size": 2}, headers=bearer(newest))
    assert [s["device"] for s in first.json()["items"]] == [devices[2], devices[1]]
    assert first.json()["items"][0]["current"] is True
    refreshed = await client.post(
        "/v1/auth/refresh", json={"refresh_token": signed_in[0]["refresh_token"]}
    )
    assert refreshed.status_code == 200
    rest = await client.get(
        "/v1/me/sessions",
        params={"page_size": 2, "cursor": first.json()["next_cursor"]},
        headers=bearer(newest),
    )
    assert [s["device"] for s in rest.json()["items"]] == [devices[0]]
    assert rest.json()["next_cursor"] is None

    # A device signed out leaves the list.
    await client.post("/v1/auth/logout", headers=bearer(signed_in[1]))
    left = await pages(client, "/v1/me/sessions", bearer(newest), page_size=2)
    assert [[s["device"] for s in page] for page in left] == [[devices[2], devices[0]]]


async def test_linked_enterprises_page_newest_first(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    agent = await sign_in_real_name(client, sandbox, data.make_id_no(f"agent-{uuid.uuid4()}"))
    me = (await client.get("/v1/me", headers=bearer(agent))).json()["id"]
    # A bookkeeping clerk acting for several enterprises (linked here directly: linking
    # through the e-license library has tests of its own).
    start = utcnow() - timedelta(minutes=5)
    enterprises = [
        Enterprise(credit_code=uuid.uuid4().hex[:18].upper(), name=f"企业{i}", created_at=start)
        for i in range(3)
    ]
    links = [
        EnterpriseLink(
            enterprise_id=e.id,
            citizen_id=me,
            role="agent",
            created_at=start + timedelta(seconds=i),
        )
        for i, e in enumerate(enterprises)
    ]
    async with state_of(app).sessions() as db, db.begin():
        db.add_all(enterprises)
        await db.flush()
        db.add_all(links)

    listed = await pages(client, "/v1/me/enterprises", bearer(agent), page_size=2)
    assert [[e["name"] for e in page] for page in listed] == [["企业2", "企业1"], ["企业0"]]
    assert {e["role"] for page in listed for e in page} == {"agent"}
