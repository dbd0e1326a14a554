"""Delivering status changes from the outbox: message centre, SMS, live events.

The worker takes undelivered outbox rows in order, writes one message per event (a
unique event id, so a retry after a crash can never make a second one), sends an SMS
for the changes that need the citizen, publishes to their live stream and marks the
event delivered. Killed between commit and delivery, it delivers on the next pass.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import time
from collections.abc import Awaitable, Callable

import structlog
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications.models import Application, Message, OutboxEvent
from backend.applications.poller import CatalogSource, poll_round
from backend.applications.timeline import OUTBOX_CHANNEL
from backend.background import one_pass
from backend.clock import utcnow
from backend.identity import Identity

log = structlog.get_logger("hefeitong.notifications")

TITLES = {
    "submitted": "申请已提交",
    "accepted": "申请已受理",
    "in_review": "申请审查中",
    "supplement_required": "需要补正材料",
    "approved": "申请已通过",
    "rejected": "申请未通过",
    "completed": "办件已办结",
    "withdrawn": "申请已撤回",
    "draft": "草稿已保存",
}
# The changes worth a text message: the citizen has to act, or the matter is decided.
SMS_STATUSES = {"supplement_required", "approved", "rejected", "completed"}


def events_channel(citizen_id: str) -> str:
    return f"events:{citizen_id}"


async def deliver_pending(
    sessions: async_sessionmaker[AsyncSession], identity: Identity, *, limit: int = 100
) -> int:
    """One pass over the outbox; returns how many events were delivered."""
    async with sessions() as db:
        pending = (
            await db.exec(
                select(OutboxEvent)
                .where(col(OutboxEvent.delivered_at).is_(None))
                .order_by(col(OutboxEvent.id))
                .limit(limit)
            )
        ).all()
    delivered = 0
    for event in pending:
        async with sessions() as db, db.begin():
            # Locked (PostgreSQL; SQLite has one writer anyway) and skipped while another
            # worker holds it, so two workers never text the citizen twice.
            fresh = (
                await db.exec(
                    select(OutboxEvent)
                    .where(OutboxEvent.id == event.id, col(OutboxEvent.delivered_at).is_(None))
                    .with_for_update(skip_locked=True)
                )
            ).first()
            if fresh is None:
                continue  # another worker got there first
            application = await db.get(Application, event.application_id)
            title = TITLES.get(event.status, "办件状态更新")
            body = f"{application.number if application else ''} {title}" + (
                f"：{event.note}" if event.note else ""
            )
            try:
                async with db.begin_nested():
                    db.add(
                        Message(
                            citizen_id=event.citizen_id,
                            event_id=event.id,
                            application_id=event.application_id,
                            title=title,
                            body=body[:1000],
                            created_at=utcnow(),
                        )
                    )
            except IntegrityError:
                # Another worker wrote it a moment ago (the message and the mark commit
                # together, so this is never a half-finished pass): its SMS went too.
                continue
            fresh.delivered_at = utcnow()
            db.add(fresh)
            if event.status in SMS_STATUSES and application is not None:
                await _text(identity, db, event.citizen_id, application.number, title)
        await identity.kv.publish(
            events_channel(event.citizen_id),
            json.dumps({"application_id": event.application_id, "status": event.status}),
        )
        delivered += 1
    return delivered


async def _text(
    identity: Identity, db: AsyncSession, citizen_id: str, number: str, title: str
) -> None:
    phone = await identity.phone_of(db, citizen_id)
    if phone is None:
        return
    try:
        await identity.department(
            "sms",
            "send",
            {
                "phone": phone,
                "template": "SMS_APPLICATION",
                "values": {"number": number, "status": title},
            },
        )
    except Exception:
        log.warning("application_sms_failed", application=number)


async def run_worker(
    sessions: async_sessionmaker[AsyncSession],
    identity: Identity,
    *,
    interval: float = 5.0,
    catalog: CatalogSource | None = None,
    poll_interval: float = 0.0,
) -> None:
    """Deliver forever (``hefeitong worker``, or a task in the embedded server); given the
    catalog, also poll the query-only departments every ``poll_interval`` seconds."""
    async with asyncio.TaskGroup() as loops:
        loops.create_task(_deliver_forever(sessions, identity, interval))
        if catalog is not None and poll_interval > 0:
            # Its own loop: a slow department must not hold up the citizens' notifications.
            loops.create_task(
                _every(
                    poll_interval,
                    "poll_pass_failed",
                    lambda: poll_round(
                        identity.kv, sessions, identity.invoker, catalog.snapshot, poll_interval
                    ),
                )
            )


async def _deliver_forever(
    sessions: async_sessionmaker[AsyncSession], identity: Identity, interval: float
) -> None:
    """A pass whenever a committed change announces itself on the KV store (Redis in
    production, so an API process wakes the worker process), and every ``interval``
    seconds regardless: the outbox table, not the announcement, is the queue, so a
    wake-up lost while the worker was down or Redis blinked only delays delivery."""
    wake = asyncio.Event()

    async def listen() -> None:
        while True:
            with one_pass(log, "outbox_wake_up_lost", warning=True):
                async with identity.kv.subscribe(OUTBOX_CHANNEL) as announcements:
                    wake.set()  # subscribed: look once for what came before
                    async for _ in announcements:
                        wake.set()
            await asyncio.sleep(interval)  # the subscription was lost: try again later

    listener = asyncio.create_task(listen())
    try:
        while True:
            wake.clear()
            with one_pass(log, "outbox_pass_failed"):
                while await deliver_pending(sessions, identity):
                    pass  # a full batch: there may be more
            # Not asyncio.wait_for: on 3.11 it can swallow a cancellation (background.py).
            with contextlib.suppress(TimeoutError):
                async with asyncio.timeout(interval):
                    await wake.wait()
    finally:
        listener.cancel()


async def _every(interval: float, failure: str, work: Callable[[], Awaitable[object]]) -> None:
    """Run ``work`` every ``interval`` seconds; a failed pass is logged, never fatal."""
    while True:
        started = time.monotonic()
        with one_pass(log, failure):
            await work()
        await asyncio.sleep(max(0.0, interval - (time.monotonic() - started)))
