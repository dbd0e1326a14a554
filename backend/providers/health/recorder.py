"""Recording: the Invoker's observer counts in process and flushes to the shared KV buckets."""

from __future__ import annotations

import asyncio
import time
from bisect import bisect_right
from collections.abc import Awaitable, Callable

import structlog

from backend.background import one_pass
from backend.kv import KV
from backend.providers.health.figures import (
    BOUNDS_S,
    BUCKET_SECONDS,
    BUCKET_TTL,
    LAST_ERROR_TTL,
    LONGEST_BUCKETS,
    Cell,
    bucket_key,
    last_error_key,
)
from integrations.invoker import BREAKER_OPEN

log = structlog.get_logger("hefeitong.providers.health")

_CellKey = tuple[int, str, str]  # (bucket, adapter id, operation)


class HealthRecorder:
    """The Invoker's observer: counts calls in process, ``flush`` adds them to the KV store."""

    def __init__(self, kv: KV, *, clock: Callable[[], float] = time.time) -> None:
        self._kv = kv
        self._clock = clock  # wall clock: every process must agree on the buckets
        self._cells: dict[_CellKey, Cell] = {}
        self._last_errors: dict[tuple[str, str], tuple[str, float]] = {}
        # The current bucket's cells by (adapter, operation), also in _cells: most calls then
        # need one float comparison and one lookup to find their cell.
        self._current: dict[tuple[str, str], Cell] = {}
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
            cell = self._cells.setdefault((self._bucket, adapter_id, operation), Cell())
            self._current[(adapter_id, operation)] = cell
        cell.calls += 1
        if error == BREAKER_OPEN:
            # Citizens saw a failure, but the department was not asked: it says nothing
            # about its latency, and must not hide the error that opened the breaker.
            cell.failed += 1
            cell.turned_away += 1
            return
        index = bisect_right(BOUNDS_S, latency)
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
        grouped: dict[str, tuple[dict[str, int], list[tuple[_CellKey, Cell]]]] = {}
        for key, cell in cells.items():
            bucket, adapter_id, operation = key
            amounts, members = grouped.setdefault(bucket_key(adapter_id, bucket), ({}, []))
            amounts |= cell.fields(operation)
            members.append((key, cell))
        writes: list[Awaitable[object]] = [
            self._kv.hincrby(k, amounts, ttl=BUCKET_TTL) for k, (amounts, _) in grouped.items()
        ]
        writes += [
            self._kv.set(last_error_key(a, o), f"{name}|{at:.3f}", ttl=LAST_ERROR_TTL)
            for (a, o), (name, at) in last_errors.items()
        ]
        results = await asyncio.gather(*writes, return_exceptions=True)
        failed = [r for r in results if isinstance(r, BaseException)]
        if not failed:
            return
        oldest = int(self._clock() // BUCKET_SECONDS) - LONGEST_BUCKETS
        for (_, members), result in zip(grouped.values(), results[: len(grouped)], strict=True):
            if isinstance(result, BaseException):
                for key, cell in members:
                    if key[0] > oldest:
                        self._cells.setdefault(key, Cell()).merge(cell)
        for item, result in zip(last_errors.items(), results[len(grouped) :], strict=True):
            if isinstance(result, BaseException):
                self._last_errors.setdefault(*item)
        log.warning("health_flush_failed", failed=len(failed), error=type(failed[0]).__name__)

    async def flush_forever(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            with one_pass(log, "health_flush_failed"):
                await self.flush()
