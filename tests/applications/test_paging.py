"""Lists of the applications feature, a page at a time: my applications, my messages, a
department's callbacks and rectifications. Cursors survive new rows arriving while a client
pages; a page has a hard maximum size; a cursor the API did not give out is a 422."""

from __future__ import annotations

import asyncio
import uuid
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from backend.app_state import state_of
from backend.applications.models import Message, Rectification, WebhookReceipt
from backend.clock import utcnow
from backend.pagination import MAX_PAGE_SIZE, Cursor
from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import as_department, department_token, submit
from tests.identity.helpers import bearer, sign_in_real_name
from tests.paging import every_item, pages

CODE = "maternal-health-handbook"  # L2, a simple form, no materials required
TOTAL = 250
AT_START = 100
PAGE = 10
# Submissions in flight at once. Measured (250 through the API, per backend): 1 → 4.0-5.4 s,
# 4 → 3.3-3.8 s, 8 → 5.6-6.4 s on the shared 2-core machine.
MAKERS = 4


async def _submit_many(client: httpx.AsyncClient, citizen: dict[str, Any], count: int) -> set[str]:
    """``count`` applications through the API, a few at a time."""
    queue = iter(range(count))
    made: set[str] = set()

    async def maker() -> None:
        for _ in queue:
            made.add((await submit(client, citizen, CODE))["id"])

    await asyncio.gather(*(maker() for _ in range(MAKERS)))
    return made


def _newest_first(items: list[dict[str, Any]]) -> list[str]:
    """The ids in the order the lists promise: newest first, ties by id (highest first)."""
    ordered = sorted(
        items, key=lambda i: (datetime.fromisoformat(i["created_at"]), i["id"]), reverse=True
    )
    return [i["id"] for i in ordered]


async def _citizen(client: httpx.AsyncClient, sandbox: SandboxHandle, seed: str) -> dict[str, Any]:
    return await sign_in_real_name(client, sandbox, data.make_id_no(f"{seed}-{uuid.uuid4()}"))


