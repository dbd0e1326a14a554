"""The applications feature's notion of "now", in one place.

Deadlines run over weeks and holidays; tests move this clock (``travel_to``) instead
of waiting for them. Working days are counted on China's dates (UTC+8): an application
accepted at 07:00 in Hefei is accepted "today", not on yesterday's UTC date.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, date, datetime, timedelta, timezone

# China has had no daylight saving since 1991, so a fixed offset is exact and needs no tzdata.
CHINA = timezone(timedelta(hours=8), "Asia/Shanghai")

_offset = timedelta()


def utcnow() -> datetime:
    return datetime.now(UTC) + _offset


def china_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def today() -> date:
    """Today in China, by this clock."""
    return china_date(utcnow())


@contextmanager
def travel_to(moment: datetime) -> Iterator[None]:
    """Run the block as if it were ``moment`` (tests only: the whole process moves)."""
    global _offset
    before = _offset
    _offset = moment - datetime.now(UTC)
    try:
        yield
    finally:
        _offset = before
