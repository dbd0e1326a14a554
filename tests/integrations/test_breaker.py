"""The circuit breaker judged by an injected clock, its state in the real KV stores.

Time is moved through ``ManualClock``; nothing sleeps and nothing patches ``time``.
"""

from __future__ import annotations

import uuid
from datetime import UTC, datetime

import pytest

from backend.clock import ManualClock
from backend.kv import KV
from integrations.breaker import BreakerOpen, BreakerPolicy, CircuitBreaker

POLICY = BreakerPolicy(failure_threshold=3, window=30, open_seconds=15, sync_interval=0.5)
START = datetime(2026, 10, 1, 2, 0, tzinfo=UTC)  # every worker's clock starts agreeing


def _name() -> str:
    return f"dept-{uuid.uuid4().hex[:8]}"


async def _fail(breaker: CircuitBreaker, times: int) -> None:
    for _ in range(times):
        trial = await breaker.before_call()
        await breaker.on_failure(trial)


async def test_opens_fails_fast_then_lets_one_trial_through_after_the_open_period(
    kv: KV,
) -> None:
    clock = ManualClock(START)
    breaker = CircuitBreaker(_name(), kv, POLICY, clock)
    await _fail(breaker, 3)
    assert breaker.state == "open"

    clock.advance(5)
    with pytest.raises(BreakerOpen) as refused:
        await breaker.before_call()
    assert refused.value.retry_after == pytest.approx(10)  # what is left of the 15 s

    clock.advance(10)  # the open period is over by this clock, whatever the real time
    assert await breaker.sync() == "half_open"
    assert await breaker.before_call() is True  # the one trial call
    with pytest.raises(BreakerOpen):
        await breaker.before_call()  # everyone else keeps failing fast meanwhile
    await breaker.on_success(trial=True)
    assert await breaker.sync(force=True) == "closed"
    assert await breaker.before_call() is False


async def test_a_failed_trial_opens_it_for_another_period(kv: KV) -> None:
    clock = ManualClock(START)
    breaker = CircuitBreaker(_name(), kv, POLICY, clock)
    await _fail(breaker, 3)
    clock.advance(15)
    assert await breaker.before_call() is True
    await breaker.on_failure(trial=True)
    clock.advance(14)
    with pytest.raises(BreakerOpen) as refused:
        await breaker.before_call()
    assert refused.value.retry_after == pytest.approx(1)


async def test_another_worker_sees_the_opening_after_its_sync_interval(kv: KV) -> None:
    name = _name()
    clock_a, clock_b = ManualClock(START), ManualClock(START)
    worker_a = CircuitBreaker(name, kv, POLICY, clock_a)
    worker_b = CircuitBreaker(name, kv, POLICY, clock_b)
    assert await worker_b.before_call() is False  # B has looked: closed, for 0.5 s
    await _fail(worker_a, 3)

    clock_b.advance(0.4)
    assert await worker_b.before_call() is False  # its view is still good: no KV round trip
    clock_b.advance(0.1)
    with pytest.raises(BreakerOpen) as refused:
        await worker_b.before_call()
    assert refused.value.retry_after == pytest.approx(15 - 0.5)


async def test_a_clock_far_ahead_never_holds_it_open_longer_than_one_period(kv: KV) -> None:
    name = _name()
    behind, ahead = ManualClock(START), ManualClock(START)
    ahead.advance(3600)  # a worker an hour ahead (or a test that moved its time) opens it
    await _fail(CircuitBreaker(name, kv, POLICY, ahead), 3)
    reader = CircuitBreaker(name, kv, POLICY, behind)
    with pytest.raises(BreakerOpen) as refused:
        await reader.before_call()
    assert refused.value.retry_after <= POLICY.open_seconds


async def test_a_successful_trial_closes_it_for_every_worker(kv: KV) -> None:
    name = _name()
    early, late = ManualClock(START), ManualClock(START)
    late.advance(15)  # this worker's clock says the period has ended, the other's not yet
    await _fail(CircuitBreaker(name, kv, POLICY, early), 3)
    trying = CircuitBreaker(name, kv, POLICY, late)
    assert await trying.before_call() is True
    await trying.on_success(trial=True)
    # The worker whose clock says "still open" believes the trial: closed for everyone.
    assert await CircuitBreaker(name, kv, POLICY, early).sync() == "closed"
