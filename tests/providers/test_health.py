"""Adapter health: figures recorded by the Invoker's observer, shared through the KV store,
read back per window; the probe; over the real sandbox departments, MemoryKV and real Redis."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import AsyncIterator
from typing import Any, cast

import pytest

from backend.gateway.probing import PROBE_CALLER
from backend.kv import KV, MemoryKV, RedisKV
from backend.providers.health import (
    BUCKET_SECONDS,
    PERCENTILE_RELATIVE_ERROR,
    AdapterHealth,
    HealthRecorder,
    WindowStats,
    adapter_health,
    probe_forever,
    probe_once,
    probe_targets,
    start_health,
)
from backend.providers.service import AdapterNotFound
from integrations.base import AdapterError, AdapterRegistry, InvalidParameters
from integrations.breaker import BreakerPolicy
from integrations.invoker import BREAKER_OPEN, Invoker
from integrations.loader import load_registry
from integrations.sandbox import DEPARTMENTS, SandboxHandle
from integrations.transport import AiohttpTransport
from tests.conftest import drop_namespace, sandbox_variables
from tests.gateway.helpers import SandboxAdmin

Sample = tuple[str, str, bool, float, str | None]


@pytest.fixture
async def registry(sandbox: SandboxHandle) -> AsyncIterator[AdapterRegistry]:
    transport = AiohttpTransport(max_connections=32)
    loaded = load_registry(transport, sandbox_variables(sandbox))
    yield loaded
    await loaded.aclose()
    await transport.aclose()


class Tee:
    """An observer that keeps the exact figures and passes them on to the recorder."""

    def __init__(self, recorder: HealthRecorder) -> None:
        self.recorder = recorder
        self.samples: list[Sample] = []

    def __call__(
        self, adapter_id: str, operation: str, ok: bool, latency: float, error: str | None
    ) -> None:
        self.samples.append((adapter_id, operation, ok, latency, error))
        self.recorder(adapter_id, operation, ok, latency, error)


def nearest_rank(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[max(1, math.ceil(q * len(ordered))) - 1]


def assert_within_precision(estimate_ms: float | None, exact_s: float) -> None:
    assert estimate_ms is not None
    ratio = estimate_ms / (exact_s * 1000)
    assert 1 / (1 + PERCENTILE_RELATIVE_ERROR) - 1e-9 <= ratio <= 1 + PERCENTILE_RELATIVE_ERROR


def window(health: AdapterHealth, operation: str, name: str) -> WindowStats:
    op = next(o for o in health.operations if o.operation == operation)
    return next(w for w in op.windows if w.window == name)


async def _balance(invoker: Invoker) -> bool:
    try:
        await invoker.call(
            "provident_fund", "balance", {}, PROBE_CALLER, deadline=time.monotonic() + 5
        )
    except AdapterError:
        return False
    return True


async def test_figures_after_a_known_mix_of_outcomes(
    kv: KV, registry: AdapterRegistry, admin: SandboxAdmin
) -> None:
    recorder = HealthRecorder(kv)
    tee = Tee(recorder)
    # balance is tried twice a call: four failing calls are eight failures, opening it.
    policy = BreakerPolicy(failure_threshold=8, window=60, open_seconds=60)
    invoker = Invoker(registry, kv, breaker_policy=policy, observer=tee)

    await admin.fault("provident_fund", latency_ms=30)
    assert all([await _balance(invoker) for _ in range(12)])
    await admin.fault("provident_fund", latency_ms=120)
    assert all([await _balance(invoker) for _ in range(4)])
    await admin.fault("provident_fund", error_rate=1.0, status=503)
    assert not any([await _balance(invoker) for _ in range(6)])  # the last two turned away

    assert [s[4] for s in tee.samples[-2:]] == [BREAKER_OPEN, BREAKER_OPEN]
    assert recorder.pending == 22
    before = await adapter_health(kv, invoker, registry, "provident_fund")
    assert window(before, "balance", "1h").calls == 0  # nothing is shared before a flush
    await recorder.flush()
    assert recorder.pending == 0

    health = await adapter_health(kv, invoker, registry, "provident_fund")
    assert health.breaker == "open"
    reached = [s[3] for s in tee.samples if s[4] != BREAKER_OPEN]
    assert len(reached) == 20
    for name in ("1m", "5m", "1h"):
        stats = window(health, "balance", name)
        assert (stats.calls, stats.failures, stats.turned_away, stats.refused) == (22, 6, 2, 0)
        assert stats.success_rate == 16 / 22
        assert stats.errors == {"AdapterUnavailable": 4}
        assert_within_precision(stats.p50_ms, nearest_rank(reached, 0.50))
        assert_within_precision(stats.p95_ms, nearest_rank(reached, 0.95))
        assert stats.p50_ms is not None and stats.p50_ms > 27  # the injected 30 ms
        assert stats.p95_ms is not None and stats.p95_ms > 109  # the injected 120 ms
    balance = next(o for o in health.operations if o.operation == "balance")
    assert balance.probe_safe is True
    assert balance.last_error_class == "AdapterUnavailable"
    assert balance.last_error_at is not None
    assert abs(balance.last_error_at.timestamp() - time.time()) < 60
    deposits = next(o for o in health.operations if o.operation == "deposits")
    assert deposits.probe_safe is False
    assert deposits.last_error_class is None
    assert window(health, "deposits", "5m").calls == 0
    assert window(health, "deposits", "5m").success_rate is None
    assert window(health, "deposits", "5m").p50_ms is None


async def test_windows_and_percentiles_from_a_controlled_clock(
    kv: KV, registry: AdapterRegistry
) -> None:
    now = 1_800_000_000.0 + 5  # 5 s into a bucket
    clock = [now]
    recorder = HealthRecorder(kv, clock=lambda: clock[0])
    for age, ok, error in [
        (3000, False, "AdapterTimeout"),  # in the hour only
        (120, True, None),  # in 5 minutes and the hour
        (40, False, "AdapterBadResponse"),
        (0, True, "RequestRejected"),  # the department answered: a success, counted apart
        (0, False, BREAKER_OPEN),
        (4000, True, None),  # older than every window
    ]:
        clock[0] = now - age
        recorder("transit", "routes", ok, 0.010, error)
    # Latencies spread log-uniformly from 0.3 ms to 60 s, recorded now.
    clock[0] = now
    latencies = [0.0003 * (60 / 0.0003) ** (i / 999) for i in range(1000)]
    for i, latency in enumerate(latencies):
        recorder("transit", "card_balance", i % 10 != 0, latency, None if i % 10 else "X")
    await recorder.flush()

    invoker = Invoker(registry, kv)
    health = await adapter_health(kv, invoker, registry, "transit", now=now)
    assert health.breaker == "closed"
    counted = {
        name: (s.calls, s.failures, s.turned_away, s.refused, s.errors)
        for name in ("1m", "5m", "1h")
        for s in [window(health, "routes", name)]
    }
    assert counted == {
        "1m": (3, 2, 1, 1, {"AdapterBadResponse": 1}),
        "5m": (4, 2, 1, 1, {"AdapterBadResponse": 1}),
        "1h": (5, 3, 1, 1, {"AdapterBadResponse": 1, "AdapterTimeout": 1}),
    }
    assert window(health, "routes", "1h").success_rate == 2 / 5
    routes = next(o for o in health.operations if o.operation == "routes")
    assert routes.last_error_class == "AdapterBadResponse"  # turned away: not its error
    assert routes.last_error_at is not None
    assert routes.last_error_at.timestamp() == pytest.approx(now - 40, abs=0.01)

    stats = window(health, "card_balance", "1m")
    assert (stats.calls, stats.failures, stats.success_rate) == (1000, 100, 0.9)
    assert_within_precision(stats.p50_ms, nearest_rank(latencies, 0.50))
    assert_within_precision(stats.p95_ms, nearest_rank(latencies, 0.95))
    # Every bucket key expires: nothing outlives the longest window for long.
    bucket = int(now // BUCKET_SECONDS)
    remaining = await kv.ttl(f"hlth:transit:{bucket}")
    assert remaining is not None and 3600 < remaining <= 3600 + 3 * BUCKET_SECONDS


async def test_figures_of_two_instances_add_up_in_redis(
    redis_url: str, kv_namespace: str, registry: AdapterRegistry, admin: SandboxAdmin
) -> None:
    first, second, reader = (RedisKV(redis_url, namespace=kv_namespace) for _ in range(3))
    try:
        recorders = [HealthRecorder(first), HealthRecorder(second)]
        invokers = [
            Invoker(registry, kv, observer=r)
            for kv, r in zip((first, second), recorders, strict=True)
        ]
        assert all([await _balance(invokers[0]) for _ in range(3)])
        assert all([await _balance(invokers[1]) for _ in range(2)])
        await admin.fault("provident_fund", error_rate=1.0, status=502)
        assert not await _balance(invokers[1])
        for recorder in recorders:
            await recorder.flush()

        health = await adapter_health(reader, Invoker(registry, reader), registry, "provident_fund")
        stats = window(health, "balance", "1m")
        assert (stats.calls, stats.failures, stats.success_rate) == (6, 1, 5 / 6)
        assert stats.p50_ms is not None
        balance = next(o for o in health.operations if o.operation == "balance")
        assert balance.last_error_class == "AdapterUnavailable"
    finally:
        for store in (first, second, reader):
            await store.aclose()
        await drop_namespace(redis_url, kv_namespace)


async def test_a_failed_flush_keeps_the_figures_for_the_next(
    registry: AdapterRegistry,
) -> None:
    unreachable = RedisKV("redis://127.0.0.1:9/0", namespace="nowhere", connect_timeout=0.5)
    try:
        recorder = HealthRecorder(unreachable)
        recorder("transit", "routes", True, 0.01, None)
        recorder("transit", "routes", False, 0.02, "AdapterTimeout")
        await recorder.flush()  # logged, never raised: health must not take anything down
        assert recorder.pending == 2
    finally:
        await unreachable.aclose()


async def test_unknown_adapter_is_not_found(kv: KV, registry: AdapterRegistry) -> None:
    with pytest.raises(AdapterNotFound):
        await adapter_health(kv, Invoker(registry, kv), registry, "no_such_adapter")


# --- the probe -------------------------------------------------------------------------------


def _probe_safe(registry: AdapterRegistry) -> set[tuple[str, str]]:
    found = set()
    for adapter_id in registry.ids():
        adapter = registry.get(adapter_id)
        assert adapter is not None
        found |= {(adapter_id, op) for op, i in adapter.operations.items() if i.probe_safe}
    return found


async def test_probe_calls_probe_safe_operations_only(
    kv: KV, registry: AdapterRegistry, admin: SandboxAdmin
) -> None:
    safe = _probe_safe(registry)
    assert set(probe_targets(registry)) == safe
    assert len(safe) >= 10
    tee = Tee(HealthRecorder(kv))
    invoker = Invoker(registry, kv, observer=tee)

    results = await probe_once(invoker, registry)

    assert {(r.adapter, r.operation) for r in results} == safe
    probed = {(r.adapter, r.operation) for r in results if r.status != "skipped"}
    assert {(s[0], s[1]) for s in tee.samples} == probed <= safe
    assert sum(r.status == "ok" for r in results) >= 8
    quiet = {a for a in DEPARTMENTS if not any(t[0] == a for t in safe)}
    assert quiet  # departments without a probe-safe operation are never called
    for department in quiet:
        assert await admin.requests(department) == 0
    assert tee.recorder.pending == len(tee.samples)


async def test_probe_skips_a_department_whose_breaker_is_open(
    kv: KV, registry: AdapterRegistry, admin: SandboxAdmin
) -> None:
    invoker = Invoker(
        registry, kv, breaker_policy=BreakerPolicy(failure_threshold=1, open_seconds=60)
    )
    await admin.fault("education", error_rate=1.0, status=500)
    with pytest.raises(AdapterError):
        await invoker.call(
            "education",
            "schools",
            {"district": "340104"},
            PROBE_CALLER,
            deadline=time.monotonic() + 5,
        )
    assert invoker.breaker("education").state == "open"
    calls = await admin.requests("education")

    results = await probe_once(invoker, registry)

    assert not any(r.adapter == "education" for r in results)
    assert any(r.adapter == "hospital" and r.status == "ok" for r in results)
    assert await admin.requests("education") == calls


async def test_probe_forever_probes_once_per_interval_and_survives_failures(
    kv: KV, registry: AdapterRegistry, admin: SandboxAdmin
) -> None:
    tee = Tee(HealthRecorder(kv))
    invoker = Invoker(registry, kv, observer=tee)
    await admin.fault("hospital", error_rate=1.0, status=500)  # failures are logged, not fatal
    called = []
    for adapter_id, operation in probe_targets(registry):
        _, info = registry.operation(adapter_id, operation)
        if info.idempotent and set(info.params_schema.get("required", ())) <= set(
            info.probe_params
        ):
            called.append((adapter_id, operation))
    # Two processes sharing the store: both wake after the interval, one takes the round,
    # the other skips it. Both are held at their next round's claim: once both are there,
    # the first round is over for each of them, and nothing else runs.
    gate = RoundGate(kv)
    tasks = [
        asyncio.create_task(probe_forever(invoker, registry, 0.5, timeout=2.0, kv=cast(KV, gate)))
        for _ in range(2)
    ]
    try:
        await asyncio.wait_for(gate.both_held.wait(), 15)
        assert not any(t.done() for t in tasks)  # a failing department did not end a loop
    finally:
        for t in tasks:
            t.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
    assert sorted(gate.claims) == [False, True]  # the first round went to one process only
    assert sorted((s[0], s[1]) for s in tee.samples) == sorted(called)
    assert [s[2] for s in tee.samples if s[0] == "hospital"] == [False, False]


class RoundGate:
    """The real KV store, watched where the probe claims its rounds (``KV.set``).

    Each process's (task's) first claim goes through to the store and its outcome is
    recorded; at its second claim the process is held until it is cancelled. Everything
    else is the store itself.
    """

    def __init__(self, kv: KV) -> None:
        self._kv = kv
        self.claims: list[bool] = []
        self._claimed: set[asyncio.Task[Any]] = set()
        self._held: set[asyncio.Task[Any]] = set()
        self.both_held = asyncio.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self._kv, name)

    async def set(
        self, key: str, value: bytes | str, ttl: float | None = None, *, nx: bool = False
    ) -> bool:
        process = asyncio.current_task()
        assert process is not None
        if process in self._claimed:
            self._held.add(process)
            if len(self._held) == 2:
                self.both_held.set()
            await asyncio.Event().wait()  # until cancelled
        self._claimed.add(process)
        won = await self._kv.set(key, value, ttl, nx=nx)
        self.claims.append(won)
        return won


async def test_start_health_flushes_on_stop(kv: KV, registry: AdapterRegistry) -> None:
    recorder = HealthRecorder(kv)
    invoker = Invoker(registry, kv, observer=recorder)
    tasks = start_health(
        kv=kv, invoker=invoker, recorder=recorder, flush_interval=60, breaker_interval=60
    )
    assert tasks.recorder is recorder
    assert await _balance(invoker)
    await tasks.stop()
    assert all(t.done() for t in tasks.tasks)
    health = await adapter_health(kv, invoker, registry, "provident_fund")
    assert window(health, "balance", "1m").calls == 1


def test_the_observer_is_cheap(registry: AdapterRegistry) -> None:
    """The recorder runs inline on every call: it must stay in the low microseconds."""
    recorder = HealthRecorder(MemoryKV())
    rounds = 20_000
    started = time.perf_counter()
    for i in range(rounds):
        recorder("provident_fund", "balance", i % 7 != 0, 0.001 * (i % 50), None)
    per_call_us = (time.perf_counter() - started) / rounds * 1e6
    assert per_call_us < 20, per_call_us  # ~1 µs measured; generous for shared machines


async def test_the_invoker_reports_outcomes_after_validation_only(
    kv: KV, registry: AdapterRegistry, admin: SandboxAdmin
) -> None:
    seen: list[Sample] = []

    def observer(
        adapter_id: str, operation: str, ok: bool, latency: float, error: str | None
    ) -> None:
        seen.append((adapter_id, operation, ok, latency, error))
        raise RuntimeError("a broken observer")  # must never fail the call

    invoker = Invoker(registry, kv, observer=observer)
    deadline = time.monotonic() + 5
    with pytest.raises(InvalidParameters):  # the caller's mistake, not the department's health
        await invoker.call(
            "provident_fund", "deposits", {"page": 0}, PROBE_CALLER, deadline=deadline
        )
    assert seen == []
    assert await _balance(invoker)
    assert [(s[0], s[1], s[2], s[4]) for s in seen] == [("provident_fund", "balance", True, None)]
    assert 0 < seen[0][3] < 5
