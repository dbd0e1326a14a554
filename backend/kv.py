"""One small key-value interface over Redis, with an in-process twin for the embedded default.

Caches, rate limits, token revocation, locks, breakers and change notifications depend on `KV`
only; `kv_from_url` picks the implementation from settings. Both implementations run through the
same test module (tests/test_kv.py), so behaviour that passes there is behaviour callers can rely
on whichever store is configured.
"""

from __future__ import annotations

import asyncio
import math
import re
import secrets
import time
from abc import ABC, abstractmethod
from collections import deque
from collections.abc import AsyncIterator, Collection, Iterator
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, suppress
from typing import Any, Final, Protocol, cast
from urllib.parse import urlsplit

import redis.asyncio as aioredis
import redis.exceptions
import structlog
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

log = structlog.get_logger(__name__)

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
# What Redis's INCRBY accepts as an integer value: no sign "+", no spaces, no leading zeros.
_REDIS_INT: Final = re.compile(rb"0|-?[1-9][0-9]*")


class KVError(Exception):
    """Base of every error raised by the KV layer."""


class LockNotAcquired(KVError):
    """The lock stayed held by someone else for the whole `blocking_timeout`."""


class KVUnavailable(KVError):
    """The store cannot be reached; callers may degrade (skip the cache, fail open or closed)."""


class KV(Protocol):
    """Async key-value store. Keys and channels are namespaced; values come back as bytes."""

    async def get(self, key: str) -> bytes | None: ...

    async def set(
        self, key: str, value: bytes | str, ttl: float | None = None, *, nx: bool = False
    ) -> bool:
        """Store value (ttl in seconds, ms precision). nx=True: only if absent.

        Returns whether the value was written. A set without ttl clears an existing expiry.
        """
        ...

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        """Atomically add `amount`; a key created by this call expires after `ttl` if given.

        An existing key keeps its expiry (or lack of one). Raises KVError if the stored value is
        not a 64-bit integer or the result would overflow.
        """
        ...

    async def delete(self, *keys: str) -> int:
        """Delete keys; returns how many existed."""
        ...

    async def ttl(self, key: str) -> float | None:
        """Remaining seconds to live; None if the key is missing or has no expiry."""
        ...

    def lock(
        self, name: str, *, timeout: float, blocking_timeout: float | None = None
    ) -> AbstractAsyncContextManager[None]:
        """Mutual-exclusion lock held at most `timeout` seconds (it expires if the holder dies).

        Waits up to `blocking_timeout` seconds (None: forever, 0: single attempt) and raises
        LockNotAcquired if it can't get it. On exit it is released only if still owned.
        """
        ...

    async def publish(self, channel: str, message: bytes | str) -> int:
        """Publish to subscribers of `channel`; returns how many subscribers it reached."""
        ...

    def subscribe(
        self, *channels: str
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str, bytes]]]:
        """Subscribe; yields an async iterator of (channel, data).

        Once `__aenter__` returns, every later publish to these channels is delivered; once
        `__aexit__` returns, the subscriber no longer counts. Messages are fire-and-forget: none
        are kept for subscribers that are not listening.
        """
        ...

    async def ping(self) -> None:
        """Raise KVUnavailable if the store is unreachable (used by /readyz)."""
        ...

    async def aclose(self) -> None: ...


def _encode(value: bytes | str) -> bytes:
    return value.encode() if isinstance(value, str) else bytes(value)


def _ttl_ms(ttl: float) -> int:
    # Both stores round to milliseconds so they expire at the same moment.
    if not (ttl > 0 and math.isfinite(ttl)):
        raise ValueError(f"ttl must be a positive number of seconds, got {ttl!r}")
    return max(1, round(ttl * 1000))


class _BaseKV(ABC):
    """Namespacing and the lock algorithm, shared so both stores lock the same way."""

    _LOCK_POLL_MIN: Final = 0.005
    _LOCK_POLL_MAX: Final = 0.1

    def __init__(self, namespace: str) -> None:
        if not namespace:
            raise ValueError("namespace must not be empty")
        self.namespace = namespace
        self._prefix = f"{namespace}:"

    def _k(self, key: str) -> str:
        return self._prefix + key

    @abstractmethod
    async def _try_lock(self, key: str, token: bytes, timeout_ms: int) -> bool: ...

    @abstractmethod
    async def _unlock(self, key: str, token: bytes) -> bool:
        """Delete `key` only if it still holds `token`; returns whether it did."""

    def lock(
        self, name: str, *, timeout: float, blocking_timeout: float | None = None
    ) -> AbstractAsyncContextManager[None]:
        timeout_ms = _ttl_ms(timeout)
        if blocking_timeout is not None and not blocking_timeout >= 0:
            raise ValueError(f"blocking_timeout must be >= 0 or None, got {blocking_timeout!r}")
        return self._locked(name, timeout_ms, blocking_timeout)

    @asynccontextmanager
    async def _locked(
        self, name: str, timeout_ms: int, blocking_timeout: float | None
    ) -> AsyncIterator[None]:
        key = self._k(f"lock:{name}")
        # A random token per acquisition, so a holder whose lock expired and was re-taken cannot
        # release the new holder's lock.
        token = secrets.token_hex(16).encode()
        loop = asyncio.get_running_loop()
        deadline = None if blocking_timeout is None else loop.time() + blocking_timeout
        delay = self._LOCK_POLL_MIN
        # Polling rather than waiting for a release notification: Redis has none without pub/sub
        # plumbing, and one algorithm for both stores keeps their behaviour identical.
        while not await self._try_lock(key, token, timeout_ms):
            wait = delay
            if deadline is not None:
                remaining = deadline - loop.time()
                if remaining <= 0:
                    raise LockNotAcquired(f"lock {name!r} is held by someone else")
                wait = min(wait, remaining)
            await asyncio.sleep(wait)
            delay = min(delay * 2, self._LOCK_POLL_MAX)
        try:
            yield
        finally:
            try:
                released = await self._unlock(key, token)
            except KVUnavailable:
                # The lock expires by itself after `timeout`; raising here would hide whether
                # the guarded work succeeded.
                log.warning("kv.lock.release_failed", lock=name)
            else:
                if not released:
                    log.warning("kv.lock.expired_while_held", lock=name, timeout_ms=timeout_ms)


