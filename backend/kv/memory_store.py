"""KV in this process: the embedded default (one worker, nothing to install)."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final, TypeAlias

from backend.kv.base import (
    _INT64_MAX,
    _INT64_MIN,
    _REDIS_INT,
    WRONG_TYPE,
    KVError,
    _BaseKV,
    _encode,
    _ttl_ms,
    log,
)

# A plain value, or a hash of integer fields (the only hashes written are counters).
_Value: TypeAlias = bytes | dict[str, int]


class MemoryKV(_BaseKV):
    """KV inside this process, for the embedded single-process default.

    Every method runs without an await point, so each is atomic on the event loop. Expired keys
    are dropped when read and by a sweep every so many writes.
    """

    _PURGE_MIN_WRITES: Final = 1024

    def __init__(self, *, namespace: str = "hft", subscriber_queue_size: int = 1024) -> None:
        super().__init__(namespace)
        self._data: dict[str, tuple[_Value, float | None]] = {}  # key -> (value, expires_at)
        self._subscribers: dict[str, set[_MemorySubscription]] = {}
        self._queue_size = subscriber_queue_size
        self._writes_since_purge = 0

    def clear(self) -> None:
        """Forget every key (subscriptions stay): a fresh store for whoever shares this one."""
        self._data.clear()
        self._writes_since_purge = 0

    def _live(self, key: str, now: float) -> tuple[_Value, float | None] | None:
        entry = self._data.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= now:
            del self._data[key]
            return None
        return entry

    def _write(self, key: str, value: _Value, expires_at: float | None, now: float) -> None:
        self._data[key] = (value, expires_at)
        self._writes_since_purge += 1
        # Sweeping once the writes since the last sweep reach the store's size keeps the cost
        # amortised O(1) per write while bounding memory held by keys nobody reads again.
        if self._writes_since_purge >= max(self._PURGE_MIN_WRITES, len(self._data)):
            self._writes_since_purge = 0
            for k in [k for k, (_, exp) in self._data.items() if exp is not None and exp <= now]:
                del self._data[k]

    async def get(self, key: str) -> bytes | None:
        entry = self._live(self._k(key), time.monotonic())
        if entry is None:
            return None
        if not isinstance(entry[0], bytes):
            raise KVError(WRONG_TYPE)
        return entry[0]

    async def set(
        self, key: str, value: bytes | str, ttl: float | None = None, *, nx: bool = False
    ) -> bool:
        expires_ms = None if ttl is None else _ttl_ms(ttl)
        now, k = time.monotonic(), self._k(key)
        if nx and self._live(k, now) is not None:
            return False
        expires_at = None if expires_ms is None else now + expires_ms / 1000
        self._write(k, _encode(value), expires_at, now)
        return True

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        expires_ms = None if ttl is None else _ttl_ms(ttl)
        if not _INT64_MIN <= amount <= _INT64_MAX:
            raise KVError("value is not an integer or out of range")
        now, k = time.monotonic(), self._k(key)
        entry = self._live(k, now)
        if entry is None:
            current, expires_at = 0, None if expires_ms is None else now + expires_ms / 1000
        else:
            raw, expires_at = entry
            if not isinstance(raw, bytes):
                raise KVError(WRONG_TYPE)
            if not _REDIS_INT.fullmatch(raw) or not _INT64_MIN <= int(raw) <= _INT64_MAX:
                raise KVError("value is not an integer or out of range")
            current = int(raw)
        result = current + amount
        if not _INT64_MIN <= result <= _INT64_MAX:
            raise KVError("increment or decrement would overflow")
        self._write(k, str(result).encode(), expires_at, now)
        return result

    async def hincrby(self, key: str, amounts: Mapping[str, int], ttl: float | None = None) -> None:
        expires_ms = None if ttl is None else _ttl_ms(ttl)
        if not amounts:
            return
        now, k = time.monotonic(), self._k(key)
        entry = self._live(k, now)
        if entry is None:
            fields: dict[str, int] = {}
            expires_at = None if expires_ms is None else now + expires_ms / 1000
        else:
            stored, expires_at = entry
            if not isinstance(stored, dict):
                raise KVError(WRONG_TYPE)
            fields = stored
        # Compute every result before writing any: all or nothing, as on Redis.
        results = {f: fields.get(f, 0) + a for f, a in amounts.items()}
        if not all(_INT64_MIN <= v <= _INT64_MAX for v in results.values()):
            raise KVError("increment or decrement would overflow")
        fields.update(results)
        if entry is None:
            self._write(k, fields, expires_at, now)

    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[str, bytes]]:
        now = time.monotonic()
        found: list[dict[str, bytes]] = []
        for key in keys:
            entry = self._live(self._k(key), now)
            if entry is None:
                found.append({})
            elif isinstance(entry[0], dict):
                found.append({f: str(v).encode() for f, v in entry[0].items()})
            else:
                raise KVError(WRONG_TYPE)
        return found

    async def delete(self, *keys: str) -> int:
        now = time.monotonic()
        deleted = 0
        for k in dict.fromkeys(self._k(key) for key in keys):
            if self._live(k, now) is not None:
                del self._data[k]
                deleted += 1
        return deleted

    async def ttl(self, key: str) -> float | None:
        now = time.monotonic()
        entry = self._live(self._k(key), now)
        if entry is None or entry[1] is None:
            return None
        return entry[1] - now

    async def _try_lock(self, key: str, token: bytes, timeout_ms: int) -> bool:
        now = time.monotonic()
        if self._live(key, now) is not None:
            return False
        self._write(key, token, now + timeout_ms / 1000, now)
        return True

    async def _unlock(self, key: str, token: bytes) -> bool:
        entry = self._live(key, time.monotonic())
        if entry is None or entry[0] != token:
            return False
        del self._data[key]
        return True

    async def publish(self, channel: str, message: bytes | str) -> int:
        subscribers = self._subscribers.get(self._k(channel), ())
        data = _encode(message)
        for sub in subscribers:
            sub.offer((channel, data))
        return len(subscribers)

    def subscribe(
        self, *channels: str
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str, bytes]]]:
        if not channels:
            raise ValueError("subscribe needs at least one channel")
        return self._subscription([self._k(c) for c in dict.fromkeys(channels)])

    @asynccontextmanager
    async def _subscription(self, full: list[str]) -> AsyncIterator[_MemorySubscription]:
        sub = _MemorySubscription(self._queue_size)
        for channel in full:
            self._subscribers.setdefault(channel, set()).add(sub)
        try:
            yield sub
        finally:
            for channel in full:
                subs = self._subscribers.get(channel)
                if subs is not None:
                    subs.discard(sub)
                    if not subs:
                        del self._subscribers[channel]

    async def ping(self) -> None:
        return None

    async def aclose(self) -> None:
        for sub in {s for subs in self._subscribers.values() for s in subs}:
            sub.offer(None)
        self._subscribers.clear()
        self._data.clear()


class _MemorySubscription:
    def __init__(self, maxsize: int) -> None:
        # None marks the end (the store was closed).
        self._queue: asyncio.Queue[tuple[str, bytes] | None] = asyncio.Queue(maxsize)

    def offer(self, item: tuple[str, bytes] | None) -> None:
        # Drop the oldest message when full: publish must never block the publisher on a slow
        # subscriber, and these notifications are "something changed" hints where the newest
        # matter most. (Redis likewise drops a subscriber that falls too far behind.)
        if self._queue.full():
            self._queue.get_nowait()
            log.warning("kv.subscriber.dropped_message")
        self._queue.put_nowait(item)

    def __aiter__(self) -> _MemorySubscription:
        return self

    async def __anext__(self) -> tuple[str, bytes]:
        item = await self._queue.get()
        if item is None:
            raise StopAsyncIteration
        return item
