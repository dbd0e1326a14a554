"""Tables of the "at most one trip" applications feature."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any

from sqlalchemy import JSON, Column, DateTime, UniqueConstraint
from sqlmodel import Field, SQLModel

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
    updated_at: datetime = Field(sa_column=Column(DateTime(timezone=True), nullable=False))


def _utc(nullable: bool = False) -> Column[datetime]:
    return Column(DateTime(timezone=True), nullable=nullable)


class Application(SQLModel, table=True):
    __tablename__ = "applications_application"

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    number: str = Field(unique=True, max_length=20)
    service_code: str = Field(index=True, max_length=64)
    applicant_id: str = Field(foreign_key="identity_citizen.id", index=True, max_length=36)
    enterprise_id: str | None = Field(default=None, index=True, max_length=36)
    status: str = Field(index=True, max_length=24)
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
    due_on: date | None = None
    due_estimated: bool = False
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
        default=None, sa_column=Column(DateTime(timezone=True), nullable=True, index=True)
    )


class Message(SQLModel, table=True):
    """The in-app message centre. One message per outbox event, whatever the retries."""

    __tablename__ = "applications_message"

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    citizen_id: str = Field(index=True, max_length=36)
    event_id: str = Field(unique=True, max_length=36)
    application_id: str = Field(max_length=36)
    title: str = Field(max_length=200)
    body: str = Field(max_length=1000)
    created_at: datetime = Field(sa_column=_utc())
    read_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))
