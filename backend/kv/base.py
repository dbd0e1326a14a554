"""The KV interface, its errors, and what both stores share (namespacing, the lock)."""

from __future__ import annotations

import asyncio
import math
import re
import secrets
from abc import ABC, abstractmethod
from collections.abc import AsyncIterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager
from typing import Final, Protocol

import structlog

log = structlog.get_logger(__name__)

_INT64_MIN: Final = -(2**63)
_INT64_MAX: Final = 2**63 - 1
# What Redis's INCRBY accepts as an integer value: no sign "+", no spaces, no leading zeros.
_REDIS_INT: Final = re.compile(rb"0|-?[1-9][0-9]*")
WRONG_TYPE: Final = "operation against a key holding the wrong kind of value"


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

    async def hincrby(self, key: str, amounts: Mapping[str, int], ttl: float | None = None) -> None:
        """Atomically add to several integer fields of the hash at `key` (missing fields start at
        0); a hash created by this call expires after `ttl` if given, like `incr`.

        All or nothing: raises KVError, changing nothing, if `key` holds a plain value or a field
        holds something other than an integer. Counters kept together (one time bucket of
        several statistics) then cost one round trip to write and one to read.
        """
        ...

    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[str, bytes]]:
        """Every field of each hash in `keys`, in order; `{}` for a missing key.

        One round trip for all of them (a pipeline on Redis). Raises KVError if a key holds a
        plain value.
        """
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
