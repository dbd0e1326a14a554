"""Health and SLOs per adapter operation, shared by every API instance and worker.

Providers who onboard their own systems need to see how those systems behave under real
traffic: per operation the success rate and p50/p95 latency over the last minute, five
minutes and hour, the last error, and the department's circuit breaker.

* ``HealthRecorder`` is the ``Invoker``'s observer. It only counts in process (a few integer
  additions and one bisect per call: the invoke path is benchmarked) and flushes every few
  seconds to one KV hash per adapter and 10-second bucket, so every process adds to the same
  figures. Buckets expire shortly after the longest window.
* ``adapter_health`` reads those buckets back (one round trip) into an ``AdapterHealth``.
* ``OpenBreakers`` keeps this process's view of which breakers are open, for the catalog's
  ``degraded`` flag, without a KV round trip per catalog request.
* ``probe_forever`` calls every ``probe_safe`` operation now and then, so a quiet department
  still has figures, and a recovered one closes its breaker without waiting for a citizen.

Windows are aligned to buckets and include the current, partial one: "1m" covers the last
50–60 s, "5m" 290–300 s, "1h" 3590–3600 s; figures are at most one flush interval behind.
Latencies go into a fixed log-scale histogram with four bins per doubling from 0.25 ms to
65.5 s; a percentile is the geometric middle of the bin holding the nearest-rank sample, so it
is within ±9.1 % (a factor 2^(1/8)) of the exact nearest-rank value over that range.
"""

from __future__ import annotations

import asyncio
import math
import time
from bisect import bisect_right
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Final, Literal

import structlog
from pydantic import BaseModel, Field

from backend.background import one_pass
from backend.gateway import ProbeResult, probe
from backend.kv import KV, claim_round
from backend.providers.service import AdapterNotFound
from integrations.base import AdapterRegistry
from integrations.invoker import BREAKER_OPEN, Invoker

log = structlog.get_logger("hefeitong.providers.health")

BUCKET_SECONDS: Final = 10
WINDOWS: Final[dict[str, int]] = {"1m": 60, "5m": 300, "1h": 3600}
_LONGEST_BUCKETS: Final = max(WINDOWS.values()) // BUCKET_SECONDS
# A bucket key expires a little after the longest window stops needing it.
BUCKET_TTL: Final = max(WINDOWS.values()) + 3 * BUCKET_SECONDS
LAST_ERROR_TTL: Final = 7 * 86400

# Bin 0: below 0.25 ms; bin i (1..72): [bound[i-1], bound[i]); bin 73: 65.5 s and over.
_STEPS_PER_DOUBLING: Final = 4
_BOUNDS_S: Final = tuple(0.00025 * 2 ** (i / _STEPS_PER_DOUBLING) for i in range(73))
PERCENTILE_RELATIVE_ERROR: Final = 2 ** (1 / (2 * _STEPS_PER_DOUBLING)) - 1  # ≈ 0.0905


def bin_estimate_ms(index: int) -> float:
    """The value a bin stands for: its geometric middle (half the first bound below it)."""
    if index <= 0:
        return _BOUNDS_S[0] * 500
    if index >= len(_BOUNDS_S):
        return _BOUNDS_S[-1] * 1000
    return math.sqrt(_BOUNDS_S[index - 1] * _BOUNDS_S[index]) * 1000


def percentile_ms(bins: dict[int, int], q: float) -> float | None:
    """Nearest-rank percentile ``q`` (0–1) of a histogram, within its bins' precision."""
    total = sum(bins.values())
    if not total:
        return None
    rank = max(1, math.ceil(q * total))
    seen = 0
    for index in sorted(bins):
        seen += bins[index]
        if seen >= rank:
            return round(bin_estimate_ms(index), 3)
    raise AssertionError("unreachable: rank never exceeds the total")


def _bucket_key(adapter_id: str, bucket: int) -> str:
    return f"hlth:{adapter_id}:{bucket}"


