"""The platform's one notion of "now": UTC instants, China's date, monotonic time.

Code that judges time (the breaker, the answer cache, OTP expiry, deadlines) reads it from a
``Clock``: the lifespan builds a ``SystemClock`` and hands it to the components it creates,
and feature code with no handle on one (application deadlines, timestamps) calls the module
functions ``utcnow()`` and ``today()``, which read the same system clock.

Tests move time with ``travel_to`` or ``advance``. The move is held in a ``ContextVar``, so
it applies to the task that made it and to what that task awaits or starts, including every
request it sends through an in-process ASGI transport (httpx runs the app in the caller's
task), and nowhere else: a shared app's background loops, other tests and other tasks keep
real time, and leaving the ``with`` block puts it back. A server running in its own tasks
(uvicorn) does not see a test's move; a test that needs its time moved talks to it in process.

Working days are counted on China's dates (UTC+8): an application accepted at 07:00 in Hefei
is accepted "today", not on yesterday's UTC date. This module imports no feature.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from datetime import UTC, date, datetime, timedelta, timezone
from typing import Final, Protocol

# China has had no daylight saving since 1991, so a fixed offset is exact and needs no tzdata.
CHINA: Final = timezone(timedelta(hours=8), "Asia/Shanghai")

# Seconds this context's time is ahead of the real clock (tests only). A float and not a
# timedelta: the cache hit reads it on every request, and 0.0 is the cheapest thing to add.
_shift: ContextVar[float] = ContextVar("hefeitong_clock_shift", default=0.0)


class Clock(Protocol):
    """What reads the time. ``integrations`` declares the part it needs (``time`` and
    ``monotonic``) as its own protocol, which every ``Clock`` satisfies."""

    def time(self) -> float:
        """Seconds since the epoch: comparable between workers (shared state uses it)."""
        ...

    def monotonic(self) -> float:
        """Seconds from an arbitrary start, never going back: for intervals in one process."""
        ...

    def now(self) -> datetime:
        """The current instant, timezone-aware, in UTC."""
        ...

    def today(self) -> date:
        """Today's date in China."""
        ...


class SystemClock:
    """The real clock, plus the current context's move (zero outside a test's ``with``)."""

    __slots__ = ()

    def time(self) -> float:
        return time.time() + _shift.get()

    def monotonic(self) -> float:
        return time.monotonic() + _shift.get()

    def now(self) -> datetime:
        shift = _shift.get()
        now = datetime.now(UTC)
        return now + timedelta(seconds=shift) if shift else now

    def today(self) -> date:
        return china_date(self.now())


class ManualClock:
    """A clock that stands still until told to move, for tests that build a component
    themselves (a breaker, a cache) and want every instant under control."""

    def __init__(self, start: datetime | None = None) -> None:
        moment = start or datetime.now(UTC)
        if moment.tzinfo is None:
            raise ValueError("a ManualClock needs a timezone-aware start")
        self._epoch = moment.timestamp()
        self._monotonic = 1_000.0  # arbitrary, like the real one

    def time(self) -> float:
        return self._epoch

    def monotonic(self) -> float:
        return self._monotonic

    def now(self) -> datetime:
        return datetime.fromtimestamp(self._epoch, UTC)

    def today(self) -> date:
        return china_date(self.now())

    def advance(self, seconds: float) -> None:
        if seconds < 0:
            raise ValueError("a monotonic clock cannot go back")
        self._epoch += seconds
        self._monotonic += seconds


SYSTEM: Final = SystemClock()


def utcnow() -> datetime:
    """The current instant in UTC, by the system clock (moved by a test's ``travel_to``)."""
    return SYSTEM.now()


def china_date(moment: datetime) -> date:
    return moment.astimezone(CHINA).date()


def today() -> date:
    """Today in China, by the system clock."""
    return SYSTEM.today()


@contextmanager
def travel_to(moment: datetime) -> Iterator[None]:
    """Run the block as if it were ``moment``; time goes on from there (tests only).

    Only the current task, and what it awaits or starts inside the block, sees the move.
    """
    if moment.tzinfo is None:
        raise ValueError("travel_to needs a timezone-aware moment")
    token = _shift.set(moment.timestamp() - time.time())
    try:
        yield
    finally:
        _shift.reset(token)


@contextmanager
def advance(seconds: float) -> Iterator[None]:
    """Run the block ``seconds`` later than it is (on top of any enclosing move; tests only).

    Every clock reading moves: wall time and monotonic time alike, so a breaker's open
    period or a cached answer's freshness is judged as if the time had passed.
    """
    if seconds < 0:
        raise ValueError("advance moves time forward only")
    token = _shift.set(_shift.get() + seconds)
    try:
        yield
    finally:
        _shift.reset(token)
