"""The figures: 10-second buckets, the latency histogram, and one operation's counts.

Windows are aligned to buckets and include the current, partial one: "1m" covers the last
50–60 s, "5m" 290–300 s, "1h" 3590–3600 s; figures are at most one flush interval behind.
Latencies go into a fixed log-scale histogram with four bins per doubling from 0.25 ms to
65.5 s; a percentile is the geometric middle of the bin holding the nearest-rank sample, so it
is within ±9.1 % (a factor 2^(1/8)) of the exact nearest-rank value over that range.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Final

from pydantic import BaseModel, Field

BUCKET_SECONDS: Final = 10
WINDOWS: Final[dict[str, int]] = {"1m": 60, "5m": 300, "1h": 3600}
LONGEST_BUCKETS: Final = max(WINDOWS.values()) // BUCKET_SECONDS
# A bucket key expires a little after the longest window stops needing it.
BUCKET_TTL: Final = max(WINDOWS.values()) + 3 * BUCKET_SECONDS
LAST_ERROR_TTL: Final = 7 * 86400

# Bin 0: below 0.25 ms; bin i (1..72): [bound[i-1], bound[i]); bin 73: 65.5 s and over.
_STEPS_PER_DOUBLING: Final = 4
BOUNDS_S: Final = tuple(0.00025 * 2 ** (i / _STEPS_PER_DOUBLING) for i in range(73))
PERCENTILE_RELATIVE_ERROR: Final = 2 ** (1 / (2 * _STEPS_PER_DOUBLING)) - 1  # ≈ 0.0905


def bin_estimate_ms(index: int) -> float:
    """The value a bin stands for: its geometric middle (half the first bound below it)."""
    if index <= 0:
        return BOUNDS_S[0] * 500
    if index >= len(BOUNDS_S):
        return BOUNDS_S[-1] * 1000
    return math.sqrt(BOUNDS_S[index - 1] * BOUNDS_S[index]) * 1000


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


def bucket_key(adapter_id: str, bucket: int) -> str:
    return f"hlth:{adapter_id}:{bucket}"


def last_error_key(adapter_id: str, operation: str) -> str:
    return f"hlth:{adapter_id}:last:{operation}"


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


@dataclass(slots=True)
class Cell:
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

    def merge(self, other: Cell) -> None:
        self.calls += other.calls
        self.failed += other.failed
        self.turned_away += other.turned_away
        self.refused += other.refused
        for i, n in other.bins.items():
            self.bins[i] = self.bins.get(i, 0) + n
        for name, n in other.errors.items():
            self.errors[name] = self.errors.get(name, 0) + n
