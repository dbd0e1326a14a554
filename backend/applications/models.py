"""Tables of the "at most one trip" applications feature."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint, text
from sqlmodel import Field, SQLModel

from backend.db import UtcDateTime
from backend.ids import uuid7


class CalendarYear(SQLModel, table=True):
    """One year of China's statutory holidays and make-up working days, kept as data.

    Seeded from chinese-calendar for the years it knows; an administrator adds each
    new year when the State Council publishes its schedule.
    """

    __tablename__ = "applications_calendar_year"

    year: int = Field(primary_key=True)
    holidays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    # Weekend days that are working days (调休上班).
    workdays: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    source: str = Field(max_length=64)
    updated_at: datetime = Field(sa_column=Column(UtcDateTime(), nullable=False))


def _utc(nullable: bool = False) -> Column[datetime]:
    return Column(UtcDateTime(), nullable=nullable)


# The statuses in which an application's clock runs (kept in step with stats.CLOCKED).
OPEN_CLOCK_CONDITION = "status IN ('accepted', 'in_review', 'supplement_required', 'approved')"


class Application(SQLModel, table=True):
    __tablename__ = "applications_application"
    __table_args__ = (
        # "My applications" and an enterprise's, a page at a time newest first, without a
        # sort: every page starts where the cursor points in the index (backend/pagination.py).
        Index("ix_applications_applicant_page", "applicant_id", "created_at", "id"),
        Index("ix_applications_enterprise_page", "enterprise_id", "created_at", "id"),
        # Open applications by status (the poller, the admin calendar).
        Index("ix_applications_status_warn", "status", "warn_on"),
        # Overdue and warning counts for stats, read from the index alone: at 5 million
        # applications the open ones (~10%) spread over the whole table, and reading their
        # rows took ~0.9 s (bench/README.md); this index answers in ~0.1 s.
        Index(
            "ix_applications_open_clock",
            "warn_on",
            postgresql_include=["due_on", "paused_on", "service_code"],
            postgresql_where=text(OPEN_CLOCK_CONDITION),
            sqlite_where=text(OPEN_CLOCK_CONDITION),
        ),
    )

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    number: str = Field(unique=True, max_length=20)
    service_code: str = Field(index=True, max_length=64)
    applicant_id: str = Field(foreign_key="identity_citizen.id", max_length=36)
    enterprise_id: str | None = Field(default=None, max_length=36)
    status: str = Field(max_length=24)
    form: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    delivery: dict[str, Any] = Field(default_factory=dict, sa_column=Column(JSON, nullable=False))
    materials: list[dict[str, Any]] = Field(
        default_factory=list, sa_column=Column(JSON, nullable=False)
    )
    trips: int = 0
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())
    submitted_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    accepted_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # The clock (working days on the platform's calendar, from acceptance). ``due_on`` and
    # ``warn_on`` (80% used) move on by the working days a supplement kept it paused.
    promised_days: int | None = None
    due_on: date | None = None
    warn_on: date | None = None
    due_estimated: bool = False
    paused_on: date | None = None  # set while a supplement is outstanding
    paused_days: int = Field(default=0, sa_column_kwargs={"server_default": "0"})
    finished_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
    # What the department handed over: an e-license number or a mail tracking number.
    result: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))


class Review(SQLModel, table=True):
    """One department's part in a (parallel) review: pending until it decides."""

    __tablename__ = "applications_review"
    __table_args__ = (UniqueConstraint("application_id", "department_code"),)

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    application_id: str = Field(
        foreign_key="applications_application.id", index=True, max_length=36
    )
    department_code: str = Field(max_length=64)
    decision: str = Field(default="pending", max_length=16)  # pending | approved | rejected
    opinion: str | None = Field(default=None, max_length=1000)
    decided_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class TimelineEntry(SQLModel, table=True):
    """Every status change, with who did it and why: the application's history."""

    __tablename__ = "applications_timeline"

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    application_id: str = Field(
        foreign_key="applications_application.id", index=True, max_length=36
    )
    at: datetime = Field(sa_column=_utc())
    actor: str = Field(max_length=16)
    actor_id: str = Field(max_length=64)
    from_status: str | None = Field(default=None, max_length=24)
    to_status: str = Field(max_length=24)
    note: str | None = Field(default=None, max_length=1000)


class DailyCounter(SQLModel, table=True):
    """Per-day sequence behind human-readable application numbers (HF2026112600001)."""

    __tablename__ = "applications_daily_counter"

    day: str = Field(primary_key=True, max_length=8)
    last: int = 0


class IdempotencyRecord(SQLModel, table=True):
    """A submission's Idempotency-Key: same key and body → the same application."""

    __tablename__ = "applications_idempotency"
    __table_args__ = (UniqueConstraint("owner_id", "key"),)

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    owner_id: str = Field(max_length=36)
    key: str = Field(max_length=128)
    request_hash: str = Field(max_length=64)
    application_id: str | None = Field(default=None, max_length=36)
    created_at: datetime = Field(sa_column=_utc())


