"""backend.kv: the same behaviour from the in-process store and from real Redis.

The expiry tests wait a few hundred milliseconds of real time on purpose: what they test is
the stores' own expiry, and Redis expires keys by its own clock, which no test can move.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import pytest
import redis.asyncio as aioredis

from backend.kv import (
    KV,
    KVError,
    KVUnavailable,
    LockNotAcquired,
    MemoryKV,
    RedisKV,
    kv_from_url,
)
from tests.conftest import drop_namespace, new_namespace

RECEIVE_TIMEOUT = 2.0


@pytest.fixture
async def redis_namespace(redis_url: str) -> AsyncIterator[str]:
    """A fresh namespace for tests that build their own RedisKV instances."""
    namespace = new_namespace()
    yield namespace
    await drop_namespace(redis_url, namespace)


async def _next(messages: AsyncIterator[tuple[str, bytes]]) -> tuple[str, bytes]:
    return await asyncio.wait_for(anext(messages), RECEIVE_TIMEOUT)


# ----------------------------------------------------------------------------- values and TTLs


async def test_set_get_roundtrip_str_and_bytes(kv: KV) -> None:
    assert await kv.set("greeting", "合肥通") is True
    assert await kv.set("blob", b"\x00\xff binary") is True
    assert await kv.get("greeting") == "合肥通".encode()
    assert await kv.get("blob") == b"\x00\xff binary"
    await kv.set("greeting", "again")
    assert await kv.get("greeting") == b"again"


async def test_missing_key_is_none(kv: KV) -> None:
    assert await kv.get("nope") is None
    assert await kv.ttl("nope") is None


async def test_ttl_expiry(kv: KV) -> None:
    await kv.set("short", "v", ttl=0.2)
    await kv.set("forever", "v")
    remaining = await kv.ttl("short")
    assert remaining is not None and 0 < remaining <= 0.2
    assert await kv.ttl("forever") is None
    await asyncio.sleep(0.25)
    assert await kv.get("short") is None
    assert await kv.ttl("short") is None
    assert await kv.get("forever") == b"v"


async def test_set_without_ttl_clears_expiry(kv: KV) -> None:
    await kv.set("k", "a", ttl=10)
    await kv.set("k", "b")
    assert await kv.ttl("k") is None


async def test_set_nx(kv: KV) -> None:
    assert await kv.set("once", "first", ttl=0.2, nx=True) is True
    assert await kv.set("once", "second", nx=True) is False
    assert await kv.get("once") == b"first"
    await asyncio.sleep(0.25)
    assert await kv.set("once", "third", nx=True) is True
    assert await kv.get("once") == b"third"


async def test_non_positive_ttl_is_rejected(kv: KV) -> None:
    with pytest.raises(ValueError):
        await kv.set("k", "v", ttl=0)
    with pytest.raises(ValueError):
        await kv.incr("k", ttl=-1)


# ---------------------------------------------------------------------------------- counters


async def test_incr_is_atomic_under_concurrency(kv: KV) -> None:
    results = await asyncio.gather(*(kv.incr("hits") for _ in range(50)))
    assert sorted(results) == list(range(1, 51))
    assert await kv.get("hits") == b"50"
    assert await kv.incr("hits", 10) == 60
    assert await kv.incr("hits", -61) == -1


async def test_incr_ttl_applies_on_creation_only(kv: KV) -> None:
    assert await kv.incr("window", ttl=0.3) == 1
    await asyncio.sleep(0.15)
    assert await kv.incr("window", ttl=0.3) == 2  # must not push the expiry back
    remaining = await kv.ttl("window")
    assert remaining is not None and remaining <= 0.16
    await asyncio.sleep(0.2)
    assert await kv.get("window") is None
    assert await kv.incr("window", ttl=0.3) == 1  # a new window


async def test_incr_keeps_a_key_without_expiry_unexpiring(kv: KV) -> None:
    await kv.set("n", "5")
    assert await kv.incr("n", ttl=1) == 6
    assert await kv.ttl("n") is None


async def test_incr_on_non_integer_raises(kv: KV) -> None:
    await kv.set("text", "abc")
    with pytest.raises(KVError):
        await kv.incr("text")
    await kv.set("big", str(2**63 - 1))
    with pytest.raises(KVError):
        await kv.incr("big")
    assert await kv.get("big") == str(2**63 - 1).encode()


async def test_delete_counts_existing_keys(kv: KV) -> None:
    await kv.set("a", "1")
    await kv.set("b", "2")
    await kv.set("gone", "3", ttl=0.05)
    await asyncio.sleep(0.1)
    assert await kv.delete("a", "b", "c", "gone") == 2
    assert await kv.get("a") is None
    assert await kv.delete("a") == 0
    assert await kv.delete() == 0


# ------------------------------------------------------------------------------------ hashes


async def test_hincrby_adds_to_several_fields_at_once(kv: KV) -> None:
    await kv.hincrby("bucket", {"calls": 3, "fails": 1})
    await asyncio.gather(*(kv.hincrby("bucket", {"calls": 1, "h7": 2}) for _ in range(20)))
    await kv.hincrby("bucket", {"fails": -1, "名称": 5})
    await kv.hincrby("bucket", {})  # nothing to add, nothing created
    assert await kv.hgetall_many(["bucket"]) == [
        {"calls": b"23", "fails": b"0", "h7": b"40", "名称": b"5"}
    ]
    assert await kv.ttl("bucket") is None


async def test_hincrby_ttl_applies_on_creation_only(kv: KV) -> None:
    await kv.hincrby("window", {"n": 1}, ttl=0.3)
    await asyncio.sleep(0.15)
    await kv.hincrby("window", {"n": 1}, ttl=0.3)  # must not push the expiry back
    remaining = await kv.ttl("window")
    assert remaining is not None and remaining <= 0.16
    await asyncio.sleep(0.2)
    assert await kv.hgetall_many(["window"]) == [{}]
    await kv.hincrby("window", {"n": 1}, ttl=0.3)
    assert await kv.hgetall_many(["window"]) == [{"n": b"1"}]
    with pytest.raises(ValueError):
        await kv.hincrby("window", {"n": 1}, ttl=0)


async def test_hgetall_many_keeps_the_order_of_keys(kv: KV) -> None:
    await kv.hincrby("a", {"x": 1})
    await kv.hincrby("c", {"y": 2, "z": 3})
    assert await kv.hgetall_many(["c", "missing", "a"]) == [
        {"y": b"2", "z": b"3"},
        {},
        {"x": b"1"},
    ]
    assert await kv.hgetall_many([]) == []
    assert await kv.delete("a", "c") == 2


async def test_hashes_and_plain_values_do_not_mix(kv: KV) -> None:
    await kv.set("plain", "1")
    with pytest.raises(KVError):
        await kv.hincrby("plain", {"n": 1})
    with pytest.raises(KVError):
        await kv.hgetall_many(["plain"])
    assert await kv.get("plain") == b"1"
    await kv.hincrby("hash", {"n": 1})
    with pytest.raises(KVError):
        await kv.get("hash")
    with pytest.raises(KVError):
        await kv.incr("hash")
    await kv.set("hash", "overwritten")  # SET replaces any kind of value, as on Redis
    assert await kv.get("hash") == b"overwritten"


async def test_hincrby_changes_nothing_when_one_field_is_not_an_integer(
    redis_url: str, redis_namespace: str
) -> None:
    # Only Redis can hold a non-integer field (written by something else than this interface).
    raw = aioredis.Redis.from_url(redis_url)
    store = RedisKV(redis_url, namespace=redis_namespace)
    try:
        await raw.hset(f"{redis_namespace}:mixed", mapping={"n": "1", "text": "abc"})
        with pytest.raises(KVError):
            await store.hincrby("mixed", {"n": 1, "text": 1})
        assert await store.hgetall_many(["mixed"]) == [{"n": b"1", "text": b"abc"}]
    finally:
        await store.aclose()
        await raw.aclose()


# ------------------------------------------------------------------------------------- locks


async def test_lock_mutual_exclusion(kv: KV) -> None:
    events: list[str] = []
    first_holds = asyncio.Event()

    async def worker(name: str, hold: float) -> None:
        async with kv.lock("job", timeout=5):
            events.append(f"{name}-in")
            first_holds.set()
            await asyncio.sleep(hold)
            events.append(f"{name}-out")

    first = asyncio.create_task(worker("a", 0.15))
    await first_holds.wait()
    second = asyncio.create_task(worker("b", 0))
    with pytest.raises(LockNotAcquired):
        async with kv.lock("job", timeout=5, blocking_timeout=0):
            pass
    started = time.monotonic()
    with pytest.raises(LockNotAcquired):
        async with kv.lock("job", timeout=5, blocking_timeout=0.05):
            pass
    assert time.monotonic() - started >= 0.04
    await asyncio.gather(first, second)
    assert events == ["a-in", "a-out", "b-in", "b-out"]
    async with kv.lock("job", timeout=5, blocking_timeout=0):
        pass  # released after use


async def test_lock_auto_expires(kv: KV) -> None:
    crashed_holder = kv.lock("job", timeout=0.2)
    await crashed_holder.__aenter__()  # never exits: the holder "died"
    with pytest.raises(LockNotAcquired):
        async with kv.lock("job", timeout=1, blocking_timeout=0):
            pass
    await asyncio.sleep(0.25)
    async with kv.lock("job", timeout=1, blocking_timeout=0):
        pass


async def test_expired_holder_does_not_release_new_holder(kv: KV) -> None:
    slow = kv.lock("job", timeout=0.2)
    await slow.__aenter__()
    await asyncio.sleep(0.25)  # slow's lock expired mid-work
    new = kv.lock("job", timeout=5)
    await new.__aenter__()
    await slow.__aexit__(None, None, None)  # the slow holder finishes late
    with pytest.raises(LockNotAcquired):
        async with kv.lock("job", timeout=1, blocking_timeout=0):
            pass
    await new.__aexit__(None, None, None)
    async with kv.lock("job", timeout=1, blocking_timeout=0):
        pass


# ----------------------------------------------------------------------------------- pub/sub


async def test_pubsub_delivers_to_subscribers_of_the_channel(kv: KV) -> None:
    async with kv.subscribe("news") as news, kv.subscribe("news", "alerts") as both:
        assert await kv.publish("news", "hello") == 2
        assert await kv.publish("alerts", b"\x00bin") == 1
        assert await kv.publish("other", "nobody") == 0
        assert await kv.publish("news", "again") == 2
        assert await _next(news) == ("news", b"hello")
        assert await _next(news) == ("news", b"again")  # "alerts" was never delivered here
        assert await _next(both) == ("news", b"hello")
        assert await _next(both) == ("alerts", b"\x00bin")
        assert await _next(both) == ("news", b"again")
    assert await kv.publish("news", "late") == 0


async def test_ping(kv: KV) -> None:
    await kv.ping()


# ------------------------------------------------------------------------------ Redis specifics


async def test_unreachable_redis_raises_kv_unavailable(redis_namespace: str) -> None:
    kv = RedisKV("redis://127.0.0.1:1/0", namespace=redis_namespace)
    try:
        started = time.monotonic()
        with pytest.raises(KVUnavailable):
            await kv.ping()
        with pytest.raises(KVUnavailable):
            await kv.get("k")
        assert time.monotonic() - started < 3  # fails fast enough for a readiness probe
    finally:
        await kv.aclose()


async def test_namespaces_are_isolated(redis_url: str, redis_namespace: str) -> None:
    other_namespace = new_namespace()
    mine = RedisKV(redis_url, namespace=redis_namespace)
    theirs = RedisKV(redis_url, namespace=other_namespace)
    try:
        await theirs.set("k", "theirs")
        assert await mine.get("k") is None
        async with mine.subscribe("news") as news:
            assert await theirs.publish("news", "not for you") == 0
            assert await mine.publish("news", "for you") == 1
            assert await _next(news) == ("news", b"for you")
    finally:
        await mine.aclose()
        await theirs.aclose()
        await drop_namespace(redis_url, other_namespace)


async def test_two_workers_share_a_namespace(redis_url: str, redis_namespace: str) -> None:
    worker_1 = RedisKV(redis_url, namespace=redis_namespace)
    worker_2 = RedisKV(redis_url, namespace=redis_namespace)
    try:
        await worker_1.set("token:abc", "revoked")
        assert await worker_2.get("token:abc") == b"revoked"
        await worker_1.incr("count")
        assert await worker_2.incr("count") == 2
        async with worker_2.subscribe("catalog") as changes:
            assert await worker_1.publish("catalog", "changed") == 1
            assert await _next(changes) == ("catalog", b"changed")
        async with worker_1.lock("job", timeout=5):
            with pytest.raises(LockNotAcquired):
                async with worker_2.lock("job", timeout=5, blocking_timeout=0):
                    pass
    finally:
        await worker_1.aclose()
        await worker_2.aclose()


# ------------------------------------------------------------------------ in-process specifics


async def test_memory_subscriber_keeps_newest_when_full() -> None:
    kv = MemoryKV(namespace=new_namespace(), subscriber_queue_size=2)
    async with kv.subscribe("c") as messages:
        for i in range(3):
            assert await kv.publish("c", str(i)) == 1
        assert await _next(messages) == ("c", b"1")
        assert await _next(messages) == ("c", b"2")
    await kv.aclose()


async def test_memory_subscription_ends_when_store_closes() -> None:
    kv = MemoryKV(namespace=new_namespace())
    async with kv.subscribe("c") as messages:
        await kv.aclose()
        assert [m async for m in messages] == []


def test_kv_from_url_picks_the_implementation() -> None:
    assert isinstance(kv_from_url(None), MemoryKV)
    assert isinstance(kv_from_url("memory://"), MemoryKV)
    assert isinstance(kv_from_url("redis://127.0.0.1:6379/0", namespace="x"), RedisKV)
    assert isinstance(kv_from_url("unix:///run/redis.sock"), RedisKV)
    with pytest.raises(ValueError, match="postgres"):
        kv_from_url("postgres://user:secret@host/db")
