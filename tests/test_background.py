"""Background loops log failed passes and go on, yet always stop when cancelled."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable

import pytest
import structlog

from backend.background import one_pass

log = structlog.get_logger("test")


async def _loop(
    work: Callable[[], Awaitable[None]], passes: list[int], second_pass: asyncio.Event
) -> None:
    while len(passes) < 300:  # so that a failing test ends instead of hanging
        with one_pass(log, "test_pass_failed"):
            passes.append(1)
            if len(passes) == 2:
                second_pass.set()
            await work()
        await asyncio.sleep(0.01)


async def _stops_when_cancelled(work: Callable[[], Awaitable[None]]) -> list[int]:
    passes: list[int] = []
    second_pass = asyncio.Event()
    task = asyncio.create_task(_loop(work, passes, second_pass))
    await second_pass.wait()  # cancelled while the second pass is under way
    task.cancel()
    done, _ = await asyncio.wait({task}, timeout=2)
    assert task in done, "the loop ignored its cancellation"
    assert task.cancelled(), f"the loop ran on for {len(passes)} passes and returned"
    return passes


async def test_a_cancellation_turned_into_an_error_still_stops_the_loop() -> None:
    async def work() -> None:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            # What redis-py and asyncpg do when the cancellation lands as their timeout fires.
            raise TimeoutError from None

    await _stops_when_cancelled(work)


async def test_a_cancellation_swallowed_whole_still_stops_the_loop() -> None:
    async def work() -> None:
        try:
            await asyncio.sleep(0.05)
        except asyncio.CancelledError:
            return  # redis/redis-py#2551: the command simply returns

    await _stops_when_cancelled(work)


async def test_a_failed_pass_is_logged_and_the_loop_goes_on(
    capsys: pytest.CaptureFixture[str],
) -> None:
    async def work() -> None:
        raise ConnectionError("department down")

    passes = await _stops_when_cancelled(work)
    assert len(passes) >= 2
    assert "test_pass_failed" in capsys.readouterr().out
