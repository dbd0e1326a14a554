"""Publishing a year of the working-day calendar, and the deadlines that move with it."""

from __future__ import annotations

from datetime import date, datetime

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend import clock
from backend.applications import deadlines, stats
from backend.applications.models import Application, CalendarYear
from backend.applications.working_days import load_calendar


async def published_year(db: AsyncSession, year: int) -> CalendarYear | None:
    return await db.get(CalendarYear, year)


async def publish_year(db: AsyncSession, row: CalendarYear) -> tuple[CalendarYear, int]:
    """Store the year (replacing it) and recompute the deadlines of the running clocks that
    count days in it; returns the stored year and how many applications were rescheduled."""
    row = await db.merge(row)
    await db.flush()
    return row, await _reschedule(db, row.year)


async def _reschedule(db: AsyncSession, year: int) -> int:
    """Recompute the deadlines of running clocks that count days in ``year``."""
    calendar = await load_calendar(db)
    next_year = datetime(year + 1, 1, 1, tzinfo=clock.CHINA)
    running = await db.exec(
        select(Application).where(
            col(Application.status).in_([s.value for s in stats.CLOCKED]),
            col(Application.accepted_at) < next_year,
            col(Application.due_on) >= date(year, 1, 1),
        )
    )
    count = 0
    for application in running.all():
        assert application.accepted_at is not None
        deadlines.reschedule(application, calendar, clock.china_date(application.accepted_at))
        db.add(application)
        count += 1
    return count
