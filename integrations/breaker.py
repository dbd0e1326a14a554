"""A circuit breaker per department, its state shared by every worker through the KV store.

States live in three keys (``brk:<id>:fails`` a windowed failure counter,
``brk:<id>:open`` holding the epoch second the open period ends, ``brk:<id>:half`` set
while recovering). Successful calls cost no KV round trip: each worker caches the shared
state for ``sync_interval`` seconds, so another worker's opening is seen within that time.
After the open period one trial call (``brk:<id>:trial``, set-if-absent) decides
between closing and opening again; everyone else keeps failing fast meanwhile.

Time comes from an injected ``Clock`` (the backend passes its own; tests move it). The end
of the open period is stored as a wall-clock instant, not left to the key's expiry, so that
every worker judges it by its clock (workers' clocks agree to NTP precision, plenty for a
period of seconds); the key still expires with it, as housekeeping.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from typing import Final, Protocol


class Clock(Protocol):
    """The time the breaker judges by (``backend.clock.SystemClock`` is one)."""

    def time(self) -> float:
        """Seconds since the epoch: the open period's end is shared between workers."""
        ...

    def monotonic(self) -> float:
        """For this worker's own intervals (how long its view of the state is good for)."""
        ...


class _RealTime:
    """The default when nobody injects a clock: the process's own time, unmoved."""

    def time(self) -> float:
        return time.time()

    def monotonic(self) -> float:
        return time.monotonic()


REAL_TIME: Final[Clock] = _RealTime()


class SharedState(Protocol):
    """The part of backend.kv.KV the breaker needs (integrations never imports backend)."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(
        self, key: str, value: bytes | str, ttl: float | None = None, *, nx: bool = False
    ) -> bool: ...

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int: ...

    async def delete(self, *keys: str) -> int: ...

    async def ttl(self, key: str) -> float | None: ...


@dataclass(frozen=True)
class BreakerPolicy:
    failure_threshold: int = 5  # failures within the window that open the breaker
    window: float = 30.0
    open_seconds: float = 15.0
    trial_timeout: float = 10.0  # how long one trial call may hold the half-open slot
    sync_interval: float = 0.5


class BreakerOpen(Exception):
    def __init__(self, retry_after: float) -> None:
        super().__init__(f"breaker open, retry after {retry_after:.1f}s")
        self.retry_after = retry_after


class CircuitBreaker:
    def __init__(
        self,
        name: str,
        state: SharedState,
        policy: BreakerPolicy | None = None,
        clock: Clock = REAL_TIME,
    ) -> None:
        self.name = name
        self.policy = policy or BreakerPolicy()
        self._state = state
        self._clock = clock
        self._keys = {k: f"brk:{name}:{k}" for k in ("fails", "open", "half", "trial")}
        self._open_until = 0.0  # epoch seconds, by self._clock.time()
        self._half_open = False
        self._synced_at = -1e9  # by self._clock.monotonic()

    @property
    def state(self) -> str:
        """``closed``, ``open`` or ``half_open`` as this worker last saw it."""
        if self._clock.time() < self._open_until:
            return "open"
        return "half_open" if self._half_open else "closed"

    async def sync(self, *, force: bool = False) -> str:
        now = self._clock.monotonic()
        # A reading from "the future" (a test's moved clock, since put back) is stale too.
        if force or not 0 <= now - self._synced_at < self.policy.sync_interval:
            raw = await self._state.get(self._keys["open"])
            self._open_until = self._parse_until(raw)
            self._half_open = await self._state.get(self._keys["half"]) is not None
            self._synced_at = now
        return self.state

    def _parse_until(self, raw: bytes | None) -> float:
        if raw is None:
            return 0.0
        try:
            until = float(raw)
        except ValueError:
            return 0.0  # not ours: the trial call will settle the state
        # Never open longer than one period from now, whatever the writer's clock said.
        return min(until, self._clock.time() + self.policy.open_seconds)

    async def before_call(self) -> bool:
        """Raise ``BreakerOpen`` to fail fast; returns True when this call is the trial."""
        state = await self.sync()
        if state == "open":
            raise BreakerOpen(self._open_until - self._clock.time())
        if state == "half_open":
            got_trial = await self._state.set(
                self._keys["trial"], b"1", ttl=self.policy.trial_timeout, nx=True
            )
            if not got_trial:
                raise BreakerOpen(1.0)
            return True
        return False

    async def on_success(self, trial: bool) -> None:
        if trial or self._half_open:
            # The open key too: a worker whose clock runs behind the trial's believes it.
            await self._state.delete(*self._keys.values())
            self._half_open = False
            self._open_until = 0.0

    async def on_failure(self, trial: bool) -> None:
        if trial:
            await self._open()
            return
        fails = await self._state.incr(self._keys["fails"], ttl=self.policy.window)
        if fails >= self.policy.failure_threshold:
            await self._open()

    async def _open(self) -> None:
        until = self._clock.time() + self.policy.open_seconds
        await self._state.set(self._keys["open"], repr(until), ttl=self.policy.open_seconds)
        await self._state.set(self._keys["half"], b"1")
        await self._state.delete(self._keys["fails"], self._keys["trial"])
        self._open_until = until
        self._half_open = True
        self._synced_at = self._clock.monotonic()

    async def reset(self) -> None:
        await self._state.delete(*self._keys.values())
        self._open_until, self._half_open, self._synced_at = 0.0, False, -1e9
