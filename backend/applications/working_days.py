"""Working-day deadlines on China's statutory calendar, which the platform keeps as data.

A year the calendar has no data for (the schedule for next year is published late in
the year, and chinese-calendar stops at 2026) falls back to weekends plus the
fixed-date holidays, and the deadline is marked ``estimated``: a submission never
fails over a missing calendar.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, timedelta

import chinese_calendar
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications.models import CalendarYear
from backend.clock import utcnow

# Holidays on the same date every year; the lunar ones (Spring Festival, Qingming,
# Dragon Boat, Mid-Autumn) and the make-up days cannot be guessed, hence "estimated".
FIXED_HOLIDAYS = {(1, 1), (5, 1), (5, 2), (10, 1), (10, 2), (10, 3)}
SEED_SOURCE = "chinese-calendar 1.11"


@dataclass(frozen=True)
class Deadline:
    due: date
    estimated: bool


class WorkingCalendar:
    def __init__(self, years: Iterable[CalendarYear]) -> None:
        self._holidays: set[date] = set()
        self._workdays: set[date] = set()
        self._known: set[int] = set()
        for year in years:
            self._known.add(year.year)
            self._holidays |= {date.fromisoformat(d) for d in year.holidays}
            self._workdays |= {date.fromisoformat(d) for d in year.workdays}

    def knows(self, year: int) -> bool:
        return year in self._known

    def is_working_day(self, day: date) -> bool:
        if day.year in self._known:
            if day in self._workdays:
                return True
            return day.weekday() < 5 and day not in self._holidays
        return day.weekday() < 5 and (day.month, day.day) not in FIXED_HOLIDAYS

    def add_working_days(self, start: date, days: int) -> Deadline:
        """The ``days``-th working day after ``start`` (the day of acceptance is not counted).

        0 days (即办) is due the day it starts. ``estimated`` when any day counted falls in
        a year without published data.
        """
        if days < 0:
            raise ValueError("days must not be negative")
        day, counted, estimated = start, 0, not self.knows(start.year)
        while counted < days:
            day += timedelta(days=1)
            estimated = estimated or not self.knows(day.year)
            if self.is_working_day(day):
                counted += 1
        return Deadline(day, estimated)

    def working_days_between(self, start: date, end: date) -> int:
        """Working days after ``start`` up to and including ``end`` (0 when end ≤ start)."""
        count, day = 0, start
        while day < end:
            day += timedelta(days=1)
            count += self.is_working_day(day)
        return count


def seed_years() -> list[CalendarYear]:
    """Every year chinese-calendar knows, as rows (holidays and make-up working days)."""
    now = utcnow()
    by_year: dict[int, CalendarYear] = {}
    for day in sorted(chinese_calendar.holidays):
        # Weekend days inside a holiday period may be listed too; they are off either way.
        row = by_year.setdefault(
            day.year, CalendarYear(year=day.year, source=SEED_SOURCE, updated_at=now)
        )
        row.holidays.append(day.isoformat())
    for day in sorted(chinese_calendar.workdays):
        row = by_year.setdefault(
            day.year, CalendarYear(year=day.year, source=SEED_SOURCE, updated_at=now)
        )
        row.workdays.append(day.isoformat())
    return [by_year[y] for y in sorted(by_year)]


async def seed_calendar(session: AsyncSession) -> int:
    """Add the years chinese-calendar knows and the database lacks; never overwrites an
    administrator's year. Returns how many years were added."""
    present = set((await session.exec(select(CalendarYear.year))).all())
    added = [row for row in seed_years() if row.year not in present]
    session.add_all(added)
    await session.flush()
    return len(added)


async def load_calendar(session: AsyncSession) -> WorkingCalendar:
    return WorkingCalendar((await session.exec(select(CalendarYear))).all())


def year_from_schedule(
    year: int, holidays: Iterable[date], workdays: Iterable[date], source: str
) -> CalendarYear:
    """A year as an administrator publishes it; every date must fall in that year."""
    holidays, workdays = sorted(set(holidays)), sorted(set(workdays))
    stray = [d for d in (*holidays, *workdays) if d.year != year]
    if stray:
        raise ValueError(f"dates outside {year}: {', '.join(d.isoformat() for d in stray)}")
    if set(holidays) & set(workdays):
        raise ValueError("a day cannot be both a holiday and a make-up working day")
    return CalendarYear(
        year=year,
        holidays=[d.isoformat() for d in holidays],
        workdays=[d.isoformat() for d in workdays],
        source=source,
        updated_at=utcnow(),
    )
