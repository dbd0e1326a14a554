"""Changing an application's status, and everything that goes with each change.

A change passes the state machine, and in the same transaction gets its timeline entry,
its outbox event (the notification worker delivers it), the deadline clock's pause or
resume and the running statistics, so they commit (or vanish) together.
"""

from __future__ import annotations

from datetime import datetime

from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications import deadlines, stats
from backend.applications.models import Application, OutboxEvent, TimelineEntry
from backend.applications.state_machine import Actor, Status, check
from backend.applications.working_days import load_calendar
from backend.clock import china_date, utcnow
from backend.db import publish_after_commit

# Workers listen here to deliver new outbox events at once instead of at their next pass.
OUTBOX_CHANNEL = "applications:outbox"
# The clock stops for good: the matter is decided and delivered, refused or withdrawn.
FINISHED = (Status.COMPLETED, Status.REJECTED, Status.WITHDRAWN)


async def transition(
    db: AsyncSession,
    application: Application,
    target: Status,
    actor: Actor,
    actor_id: str,
    note: str | None,
) -> None:
    """Change status through the state machine, recording it on the timeline."""
    current = Status(application.status)
    check(current, target, actor)
    application.status, application.updated_at = target, utcnow()
    db.add(application)
    await record_change(db, application, current, target, actor, actor_id, note)


def add_note(
    db: AsyncSession, application: Application, actor: Actor, actor_id: str, note: str
) -> None:
    """A timeline entry that changes no status (a department's opinion, a trip)."""
    db.add(
        TimelineEntry(
            application_id=application.id,
            at=utcnow(),
            actor=actor,
            actor_id=actor_id,
            from_status=application.status,
            to_status=application.status,
            note=note,
        )
    )


async def record_change(
    db: AsyncSession,
    application: Application,
    before: Status | None,
    after: Status,
    actor: Actor,
    actor_id: str,
    note: str | None,
) -> None:
    """The timeline entry, the outbox event, the clock and the running statistics of one
    change, in the change's transaction, so they commit (or vanish) with it."""
    now = utcnow()
    await _clock_and_stats(db, application, before, after, now)
    db.add(
        TimelineEntry(
            application_id=application.id,
            at=now,
            actor=actor,
            actor_id=actor_id,
            from_status=before,
            to_status=after,
            note=note,
        )
    )
    db.add(
        OutboxEvent(
            application_id=application.id,
            citizen_id=application.applicant_id,
            status=after,
            note=note,
            created_at=now,
        )
    )
    publish_after_commit(db, OUTBOX_CHANNEL)


async def _clock_and_stats(
    db: AsyncSession,
    application: Application,
    before: Status | None,
    after: Status,
    now: datetime,
) -> None:
    day = china_date(now)
    if after == Status.SUBMITTED:
        await stats.bump(db, day, application.service_code, submitted=1)
    if after == Status.SUPPLEMENT_REQUIRED:
        deadlines.pause(application, day)
    elif before == Status.SUPPLEMENT_REQUIRED:
        deadlines.resume(application, await load_calendar(db), day)
    if after in FINISHED and application.finished_at is None:
        application.finished_at = now
    # Counted once, when decided: a rejection that is later "completed" (the refusal
    # notice delivered) was counted as rejected already.
    if after == Status.REJECTED or (after == Status.COMPLETED and before == Status.APPROVED):
        used = deadlines.used_working_days(application, await load_calendar(db), day)
        completed = after == Status.COMPLETED
        await stats.bump(
            db,
            day,
            application.service_code,
            completed=int(completed),
            rejected=int(not completed),
            one_trip=int(completed and application.trips <= 1),
            on_time=int(application.due_on is None or day <= application.due_on),
            working_days=used,
        )
