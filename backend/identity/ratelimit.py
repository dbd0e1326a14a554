"""Rate limits on the KV backend's store (``limits``): in-process or Redis, like the KV.

Plain moving windows: per address and per account. The per-phone limits of sign-in codes
(back-off, a daily count that a sign-in ends) are ``sms_limits.py``.
"""

from __future__ import annotations

import time

from limits import RateLimitItem, parse, parse_many
from limits.aio.storage import MemoryStorage, Storage
from limits.aio.strategies import MovingWindowRateLimiter
from limits.storage import storage_from_string

# Moving windows: "1 per minute" must mean 60 s between sends, not "once per clock minute".
PASSWORD_FAILURES_PER_ACCOUNT = (parse("5/15minutes"),)
PASSWORD_PER_IP = (parse("60/hour"),)


class RateLimits:
    def __init__(self, redis_url: str | None, namespace: str, sms_per_requester: str) -> None:
        # Sign-in codes one requester may ask for, whatever the phones.
        self.sms_per_requester = tuple(parse_many(sms_per_requester))
        storage: Storage
        if redis_url is None:
            storage = MemoryStorage()
        else:
            # redis-py, not coredis: see DESIGN.md's pitfalls.
            redis_storage = storage_from_string(
                "async+" + redis_url, implementation="redispy", key_prefix=f"{namespace}:limits"
            )
            assert isinstance(redis_storage, Storage)  # "async+" schemes give async storages
            storage = redis_storage
        self._limiter = MovingWindowRateLimiter(storage)

    async def reset(self) -> None:
        """Forget every window (every phone, IP and account starts afresh)."""
        await self._limiter.storage.reset()

    async def hit(self, rules: tuple[RateLimitItem, ...], *keys: str) -> float | None:
        """Count one event; None if every rule allows it, else seconds until it would."""
        for rule in rules:
            if not await self._limiter.test(rule, *keys):
                return await self._retry_after(rule, *keys)
        for rule in rules:
            await self._limiter.hit(rule, *keys)
        return None

    async def blocked(self, rules: tuple[RateLimitItem, ...], *keys: str) -> float | None:
        """Seconds until allowed if any rule is exhausted, without counting an event."""
        for rule in rules:
            if not await self._limiter.test(rule, *keys):
                return await self._retry_after(rule, *keys)
        return None

    async def _retry_after(self, rule: RateLimitItem, *keys: str) -> float:
        stats = await self._limiter.get_window_stats(rule, *keys)
        # ``limits`` stamps and judges its windows with the process's own time.time() (in
        # process for the memory storage; the Redis storage sends that stamp to its Lua
        # scripts) and takes no clock. The wait is measured on that same clock, not on the
        # app's, which a test may have moved: these windows are not moved by a test.
        return max(1.0, stats.reset_time - time.time())
