"""The platform clock: a test's move of time stays in its own task and is put back."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, date, datetime, timedelta

import pytest

from backend import clock
from backend.clock import SYSTEM, ManualClock, advance, travel_to


def test_advance_moves_every_reading_and_is_put_back() -> None:
    wall, mono, now = SYSTEM.time(), SYSTEM.monotonic(), SYSTEM.now()
    with advance(600):
        assert SYSTEM.time() - wall == pytest.approx(600, abs=5)
        assert SYSTEM.monotonic() - mono == pytest.approx(600, abs=5)
        assert (SYSTEM.now() - now).total_seconds() == pytest.approx(600, abs=5)
        with advance(60):  # moves add up
            assert SYSTEM.time() - wall == pytest.approx(660, abs=5)
        assert SYSTEM.time() - wall == pytest.approx(600, abs=5)
    assert SYSTEM.time() - time.time() == pytest.approx(0, abs=0.01)
    assert abs(clock.utcnow() - datetime.now(UTC)) < timedelta(seconds=1)


def test_travel_to_sets_the_date_in_china_and_time_goes_on() -> None:
    # 23:30 UTC on 30 September is already 1 October in Hefei.
    with travel_to(datetime(2026, 9, 30, 23, 30, tzinfo=UTC)):
        assert clock.today() == date(2026, 10, 1)
        assert clock.utcnow().date() == date(2026, 9, 30)
        before = clock.utcnow()
        time.sleep(0.01)  # a real pause, to see that time runs on from the moment
        assert clock.utcnow() > before
        with advance(3600):
            assert clock.utcnow() - before >= timedelta(hours=1)
    assert clock.today() == clock.china_date(datetime.now(UTC))
    with pytest.raises(ValueError):
        travel_to(datetime(2026, 1, 1)).__enter__()  # naive: which "10:00"?


async def test_a_move_is_seen_by_its_own_task_and_what_it_starts_only() -> None:
    """What a shared app needs: a test's move never reaches its background loops."""
    asked, answered = asyncio.Event(), asyncio.Event()
    seen: dict[str, float] = {}

    async def background_loop() -> None:  # started before the move, like the app's loops
        await asyncio.wait_for(asked.wait(), 5)
        seen["background"] = SYSTEM.time()
        answered.set()

    loop_task = asyncio.create_task(background_loop())
    with advance(3600):
        child = asyncio.create_task(_read_time())  # inherits the move, like a request's tasks
        seen["child"] = await child
        seen["own"] = SYSTEM.time()
        asked.set()
        await asyncio.wait_for(answered.wait(), 5)
    await loop_task
    real = time.time()
    assert seen["own"] - real == pytest.approx(3600, abs=5)
    assert seen["child"] - real == pytest.approx(3600, abs=5)
    assert seen["background"] - real == pytest.approx(0, abs=5)


async def _read_time() -> float:
    return SYSTEM.time()


async def test_two_tasks_move_time_independently() -> None:
    both_moved = asyncio.Barrier(2)

    async def moved_by(seconds: float) -> float:
        with advance(seconds):
            await both_moved.wait()  # each is inside its own move while the other is too
            return SYSTEM.time() - time.time()

    one, other = await asyncio.gather(moved_by(100), moved_by(5000))
    assert one == pytest.approx(100, abs=5)
    assert other == pytest.approx(5000, abs=5)
    assert SYSTEM.time() - time.time() == pytest.approx(0, abs=0.01)


def test_the_move_is_put_back_when_the_block_fails() -> None:
    with pytest.raises(RuntimeError), advance(86400):
        raise RuntimeError("the test failed inside the block")
    assert SYSTEM.time() - time.time() == pytest.approx(0, abs=0.01)


def test_manual_clock_stands_still_until_moved() -> None:
    manual = ManualClock(datetime(2026, 10, 1, 2, 0, tzinfo=UTC))
    wall, mono = manual.time(), manual.monotonic()
    time.sleep(0.01)
    assert (manual.time(), manual.monotonic()) == (wall, mono)
    manual.advance(90)
    assert (manual.time() - wall, manual.monotonic() - mono) == (90, 90)
    assert manual.now() == datetime(2026, 10, 1, 2, 1, 30, tzinfo=UTC)
    assert manual.today() == date(2026, 10, 1)
    with pytest.raises(ValueError):
        manual.advance(-1)