# ---------------------------------------------------------------------------------------- Redis

# INCRBY then PEXPIRE only if this call created the key; one script so it is atomic.
_INCR_LUA: Final = """
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
"""
_UNLOCK_LUA: Final = """
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
"""


@contextmanager
def _redis_errors() -> Iterator[None]:
    try:
        yield
    except (redis.exceptions.ConnectionError, redis.exceptions.TimeoutError) as exc:
        raise KVUnavailable(f"Redis unavailable: {exc}") from exc
    except redis.exceptions.RedisError as exc:
        raise KVError(str(exc)) from exc


class RedisKV(_BaseKV):
    """KV over Redis, shared by every worker and replica (hiredis parser when installed)."""

    # Bounds the subscribe/unsubscribe handshakes, which have no socket timeout of their own.
    _HANDSHAKE_TIMEOUT: Final = 5.0

    def __init__(
        self,
        url: str,
        *,
        namespace: str = "hft",
        connect_timeout: float = 2.0,
        socket_timeout: float = 5.0,
        health_check_interval: int = 15,
        max_connections: int | None = None,
    ) -> None:
        super().__init__(namespace)
        self._health_check_interval = health_check_interval
        # redis-py's default retry (10 attempts, up to 1 s apart) would stall a request for
        # seconds when Redis is down; callers would rather get KVUnavailable fast and degrade.
        retry = Retry(ExponentialWithJitterBackoff(base=0.05, cap=0.5), retries=2)
        self._pool: aioredis.ConnectionPool = aioredis.ConnectionPool.from_url(
            url,
            decode_responses=False,
            socket_connect_timeout=connect_timeout,
            socket_timeout=socket_timeout,
            health_check_interval=health_check_interval,
            retry=retry,
            max_connections=max_connections,
        )
        self._client: aioredis.Redis = aioredis.Redis(connection_pool=self._pool)
        self._incr_script = self._client.register_script(_INCR_LUA)
        self._unlock_script = self._client.register_script(_UNLOCK_LUA)

    async def get(self, key: str) -> bytes | None:
        with _redis_errors():
            value = await self._client.get(self._k(key))
        # Typed `bytes | str` by redis-py; always bytes here since decode_responses=False.
        return cast("bytes | None", value)

    async def set(
        self, key: str, value: bytes | str, ttl: float | None = None, *, nx: bool = False
    ) -> bool:
        px = None if ttl is None else _ttl_ms(ttl)
        with _redis_errors():
            written = await self._client.set(self._k(key), _encode(value), px=px, nx=nx)
        return bool(written)

    async def incr(self, key: str, amount: int = 1, ttl: float | None = None) -> int:
        ms = "" if ttl is None else str(_ttl_ms(ttl))
        with _redis_errors():
            return int(await self._incr_script(keys=[self._k(key)], args=[amount, ms]))

    async def delete(self, *keys: str) -> int:
        if not keys:
            return 0
        with _redis_errors():
            return int(await self._client.delete(*(self._k(k) for k in keys)))

    async def ttl(self, key: str) -> float | None:
        with _redis_errors():
            ms = int(await self._client.pttl(self._k(key)))
        return ms / 1000 if ms >= 0 else None  # -2: missing, -1: no expiry

    async def _try_lock(self, key: str, token: bytes, timeout_ms: int) -> bool:
        with _redis_errors():
            return bool(await self._client.set(key, token, px=timeout_ms, nx=True))

    async def _unlock(self, key: str, token: bytes) -> bool:
        with _redis_errors():
            return bool(await self._unlock_script(keys=[key], args=[token]))

    async def publish(self, channel: str, message: bytes | str) -> int:
        with _redis_errors():
            return int(await self._client.publish(self._k(channel), _encode(message)))

    def subscribe(
        self, *channels: str
    ) -> AbstractAsyncContextManager[AsyncIterator[tuple[str, bytes]]]:
        if not channels:
            raise ValueError("subscribe needs at least one channel")
        return self._subscription([self._k(c) for c in channels])

    @asynccontextmanager
    async def _subscription(self, full: list[str]) -> AsyncIterator[_RedisSubscription]:
        pubsub = self._client.pubsub()
        early: deque[dict[str, Any]] = deque()
        try:
            with _redis_errors():
                await pubsub.subscribe(*full)
                # subscribe() only sends the command; wait for the server's confirmations so a
                # publish made after __aenter__ returns is guaranteed to reach us.
                await self._handshake(pubsub, "subscribe", full, early)
            yield _RedisSubscription(pubsub, len(self._prefix), early, self._health_check_interval)
            # Unsubscribe and wait for the confirmation so that, once __aexit__ returns, later
            # publishes no longer count this subscriber.
            with suppress(KVError), _redis_errors():
                await pubsub.unsubscribe()
                await self._handshake(pubsub, "unsubscribe", full, deque())
        finally:
            with suppress(redis.exceptions.RedisError, OSError):
                await pubsub.aclose()  # type: ignore[no-untyped-call]

    async def _handshake(
        self,
        pubsub: PubSub,
        kind: str,
        channels: Collection[str],
        early: deque[dict[str, Any]],
    ) -> None:
        waiting = {c.encode() for c in channels}
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self._HANDSHAKE_TIMEOUT
        while waiting:
            remaining = deadline - loop.time()
            if remaining <= 0:
                raise KVUnavailable(f"Redis did not confirm {kind} in time")
            msg = await pubsub.get_message(timeout=remaining)
            if msg is None:
                continue
            if msg["type"] == kind:
                waiting.discard(msg["channel"])
            elif msg["type"] == "message":
                early.append(msg)

    async def ping(self) -> None:
        with _redis_errors():
            await self._client.ping()

    async def aclose(self) -> None:
        await self._client.aclose()
        await self._pool.aclose()


