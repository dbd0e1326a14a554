"""Reading: every operation's figures per window, summed over what all processes flushed."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Literal

from pydantic import BaseModel, Field

from backend.kv import KV
from backend.providers.health.figures import (
    BUCKET_SECONDS,
    LONGEST_BUCKETS,
    PERCENTILE_RELATIVE_ERROR,
    WINDOWS,
    Cell,
    WindowStats,
    bucket_key,
    last_error_key,
)
from backend.providers.service import AdapterNotFound
from integrations.base import AdapterRegistry
from integrations.invoker import Invoker


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
    ages = range(LONGEST_BUCKETS)  # 0: the current bucket
    operations = sorted(adapter.operations)
    hashes, last_errors, breaker = await asyncio.gather(
        kv.hgetall_many([bucket_key(adapter_id, current - age) for age in ages]),
        asyncio.gather(*(kv.get(last_error_key(adapter_id, op)) for op in operations)),
        invoker.breaker(adapter_id).sync(force=True),
    )
    windows = [(name, seconds, seconds // BUCKET_SECONDS) for name, seconds in WINDOWS.items()]
    sums = {op: [Cell() for _ in windows] for op in operations}
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