async def test_paging_through_250_applications_while_more_arrive_sees_each_once(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    citizen = await _citizen(client, sandbox, "pages")
    existing = await _submit_many(client, citizen, AT_START)

    # One pass, a small page at a time; after each page more applications arrive, until
    # there are 250. They are newer than where the pass is, so it never meets them.
    seen: list[dict[str, Any]] = []
    cursor: str | None = None
    later: set[str] = set()
    while True:
        params = {"page_size": PAGE} | ({"cursor": cursor} if cursor else {})
        page = await client.get("/v1/applications", params=params, headers=bearer(citizen))
        assert page.status_code == 200, page.text
        body = page.json()
        assert len(body["items"]) <= PAGE
        seen.extend(body["items"])
        cursor = body["next_cursor"]
        if len(existing) + len(later) < TOTAL:
            later |= await _submit_many(client, citizen, (TOTAL - AT_START) // (AT_START // PAGE))
        if cursor is None:
            break
    assert len(existing) + len(later) == TOTAL
    ids = [i["id"] for i in seen]
    assert len(ids) == len(set(ids)), "an application came twice in one pass"
    assert set(ids) == existing, "the pass skipped one that was there, or met a new one"
    assert ids == _newest_first(seen)

    # A fresh pass sees all 250, each once, newest first.
    everything = await every_item(client, "/v1/applications", bearer(citizen), page_size=PAGE * 4)
    all_ids = [i["id"] for i in everything]
    assert len(all_ids) == TOTAL and set(all_ids) == existing | later
    assert all_ids == _newest_first(everything)


async def test_page_size_cap_cursors_the_old_limit_and_the_status_filter(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    citizen = await _citizen(client, sandbox, "limits")
    submitted = [(await submit(client, citizen, CODE))["id"] for _ in range(3)]
    draft = (await submit(client, citizen, CODE, draft=True))["id"]
    mine = bearer(citizen)

    for size in (MAX_PAGE_SIZE + 1, 0):
        refused = await client.get("/v1/applications", params={"page_size": size}, headers=mine)
        assert refused.status_code == 422
        assert refused.headers["content-type"].startswith("application/problem+json")
        assert refused.json()["code"] == "VALIDATION_FAILED"
    # A cursor the API never gave out, and one of another list (a version number where ids
    # are strings: the database would refuse the comparison).
    for cursor in ("not-a-cursor", Cursor(utcnow(), 7).encode()):
        refused = await client.get("/v1/applications", params={"cursor": cursor}, headers=mine)
        assert refused.status_code == 422, refused.text
        assert refused.json()["code"] == "VALIDATION_FAILED"
        assert refused.json()["errors"][0]["location"] == ["query", "cursor"]

    # Installed apps send `limit`: it still sizes the page, and the rest is reachable.
    old = await client.get("/v1/applications", params={"limit": 2}, headers=mine)
    assert [i["id"] for i in old.json()["items"]] == [draft, submitted[2]]
    assert old.json()["next_cursor"] is not None
    # Without a size: the default (20), so all four and no next page.
    assert (await client.get("/v1/applications", headers=mine)).json()["next_cursor"] is None

    # The status filter holds on every page.
    by_status = await pages(client, "/v1/applications", mine, status="submitted", page_size=2)
    assert [[i["id"] for i in page] for page in by_status] == [
        [submitted[2], submitted[1]],
        [submitted[0]],
    ]
    drafts = await pages(client, "/v1/applications", mine, status="draft", page_size=2)
    assert [[i["id"] for i in page] for page in drafts] == [[draft]]


async def _add(app: FastAPI, rows: list[Any]) -> None:
    async with state_of(app).sessions() as db, db.begin():
        db.add_all(rows)


async def test_messages_page_and_the_unread_count_covers_them_all(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen = await _citizen(client, sandbox, "inbox")
    mine = bearer(citizen)
    me = (await client.get("/v1/me", headers=mine)).json()["id"]
    # 55 messages (more than a page, even the default 50), seven to a time (delivered in the
    # same instant), so pages end between messages of equal times: the id breaks the tie.
    start = utcnow() - timedelta(hours=1)
    times = [start + timedelta(seconds=i // 7) for i in range(55)]
    await _add(
        app,
        [
            Message(
                citizen_id=me,
                event_id=str(uuid.uuid4()),
                application_id=str(uuid.uuid4()),
                title="申请已受理",
                body=f"第{i}条",
                created_at=at,
            )
            for i, at in enumerate(times)
        ],
    )

    # An installed app that names no size gets the 50 it always got, and now a cursor.
    first = (await client.get("/v1/me/messages", headers=mine)).json()
    assert len(first["items"]) == 50 and first["next_cursor"] is not None
    assert first["unread"] == 55

    every = await pages(client, "/v1/me/messages", mine, page_size=20)
    assert [len(p) for p in every] == [20, 20, 15]
    items = [m for p in every for m in p]
    assert len({m["id"] for m in items}) == 55
    assert [m["id"] for m in items] == _newest_first(items)

    # Read 30 of them, on several pages: the count is of all unread, not of one page.
    read = items[5:35]
    for message in read:
        done = await client.post(f"/v1/me/messages/{message['id']}/read", headers=mine)
        assert done.status_code == 204
    again = await client.get("/v1/me/messages", params={"page_size": 5}, headers=mine)
    assert again.json()["unread"] == 25
    unread = await pages(client, "/v1/me/messages", mine, unread_only="true", page_size=10)
    assert [len(p) for p in unread] == [10, 10, 5]
    unread_ids = [m["id"] for p in unread for m in p]
    assert set(unread_ids) == {m["id"] for m in items} - {m["id"] for m in read}
    assert all(not m["read"] for p in unread for m in p)


async def test_a_departments_callbacks_and_rectifications_page(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    department = f"hf-paging-{uuid.uuid4().hex[:8]}"
    token = as_department(await department_token(app, client, department))
    start = utcnow() - timedelta(minutes=5)
    receipts = [
        WebhookReceipt(
            department_code=department,
            webhook_id=f"msg_{i}",
            event_type="application.accepted",
            outcome="applied",
            received_at=start + timedelta(seconds=i),
        )
        for i in range(3)
    ]
    citizen = await _citizen(client, sandbox, "rectified")
    applications = [(await submit(client, citizen, CODE))["id"] for _ in range(3)]
    rectifications = [
        Rectification(
            application_id=application_id,
            department_code=department,
            score=1,
            status="resolved" if i == 1 else "open",
            due_on=date(2026, 12, 31),
            created_at=start + timedelta(seconds=i),
        )
        for i, application_id in enumerate(applications)
    ]
    await _add(app, [*receipts, *rectifications])

    callbacks = await pages(client, "/v1/provider/callbacks", token, page_size=2)
    assert [[r["webhook_id"] for r in p] for p in callbacks] == [["msg_2", "msg_1"], ["msg_0"]]

    listed = await pages(client, "/v1/provider/rectifications", token, page_size=2)
    assert [[r["application_id"] for r in p] for p in listed] == [
        [applications[2], applications[1]],
        [applications[0]],
    ]
    still_open = await pages(client, "/v1/provider/rectifications", token, status="open")
    assert [[r["application_id"] for r in p] for p in still_open] == [
        [applications[2], applications[0]]
    ]