class _RedisSubscription:
    def __init__(
        self,
        pubsub: PubSub,
        prefix_len: int,
        early: deque[dict[str, Any]],
        poll_interval: float,
    ) -> None:
        self._pubsub = pubsub
        self._prefix_len = prefix_len
        self._early = early
        self._poll_interval = poll_interval

    def __aiter__(self) -> _RedisSubscription:
        return self

    async def __anext__(self) -> tuple[str, bytes]:
        while True:
            if self._early:
                msg: dict[str, Any] | None = self._early.popleft()
            else:
                # A bounded wait instead of blocking forever: each round lets redis-py send its
                # health-check PING, so a silently dead connection is noticed and re-established.
                with _redis_errors():
                    msg = await self._pubsub.get_message(
                        ignore_subscribe_messages=True, timeout=self._poll_interval
                    )
            if msg is not None and msg["type"] == "message":
                channel: bytes = msg["channel"]
                return channel.decode()[self._prefix_len :], bytes(msg["data"])


# ------------------------------------------------------------------------------------ in-process


class MemoryKV(_BaseKV):
    """KV inside this process, for the embedded single-process default.

    Every method runs without an await point, so each is atomic on the event loop. Expired keys
    are dropped when read and by a sweep every so many writes.
    """

    _PURGE_MIN_WRITES: Final = 1024

    def __init__(self, *, namespace: str = "hft", subscriber_queue_size: int = 1024) -> None:
        super().__init__(namespace)
        self._data: dict[str, tuple[bytes, float | None]] = {}  # key -> (value, expires_at)
        self._subscribers: dict[str, set[_MemorySubscription]] = {}
        self._queue_size = subscriber_queue_size
        self._writes_since_purge = 0

    def _live(self, key: str, now: float) -> tuple[bytes, float | None] | None:
        entry = self._data.get(key)
        if entry is not None and entry[1] is not None and entry[1] <= now:
            del self._data[key]
            return None
        return entry

    def _write(self, key: str, value: bytes, expires_at: float | None, now: float) -> None:
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
        return None if entry is None else entry[0]

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
            if not _REDIS_INT.fullmatch(raw) or not _INT64_MIN <= int(raw) <= _INT64_MAX:
                raise KVError("value is not an integer or out of range")
            current = int(raw)
        result = current + amount
        if not _INT64_MIN <= result <= _INT64_MAX:
            raise KVError("increment or decrement would overflow")
        self._write(k, str(result).encode(), expires_at, now)
        return result

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


def kv_from_url(url: str | None, *, namespace: str = "hft") -> KV:
    """Build the configured store: None or memory:// → MemoryKV; redis://, rediss://, unix://
    → RedisKV. No connection is made until first use."""
    if url is None:
        return MemoryKV(namespace=namespace)
    scheme = urlsplit(url).scheme.lower()
    if scheme == "memory":
        return MemoryKV(namespace=namespace)
    if scheme in ("redis", "rediss", "unix"):
        return RedisKV(url, namespace=namespace)
    # The URL itself may carry a password, so only the scheme goes into the message.
    raise ValueError(f"unsupported KV URL scheme {scheme!r}; use redis://, rediss:// or unix://")
