"""Every status change reaches the citizen exactly once, even if the worker dies."""

from __future__ import annotations

import asyncio
import contextlib
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
from fastapi import FastAPI

from backend.app_state import state_of
from backend.applications.notifications import deliver_pending, events_channel, run_worker
from backend.applications.timeline import OUTBOX_CHANNEL
from backend.kv import KV
from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import as_department, department_token, fill, submit
from tests.identity.helpers import bearer, sign_in_real_name
from tests.servers import listening

CODE = "maternal-health-handbook"


async def _inbox(sandbox: SandboxHandle, phone: str) -> list[dict[str, Any]]:
    async with httpx.AsyncClient() as client:
        response = await client.get(
            f"{sandbox.urls['sms']}/__sandbox/sms/inbox", params={"phone": phone}
        )
    return [m for m in response.json()["messages"] if "code" not in m["params"]]


async def test_changes_become_messages_once_even_after_a_crash(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"msg-{uuid.uuid4()}"))
    app_id = (await submit(client, citizen, CODE))["id"]
    dept = as_department(await department_token(app, client, "hf-health"))
    await client.post(f"/v1/provider/applications/{app_id}/accept", headers=dept)
    await client.post(
        f"/v1/provider/applications/{app_id}/supplement",
        json={"missing": ["产检记录"]},
        headers=dept,
    )
    # Committed, but no worker has run yet (as if it died right after the commits).
    before = (await client.get("/v1/me/messages", headers=bearer(citizen))).json()
    assert before == {"items": [], "next_cursor": None, "unread": 0}

    identity, sessions = state_of(app).identity, state_of(app).sessions
    # (The PostgreSQL database is shared by the session's tests: drain everything pending.)
    while await deliver_pending(sessions, identity):
        pass
    assert await deliver_pending(sessions, identity) == 0  # a second pass finds nothing to do
    after = (await client.get("/v1/me/messages", headers=bearer(citizen))).json()
    assert after["unread"] == 4  # submitted, accepted, in_review, supplement_required
    assert after["items"][0]["title"] == "需要补正材料"
    texts = await _inbox(sandbox, citizen["phone"])
    assert [t["params"]["status"] for t in texts] == ["需要补正材料"]  # only what needs action

    newest = after["items"][0]["id"]
    read = await client.post(f"/v1/me/messages/{newest}/read", headers=bearer(citizen))
    assert read.status_code == 204
    unread = (await client.get("/v1/me/messages?unread_only=true", headers=bearer(citizen))).json()
    assert unread["unread"] == 3 and newest not in {m["id"] for m in unread["items"]}

    other = await sign_in_real_name(client, sandbox, data.make_id_no(f"msg2-{uuid.uuid4()}"))
    stranger = await client.post(f"/v1/me/messages/{newest}/read", headers=bearer(other))
    assert stranger.status_code == 404


async def test_two_workers_at_once_still_deliver_each_event_once(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"pair-{uuid.uuid4()}"))
    app_id = (await submit(client, citizen, CODE))["id"]
    dept = as_department(await department_token(app, client, "hf-health"))
    await client.post(f"/v1/provider/applications/{app_id}/accept", headers=dept)
    for missing in (["产检记录"], ["身份证复印件"]):
        await client.post(
            f"/v1/provider/applications/{app_id}/supplement",
            json={"missing": missing},
            headers=dept,
        )
        await client.post(
            f"/v1/applications/{app_id}/supplements", json={}, headers=bearer(citizen)
        )

    async def drain() -> None:
        while await deliver_pending(state_of(app).sessions, state_of(app).identity, limit=3):
            pass

    await asyncio.gather(drain(), drain())
    messages = (await client.get("/v1/me/messages", headers=bearer(citizen))).json()
    # submitted, accepted, in_review, then (supplement_required, in_review) twice
    assert messages["unread"] == 7
    texts = await _inbox(sandbox, citizen["phone"])
    assert [t["params"]["status"] for t in texts] == ["需要补正材料", "需要补正材料"]


async def _until_listened_to(kv: KV, channel: str, *, within: float = 10.0) -> None:
    """Return once someone subscribes to ``channel``.

    Polled, because nothing announces a subscription; each probe is an empty announcement,
    which a listening worker takes as one more "look at the outbox" (harmless).
    """
    async with asyncio.timeout(within):
        while await kv.publish(channel, b"") == 0:  # noqa: ASYNC110 (no event exists)
            await asyncio.sleep(0.02)


async def _hear_each(messages: AsyncIterator[tuple[str, bytes]], channels: set[str]) -> None:
    """Return once every one of ``channels`` has carried a (non-empty) message."""
    async for channel, message in messages:
        if message:
            channels.discard(channel)
        if not channels:
            return


async def test_a_committed_change_wakes_the_worker(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    kv: KV = state_of(app).kv
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"wake-{uuid.uuid4()}"))
    me = (await client.get("/v1/me", headers=bearer(citizen))).json()
    # A minute between passes: only the announcement through the KV store (Redis in the
    # postgres+redis run) can explain a delivery within seconds.
    worker = asyncio.create_task(
        run_worker(state_of(app).sessions, state_of(app).identity, interval=60)
    )
    try:
        await _until_listened_to(kv, OUTBOX_CHANNEL)
        delivered = events_channel(me["id"])  # the worker publishes each delivered event here
        async with kv.subscribe(OUTBOX_CHANNEL, delivered) as messages:
            await client.post(
                "/v1/applications",
                json={"service_code": CODE, "form": fill(CODE)},
                headers=bearer(citizen) | {"Idempotency-Key": f"k-{uuid.uuid4()}"},
            )
            # The commit announces itself, and the worker delivers within seconds.
            await asyncio.wait_for(_hear_each(messages, {OUTBOX_CHANNEL, delivered}), 10)
        inbox = (await client.get("/v1/me/messages", headers=bearer(citizen))).json()
        assert inbox["unread"] == 1 and inbox["items"][0]["title"] == "申请已提交"
    finally:
        worker.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await worker


async def test_live_events_stream(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, _ = app_client
    # Over a real HTTP server: the in-memory ASGI transport buffers whole responses.
    async with (
        listening(app, lifespan="off") as url,
        httpx.AsyncClient(base_url=url, timeout=10) as client,
    ):
        citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"sse-{uuid.uuid4()}"))
        received: list[str] = []
        connected = asyncio.Event()

        async def listen() -> None:
            async with client.stream("GET", "/v1/me/events", headers=bearer(citizen)) as stream:
                async for line in stream.aiter_lines():
                    received.append(line)
                    connected.set()  # the ": connected" comment: subscription is live
                    if line.startswith("data:"):
                        return

        listener = asyncio.create_task(listen())
        await asyncio.wait_for(connected.wait(), 5)
        await client.post(
            "/v1/applications",
            json={"service_code": CODE, "form": fill(CODE)},
            headers=bearer(citizen) | {"Idempotency-Key": f"k-{uuid.uuid4()}"},
        )
        await deliver_pending(state_of(app).sessions, state_of(app).identity)
        await asyncio.wait_for(listener, 5)
    assert "event: application" in received
    assert '"status": "submitted"' in received[-1]
