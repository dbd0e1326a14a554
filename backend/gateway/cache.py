"""Per-citizen answer cache with stale-if-error, and in-process request coalescing.

Entries are keyed by the caller's subject, so one citizen's data can never be
served to another. Each entry is kept past its freshness for ``stale_seconds``:
when the department then fails, the last good answer is served marked ``stale``.

An entry is stored as ``<stored_at>\\n<fetched_at>\\n<data as JSON>`` so a cache hit
is answered with the stored JSON bytes as they are, without parsing and
re-serializing the data on the hottest path of the gateway.

Freshness is judged by the cache's clock (the app's, which a test moves to make an answer
old), never by the KV store's expiry, which only drops entries past their stale period.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from typing import Any, TypeVar

import orjson
import structlog

from backend.clock import SYSTEM, Clock
from backend.kv import KV, KVError

log = structlog.get_logger("hefeitong.gateway")
T = TypeVar("T")


def encode_data(data: Any) -> bytes:
    return orjson.dumps(data)  # compact, UTF-8, several times faster than json.dumps


@dataclass(frozen=True)
class CachedAnswer:
    data_json: bytes
    fetched_at: str  # ISO 8601, UTC
    stored_at: float  # epoch seconds

    def is_fresh(self, ttl: float, now: float) -> bool:
        # Stored "in the future" by more than the ttl (a clock far ahead, or a test's moved
        # one): not trusted as fresh. A few milliseconds of skew between workers still are.
        return abs(now - self.stored_at) < ttl


def cache_key(
    subject: str, adapter: str, operation: str, revision: str, params: Mapping[str, Any]
) -> str:
    """One caller's answer to one call of one definition of the operation (``revision``)."""
    canonical = json.dumps(params, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    return f"gw:{subject}:{adapter}:{operation}:{revision}:{digest}"


def now_iso(clock: Clock = SYSTEM) -> str:
    """UTC now as ISO 8601 with milliseconds and ``Z``."""
    return clock.now().isoformat(timespec="milliseconds").replace("+00:00", "Z")


class AnswerCache:
    def __init__(self, kv: KV, stale_seconds: float, clock: Clock = SYSTEM) -> None:
        self._kv = kv
        self._stale_seconds = stale_seconds
        self.clock = clock

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            raw = await self._kv.get(key)
        except KVError:
            log.warning("gateway_cache_unavailable", op="get")
            return None  # a cache outage must not take the gateway down with it
        if raw is None:
            return None
        stored_at, fetched_at, data_json = raw.split(b"\n", 2)
        return CachedAnswer(data_json, fetched_at.decode(), float(stored_at))

    async def put(self, key: str, data_json: bytes, ttl: float) -> CachedAnswer:
        answer = CachedAnswer(data_json, now_iso(self.clock), self.clock.time())
        entry = f"{answer.stored_at}\n{answer.fetched_at}\n".encode() + data_json
        try:
            await self._kv.set(key, entry, ttl=ttl + self._stale_seconds)
        except KVError:
            log.warning("gateway_cache_unavailable", op="set")
        return answer


class Coalescer:
    """Concurrent identical requests share one upstream call (per worker).

    The shared call is shielded: a caller that gives up (its own deadline, a
    cancelled overview section) does not cancel it for the others, and a late
    answer still lands in the cache for the next request.
    """

    def __init__(self) -> None:
        self._inflight: dict[str, asyncio.Future[Any]] = {}

    async def run(self, key: str, factory: Callable[[], Awaitable[T]]) -> T:
        future = self._inflight.get(key)
        if future is None:
            future = asyncio.ensure_future(factory())
            self._inflight[key] = future
            future.add_done_callback(lambda _: self._inflight.pop(key, None))
            # Retrieve the exception even if every waiter has gone, so it is never "unhandled".
            future.add_done_callback(lambda f: f.cancelled() or f.exception())
        result: T = await asyncio.shield(future)
        return result