class Upload(SQLModel, table=True):
    """A file a citizen uploaded; the bytes are stored once per content (SHA-256)."""

    __tablename__ = "applications_upload"

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    owner_id: str = Field(foreign_key="identity_citizen.id", index=True, max_length=36)
    sha256: str = Field(max_length=64, index=True)
    size: int
    content_type: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_utc())


class OutboxEvent(SQLModel, table=True):
    """A status change to tell the applicant about, written in the change's own transaction."""

    __tablename__ = "applications_outbox"

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    application_id: str = Field(max_length=36)
    citizen_id: str = Field(index=True, max_length=36)
    status: str = Field(max_length=24)
    note: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(sa_column=_utc())
    # Indexed: the worker looks for the undelivered ones.
    delivered_at: datetime | None = Field(
        default=None, sa_column=Column(UtcDateTime(), nullable=True, index=True)
    )


UNREAD_CONDITION = "read_at IS NULL"


# What a message is about, for the app to route a tap: an application's status change, or a
# notice from identity (an enterprise's agents: invitations answered, an agent removed).
MESSAGE_KINDS = ("application", "enterprise")


class Message(SQLModel, table=True):
    """The in-app message centre. One message per outbox event, whatever the retries, and
    one per notice from identity (``post_notice``; its ``event_id`` is the notice's own)."""

    __tablename__ = "applications_message"
    __table_args__ = (
        # The message centre, a page at a time; the partial one serves `unread_only` pages
        # and the unread count from the unread messages alone.
        Index("ix_applications_message_page", "citizen_id", "created_at", "id"),
        Index(
            "ix_applications_message_unread_page",
            "citizen_id",
            "created_at",
            "id",
            postgresql_where=text(UNREAD_CONDITION),
            sqlite_where=text(UNREAD_CONDITION),
        ),
    )

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    citizen_id: str = Field(max_length=36)
    event_id: str = Field(unique=True, max_length=36)
    kind: str = Field(
        default="application", max_length=32, sa_column_kwargs={"server_default": "application"}
    )
    # None for a notice that is about no application.
    application_id: str | None = Field(default=None, max_length=36)
    title: str = Field(max_length=200)
    body: str = Field(max_length=1000)
    created_at: datetime = Field(sa_column=_utc())
    read_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class Rating(SQLModel, table=True):
    """好差评: the applicant's rating of a completed application, once."""

    __tablename__ = "applications_rating"

    application_id: str = Field(
        foreign_key="applications_application.id", primary_key=True, max_length=36
    )
    score: int
    comment: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=_utc())


class Rectification(SQLModel, table=True):
    """整改: a poor rating (1–2) the department must answer within 15 working days."""

    __tablename__ = "applications_rectification"
    __table_args__ = (
        # A department's rectifications a page at a time, all of them or by status.
        Index("ix_applications_rectification_page", "department_code", "created_at", "id"),
        Index(
            "ix_applications_rectification_status_page",
            "department_code",
            "status",
            "created_at",
            "id",
        ),
    )

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    application_id: str = Field(
        foreign_key="applications_application.id", unique=True, max_length=36
    )
    department_code: str = Field(max_length=64)
    score: int
    comment: str | None = Field(default=None, max_length=500)
    status: str = Field(default="open", max_length=16)  # open | resolved
    due_on: date
    resolution: str | None = Field(default=None, max_length=1000)
    created_at: datetime = Field(sa_column=_utc())
    resolved_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class DailyStats(SQLModel, table=True):
    """Running aggregates per China day and service, updated in each change's transaction,
    so oversight statistics over millions of applications read a few thousand rows."""

    __tablename__ = "applications_daily_stats"

    day: date = Field(primary_key=True)
    service_code: str = Field(primary_key=True, max_length=64)
    submitted: int = 0
    # Finished (completed, rejected) on this day; the working-day figures are about them.
    completed: int = 0
    rejected: int = 0
    one_trip: int = 0  # completed with at most one in-person trip
    on_time: int = 0  # finished by the deadline
    working_days: int = 0  # sum of working days used, pauses excluded
    rating_1: int = 0
    rating_2: int = 0
    rating_3: int = 0
    rating_4: int = 0
    rating_5: int = 0


class WebhookSecret(SQLModel, table=True):
    """A department's Standard Webhooks signing secret, encrypted at rest."""

    __tablename__ = "applications_webhook_secret"

    department_code: str = Field(primary_key=True, max_length=64)
    secret_enc: str = Field(max_length=512)
    created_at: datetime = Field(sa_column=_utc())


class WebhookReceipt(SQLModel, table=True):
    """A callback taken in, by its ``webhook-id``: a replay finds it and changes nothing."""

    __tablename__ = "applications_webhook_receipt"
    __table_args__ = (
        UniqueConstraint("department_code", "webhook_id"),
        # The department's receipts, a page at a time.
        Index("ix_applications_webhook_receipt_page", "department_code", "received_at", "id"),
    )

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    department_code: str = Field(max_length=64)
    webhook_id: str = Field(max_length=128)
    event_type: str = Field(max_length=64)
    application_id: str | None = Field(default=None, max_length=36)
    outcome: str = Field(max_length=200)
    received_at: datetime = Field(sa_column=_utc())
