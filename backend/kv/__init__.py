"""One small key-value interface over Redis, with an in-process twin for the embedded default.

Caches, rate limits, token revocation, locks, breakers and change notifications depend on `KV`
only; `kv_from_url` picks the implementation from settings. Both implementations run through the
same test module (tests/test_kv.py), so behaviour that passes there is behaviour callers can rely
on whichever store is configured.
"""

from urllib.parse import urlsplit

from backend.kv.base import KV, KVError, KVUnavailable, LockNotAcquired
from backend.kv.memory_store import MemoryKV
from backend.kv.redis_store import RedisKV

__all__ = [
    "KV",
    "KVError",
    "KVUnavailable",
    "LockNotAcquired",
    "MemoryKV",
    "RedisKV",
    "claim_round",
    "kv_from_url",
]


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


async def claim_round(kv: KV, name: str, interval: float) -> bool:
    """Whether this process runs this interval's round of ``name`` for the whole deployment.

    The first process to set the round's key runs it; the key expires just before the next
    round, so a process that dies hands the next round to another. With one KV store per
    process (the embedded default) every process claims every round.
    """
    return await kv.set(f"round:{name}", b"1", ttl=interval * 0.9, nx=True)
