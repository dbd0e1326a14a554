"""Per-citizen answer cache with stale-if-error, and in-process request coalescing.

Entries are keyed by the caller's subject, so one citizen's data can never be
served to another. Each entry is kept past its freshness for ``stale_seconds``:
when the department then fails, the last good answer is served marked ``stale``.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import time
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar

import structlog

from backend.kv import KV, KVError

log = structlog.get_logger("hefeitong.gateway")
T = TypeVar("T")


@dataclass(frozen=True)
class CachedAnswer:
    data: Any
    fetched_at: datetime
    stored_at: float  # epoch seconds

    def is_fresh(self, ttl: float, now: float) -> bool:
        return now - self.stored_at < ttl


def cache_key(subject: str, adapter: str, operation: str, params: Mapping[str, Any]) -> str:
    canonical = json.dumps(params, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    digest = hashlib.sha256(canonical.encode()).hexdigest()[:32]
    return f"gw:{subject}:{adapter}:{operation}:{digest}"


class AnswerCache:
    def __init__(self, kv: KV, stale_seconds: float) -> None:
        self._kv = kv
        self._stale_seconds = stale_seconds

    async def get(self, key: str) -> CachedAnswer | None:
        try:
            raw = await self._kv.get(key)
        except KVError:
            log.warning("gateway_cache_unavailable", op="get")
            return None  # a cache outage must not take the gateway down with it
        if raw is None:
            return None
        entry = json.loads(raw)
        return CachedAnswer(
            entry["data"], datetime.fromisoformat(entry["fetched_at"]), entry["stored_at"]
        )

    async def put(self, key: str, data: Any, ttl: float) -> CachedAnswer:
        answer = CachedAnswer(data, datetime.now(UTC), time.time())
        payload = json.dumps(
            {
                "data": data,
                "fetched_at": answer.fetched_at.isoformat(),
                "stored_at": answer.stored_at,
            },
            ensure_ascii=False,
            separators=(",", ":"),
        )
        try:
            await self._kv.set(key, payload, ttl=ttl + self._stale_seconds)
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