def _last_error_key(adapter_id: str, operation: str) -> str:
    return f"hlth:{adapter_id}:last:{operation}"


# --- recording -------------------------------------------------------------------------------


@dataclass(slots=True)
class _Cell:
    """One operation's figures in one bucket, in this process, since the last flush."""

    calls: int = 0
    failed: int = 0  # not ok, including calls the open breaker turned away
    turned_away: int = 0  # the breaker was open: no latency, no upstream traffic
    refused: int = 0  # ok, but the department refused this input (RequestRejected)
    bins: dict[int, int] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)

    def fields(self, operation: str) -> dict[str, int]:
        # Hash fields "<op>|<kind>": adapter and operation names never contain "|".
        out = {f"{operation}|n": self.calls}
        for kind, value in (("f", self.failed), ("b", self.turned_away), ("r", self.refused)):
            if value:
                out[f"{operation}|{kind}"] = value
        out |= {f"{operation}|h{i}": n for i, n in self.bins.items()}
        out |= {f"{operation}|e|{name}": n for name, n in self.errors.items()}
        return out

    def add_field(self, kind: str, value: int) -> None:
        """Add one hash field's value (the inverse of ``fields``), summing buckets on reading."""
        if kind == "n":
            self.calls += value
        elif kind == "f":
            self.failed += value
        elif kind == "b":
            self.turned_away += value
        elif kind == "r":
            self.refused += value
        elif kind.startswith("h"):
            index = int(kind[1:])
            self.bins[index] = self.bins.get(index, 0) + value
        elif kind.startswith("e|"):
            self.errors[kind[2:]] = self.errors.get(kind[2:], 0) + value

    def stats(self, window: str, seconds: int) -> WindowStats:
        return WindowStats(
            window=window,
            seconds=seconds,
            calls=self.calls,
            failures=self.failed,
            turned_away=self.turned_away,
            refused=self.refused,
            success_rate=(self.calls - self.failed) / self.calls if self.calls else None,
            p50_ms=percentile_ms(self.bins, 0.50),
            p95_ms=percentile_ms(self.bins, 0.95),
            errors=dict(sorted(self.errors.items())),
        )

    def merge(self, other: _Cell) -> None:
        self.calls += other.calls
        self.failed += other.failed
        self.turned_away += other.turned_away
        self.refused += other.refused
        for i, n in other.bins.items():
            self.bins[i] = self.bins.get(i, 0) + n
        for name, n in other.errors.items():
            self.errors[name] = self.errors.get(name, 0) + n


_CellKey = tuple[int, str, str]  # (bucket, adapter id, operation)


