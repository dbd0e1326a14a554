"""KV over Redis: shared by every worker and replica."""

from __future__ import annotations

import asyncio
from collections import deque
from collections.abc import AsyncIterator, Collection, Iterator, Mapping, Sequence
from contextlib import AbstractAsyncContextManager, asynccontextmanager, contextmanager, suppress
from typing import Any, Final, cast

import redis.asyncio as aioredis
import redis.exceptions
from redis.asyncio.client import PubSub
from redis.asyncio.retry import Retry
from redis.backoff import ExponentialWithJitterBackoff

from backend.background import stop_if_requested
from backend.kv.base import (
    KVError,
    KVUnavailable,
    _BaseKV,
    _encode,
    _ttl_ms,
)

# INCRBY then PEXPIRE only if this call created the key; one script so it is atomic.
_INCR_LUA: Final = """
local existed = redis.call('EXISTS', KEYS[1])
local value = redis.call('INCRBY', KEYS[1], ARGV[1])
if existed == 0 and ARGV[2] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return value
"""
# Every field is checked before any is added, so a bad field changes nothing (a Lua error
# does not undo earlier writes). ARGV: ttl in ms or '', then field, amount pairs.
_HINCRBY_LUA: Final = """
local existed = redis.call('EXISTS', KEYS[1])
for i = 2, #ARGV, 2 do
  local v = redis.call('HGET', KEYS[1], ARGV[i])
  if v and not string.match(v, '^%-?%d+$') then
    return redis.error_reply('ERR hash value is not an integer')
  end
end
for i = 2, #ARGV, 2 do redis.call('HINCRBY', KEYS[1], ARGV[i], ARGV[i + 1]) end
if existed == 0 and ARGV[1] ~= '' then redis.call('PEXPIRE', KEYS[1], ARGV[1]) end
return 0
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
        self._hincrby_script = self._client.register_script(_HINCRBY_LUA)

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

    async def hincrby(self, key: str, amounts: Mapping[str, int], ttl: float | None = None) -> None:
        args: list[str | int] = ["" if ttl is None else str(_ttl_ms(ttl))]
        if not amounts:
            return
        for field, amount in amounts.items():
            args += [field, amount]
        with _redis_errors():
            await self._hincrby_script(keys=[self._k(key)], args=args)

    async def hgetall_many(self, keys: Sequence[str]) -> list[dict[str, bytes]]:
        if not keys:
            return []
        with _redis_errors():
            async with self._client.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(self._k(key))
                replies = await pipe.execute()
        return [{bytes(f).decode(): bytes(v) for f, v in reply.items()} for reply in replies]

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
                # redis-py can swallow a cancellation under its timeout (background.py).
                stop_if_requested()
            if msg is not None and msg["type"] == "message":
                channel: bytes = msg["channel"]
                return channel.decode()[self._prefix_len :], bytes(msg["data"])
