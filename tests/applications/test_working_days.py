"""Working-day deadlines across holidays, make-up days and years without published data."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from backend.app_state import state_of
from backend.applications.models import CalendarYear
from backend.applications.working_days import (
    WorkingCalendar,
    load_calendar,
    seed_calendar,
    seed_years,
    year_from_schedule,
)

KNOWN = WorkingCalendar(seed_years())


def test_national_day_and_its_make_up_saturday() -> None:
    # Accepted the day before National Day 2026: Oct 1–7 are off, Sat Oct 10 is worked.
    deadline = KNOWN.add_working_days(date(2026, 9, 30), 3)
    assert deadline.due == date(2026, 10, 10)
    assert deadline.estimated is False
    assert KNOWN.is_working_day(date(2026, 9, 20))  # a Sunday worked before the holiday
    assert not KNOWN.is_working_day(date(2026, 10, 5))


def test_same_day_and_plain_weeks() -> None:
    assert KNOWN.add_working_days(date(2026, 11, 26), 0).due == date(2026, 11, 26)
    assert KNOWN.add_working_days(date(2026, 11, 27), 1).due == date(2026, 11, 30)  # Fri → Mon
    assert KNOWN.working_days_between(date(2026, 11, 23), date(2026, 11, 30)) == 5
    with pytest.raises(ValueError):
        KNOWN.add_working_days(date(2026, 11, 27), -1)


def test_a_december_acceptance_reaching_an_unpublished_year_is_estimated() -> None:
    deadline = KNOWN.add_working_days(date(2026, 12, 28), 5)
    # Dec 29, 30, 31 then Jan 1 is a fixed holiday, Jan 2–3 a weekend: Jan 4, Jan 5.
    assert deadline.due == date(2027, 1, 5)
    assert deadline.estimated is True


def test_a_published_year_replaces_the_estimate() -> None:
    # An illustrative schedule: Monday Jan 4 off as well, Saturday Jan 9 worked instead.
    published = year_from_schedule(
        2027,
        holidays=[date(2027, 1, 1), date(2027, 1, 4)],
        workdays=[date(2027, 1, 9)],
        source="admin",
    )
    calendar = WorkingCalendar([*seed_years(), published])
    deadline = calendar.add_working_days(date(2026, 12, 28), 5)
    assert deadline == type(deadline)(date(2027, 1, 6), False)
    assert calendar.is_working_day(date(2027, 1, 9))  # a Saturday worked
    with pytest.raises(ValueError, match="outside 2027"):
        year_from_schedule(2027, [date(2026, 12, 31)], [], "admin")
    with pytest.raises(ValueError, match="both"):
        year_from_schedule(2027, [date(2027, 2, 6)], [date(2027, 2, 6)], "admin")


async def test_seeded_into_both_databases_without_overwriting_an_admin_year(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, _ = app_client
    async with state_of(app).sessions() as session:
        calendar = await load_calendar(session)
    assert calendar.knows(2026) and calendar.knows(2004) and not calendar.knows(2027)
    async with state_of(app).sessions() as session, session.begin():
        row = await session.get(CalendarYear, 2026)
        assert row is not None
        row.source, row.holidays = "admin", [*row.holidays, "2026-12-31"]
        session.add(row)
    async with state_of(app).sessions() as session, session.begin():
        assert await seed_calendar(session) == 0  # nothing missing, nothing overwritten
    async with state_of(app).sessions() as session:
        calendar = await load_calendar(session)
        restored = await session.get(CalendarYear, 2026)
        assert restored is not None
        restored.holidays = [d for d in restored.holidays if d != "2026-12-31"]
        restored.source = "chinese-calendar 1.11"
        session.add(restored)
        await session.commit()
    assert not calendar.is_working_day(date(2026, 12, 31))