class HealthRecorder:
    """The Invoker's observer: counts calls in process, ``flush`` adds them to the KV store."""

    def __init__(self, kv: KV, *, clock: Callable[[], float] = time.time) -> None:
        self._kv = kv
        self._clock = clock  # wall clock: every process must agree on the buckets
        self._cells: dict[_CellKey, _Cell] = {}
        self._last_errors: dict[tuple[str, str], tuple[str, float]] = {}
        # The current bucket's cells by (adapter, operation), also in _cells: most calls then
        # need one float comparison and one lookup to find their cell.
        self._current: dict[tuple[str, str], _Cell] = {}
        self._bucket, self._bucket_start, self._bucket_end = 0, 0.0, 0.0

    def __call__(
        self, adapter_id: str, operation: str, ok: bool, latency: float, error: str | None
    ) -> None:
        # Runs inline on every Invoker call: dictionary work only, no I/O, no allocation
        # beyond a new cell per operation every 10 s (~1 µs).
        now = self._clock()
        if not self._bucket_start <= now < self._bucket_end:
            self._bucket = int(now // BUCKET_SECONDS)
            self._bucket_start = self._bucket * BUCKET_SECONDS
            self._bucket_end = self._bucket_start + BUCKET_SECONDS
            self._current = {}
        cell = self._current.get((adapter_id, operation))
        if cell is None:
            cell = self._cells.setdefault((self._bucket, adapter_id, operation), _Cell())
            self._current[(adapter_id, operation)] = cell
        cell.calls += 1
        if error == BREAKER_OPEN:
            # Citizens saw a failure, but the department was not asked: it says nothing
            # about its latency, and must not hide the error that opened the breaker.
            cell.failed += 1
            cell.turned_away += 1
            return
        index = bisect_right(_BOUNDS_S, latency)
        cell.bins[index] = cell.bins.get(index, 0) + 1
        if ok:
            if error is not None:
                cell.refused += 1
            return
        cell.failed += 1
        name = error or "Exception"
        cell.errors[name] = cell.errors.get(name, 0) + 1
        self._last_errors[(adapter_id, operation)] = (name, now)

    @property
    def pending(self) -> int:
        """Calls recorded in this process and not flushed yet."""
        return sum(c.calls for c in self._cells.values())

    async def flush(self) -> None:
        """Add what was recorded since the last flush to the shared buckets.

        What could not be written is kept for the next flush (counters are additions, so a
        later flush is as good), unless it is older than the longest window by then.
        """
        cells, self._cells, self._current = self._cells, {}, {}
        last_errors, self._last_errors = self._last_errors, {}
        grouped: dict[str, tuple[dict[str, int], list[tuple[_CellKey, _Cell]]]] = {}
        for key, cell in cells.items():
            bucket, adapter_id, operation = key
            amounts, members = grouped.setdefault(_bucket_key(adapter_id, bucket), ({}, []))
            amounts |= cell.fields(operation)
            members.append((key, cell))
        writes: list[Awaitable[object]] = [
            self._kv.hincrby(k, amounts, ttl=BUCKET_TTL) for k, (amounts, _) in grouped.items()
        ]
        writes += [
            self._kv.set(_last_error_key(a, o), f"{name}|{at:.3f}", ttl=LAST_ERROR_TTL)
            for (a, o), (name, at) in last_errors.items()
        ]
        results = await asyncio.gather(*writes, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if not failed:
            return
        oldest = int(self._clock() // BUCKET_SECONDS) - _LONGEST_BUCKETS
        for (_, members), result in zip(grouped.values(), results[: len(grouped)], strict=True):
            if isinstance(result, BaseException):
                for key, cell in members:
                    if key[0] > oldest:
                        self._cells.setdefault(key, _Cell()).merge(cell)
        for item, result in zip(last_errors.items(), results[len(grouped) :], strict=True):
            if isinstance(result, BaseException):
                self._last_errors.setdefault(*item)
        log.warning("health_flush_failed", failed=len(failed), error=type(failed[0]).__name__)

    async def flush_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            with one_pass(log, "health_flush_failed"):
                await self.flush()


# --- reading ---------------------------------------------------------------------------------


class WindowStats(BaseModel):
    window: str = Field(examples=["5m"])
    seconds: int = Field(description="Nominal length; buckets of 10 s, the newest still open")
    calls: int
    failures: int = Field(description="Calls that failed, including those turned away")
    turned_away: int = Field(description="Calls refused at once because the breaker was open")
    refused: int = Field(description="Answers refusing the input (counted as successes)")
    success_rate: float | None = Field(description="(calls − failures) / calls; null: no calls")
    p50_ms: float | None = Field(description="Median latency of calls that reached the system")
    p95_ms: float | None
    errors: dict[str, int] = Field(description="Failures by error class")


class OperationHealth(BaseModel):
    operation: str
    probe_safe: bool = Field(description="Called periodically by the platform's probe")
    windows: list[WindowStats]
    last_error_class: str | None = None
    last_error_at: datetime | None = None


class AdapterHealth(BaseModel):
    adapter: str
    breaker: Literal["closed", "open", "half_open"]
    generated_at: datetime
    bucket_seconds: int = BUCKET_SECONDS
    percentile_relative_error: float = Field(
        default=round(PERCENTILE_RELATIVE_ERROR, 4),
        description="Percentiles are within this fraction of the exact value (0.25 ms–65 s)",
    )
    operations: list[OperationHealth]


async def adapter_health(
    kv: KV,
    invoker: Invoker,
    registry: AdapterRegistry,
    adapter_id: str,
    *,
    now: float | None = None,
) -> AdapterHealth:
    """Every operation's figures over each window, from what all processes have flushed."""
    adapter = registry.get(adapter_id)
    if adapter is None:
        raise AdapterNotFound(f"No adapter {adapter_id!r} is running")
    now = time.time() if now is None else now
    current = int(now // BUCKET_SECONDS)
    ages = range(_LONGEST_BUCKETS)  # 0: the current bucket
    operations = sorted(adapter.operations)
    hashes, last_errors, breaker = await asyncio.gather(
        kv.hgetall_many([_bucket_key(adapter_id, current - age) for age in ages]),
        asyncio.gather(*(kv.get(_last_error_key(adapter_id, op)) for op in operations)),
        invoker.breaker(adapter_id).sync(force=True),
    )
    windows = [(name, seconds, seconds // BUCKET_SECONDS) for name, seconds in WINDOWS.items()]
    sums = {op: [_Cell() for _ in windows] for op in operations}
    for age, fields in zip(ages, hashes, strict=True):
        for name, raw in fields.items():
            operation, _, kind = name.partition("|")
            per_window = sums.get(operation)
            if per_window is None:  # an operation the running version no longer has
                continue
            value = int(raw)
            for (_, _, buckets), acc in zip(windows, per_window, strict=True):
                if age < buckets:
                    acc.add_field(kind, value)
    result = []
    for op, raw_error in zip(operations, last_errors, strict=True):
        error_class, error_at = _parse_last_error(raw_error)
        result.append(
            OperationHealth(
                operation=op,
                probe_safe=adapter.operations[op].probe_safe,
                windows=[
                    acc.stats(name, seconds)
                    for (name, seconds, _), acc in zip(windows, sums[op], strict=True)
                ],
                last_error_class=error_class,
                last_error_at=error_at,
            )
        )
    return AdapterHealth(
        adapter=adapter_id,
        breaker=_breaker_state(breaker),
        generated_at=datetime.fromtimestamp(now, UTC),
        operations=result,
    )


def _parse_last_error(raw: bytes | None) -> tuple[str | None, datetime | None]:
    if raw is None:
        return None, None
    name, _, at = raw.decode().partition("|")
    return name, datetime.fromtimestamp(float(at), UTC)


def _breaker_state(state: str) -> Literal["closed", "open", "half_open"]:
    if state == "open":
        return "open"
    return "half_open" if state == "half_open" else "closed"


# --- degraded services -----------------------------------------------------------------------


class OpenBreakers:
    """Which adapters' breakers are open, as this process last looked.

    The catalog marks those adapters' services ``degraded``. Catalog reads are served from
    memory in well under a millisecond, so they read this set instead of the KV store; a
    refresh every couple of seconds keeps it close. Two KV reads per adapter, one after
    another: a few milliseconds in the background, and no burst of pool connections.
    """

    def __init__(self, invoker: Invoker) -> None:
        self._invoker = invoker
        self.adapter_ids: frozenset[str] = frozenset()

    async def refresh(self) -> frozenset[str]:
        found = frozenset(
            [
                a
                for a in self._invoker.registry.ids()
                if await self._invoker.breaker(a).sync() == "open"
            ]
        )
        if found != self.adapter_ids:
            log.info("open_breakers_changed", adapters=sorted(found))
            self.adapter_ids = found
        return found

    async def refresh_forever(self, interval: float) -> None:
        while True:
            # A failure keeps the last known set; the next round tries again.
            with one_pass(log, "open_breakers_refresh_failed"):
                await self.refresh()
            await asyncio.sleep(interval)


# --- probing ---------------------------------------------------------------------------------


def probe_targets(registry: AdapterRegistry) -> list[tuple[str, str]]:
    """Every operation whose spec marks it ``probe_safe``, sorted."""
    targets = []
    for adapter_id in registry.ids():
        adapter = registry.get(adapter_id)
        if adapter is not None:
            targets += [(adapter_id, op) for op, i in adapter.operations.items() if i.probe_safe]
    return sorted(targets)


async def probe_once(
    invoker: Invoker, registry: AdapterRegistry, *, timeout: float = 5.0
) -> list[ProbeResult]:
    """One round: departments in parallel, each one's operations one after another.

    A department whose breaker is open is skipped: the call would fail at once and count as
    a turned-away citizen. Half-open, the probe is the trial call that can close it.
    """
    by_adapter: dict[str, list[tuple[str, str]]] = {}
    for target in probe_targets(registry):
        by_adapter.setdefault(target[0], []).append(target)
    due = [t for a, t in by_adapter.items() if await invoker.breaker(a).sync() != "open"]
    rounds = [probe(invoker, targets, timeout=timeout) for targets in due]
    results = [r for reports in await asyncio.gather(*rounds) for d in reports for r in d.results]
    for r in results:
        if r.status == "failed":
            # The probe citizen is synthetic, and the error is a class name: nothing personal.
            log.warning(
                "adapter_probe_failed",
                adapter=r.adapter,
                operation=r.operation,
                error=r.error,
                latency_ms=round(r.latency_ms or 0.0, 1),
            )
    return results


async def probe_forever(
    invoker: Invoker,
    registry: AdapterRegistry,
    interval: float,
    *,
    timeout: float = 5.0,
    kv: KV | None = None,
) -> None:
    """Probe every ``interval`` seconds; never raises (failures are logged).

    With ``kv``, one process in the whole deployment probes per interval (the first to take
    the round's key), so departments see one probe however many workers run.
    """
    while True:
        await asyncio.sleep(interval)
        with one_pass(log, "adapter_probe_round_failed"):
            if kv is None or await claim_round(kv, "adapter-probe", interval):
                await probe_once(invoker, registry, timeout=timeout)


# --- lifespan --------------------------------------------------------------------------------


@dataclass
class HealthTasks:
    """What ``start_health`` started; ``stop`` ends it and flushes what is left."""

    recorder: HealthRecorder | None
    open_breakers: OpenBreakers
    tasks: list[asyncio.Task[None]]

    async def stop(self, timeout: float = 10.0) -> None:
        for task in self.tasks:
            task.cancel()
        # Bounded: a probe stuck on a hung department must not hold up shutdown.
        _, stuck = await asyncio.wait(self.tasks, timeout=timeout) if self.tasks else ((), ())
        if stuck:
            log.warning("health_tasks_did_not_stop", tasks=sorted(t.get_name() for t in stuck))
        if self.recorder is not None:
            try:
                await self.recorder.flush()
            except Exception:
                log.warning("health_final_flush_failed", exc_info=True)


def start_health(
    *,
    kv: KV,
    invoker: Invoker,
    recorder: HealthRecorder | None,
    flush_interval: float = 5.0,
    breaker_interval: float = 2.0,
    probe_interval: float | None = None,
    probe_timeout: float = 5.0,
) -> HealthTasks:
    """Start flushing, watching breakers and (with ``probe_interval``) probing.

    The tasks' ``open_breakers`` is what the catalog reads (the lifespan puts it in the app's
    state). The recorder must be the one given to the ``Invoker`` as its observer.
    """
    open_breakers = OpenBreakers(invoker)
    tasks = [
        asyncio.create_task(open_breakers.refresh_forever(breaker_interval), name="open-breakers")
    ]
    if recorder is not None:
        tasks.append(
            asyncio.create_task(recorder.flush_forever(flush_interval), name="health-flush")
        )
    if probe_interval:
        tasks.append(
            asyncio.create_task(
                probe_forever(
                    invoker, invoker.registry, probe_interval, timeout=probe_timeout, kv=kv
                ),
                name="adapter-probe",
            )
        )
    return HealthTasks(recorder, open_breakers, tasks)
