"""How often a phone gets a sign-in code: slow an attacker down, never lock the owner out.

A code request names a phone and comes from a requester (the client's address, see
``requester.py``). Three limits apply, and a successful sign-in lifts the last two:

- **per requester**, whatever the phones: a moving window (``limits``, ``ratelimit.py``), so
  one address cannot text the whole city;
- **per phone and requester together**, progressive back-off: after the n-th code of a series
  the next one from the same requester waits ``first_wait × 2^(n-1)`` seconds, at most
  ``max_wait``, and a series holds at most ``per_phone_and_requester`` codes; it ends a day
  after its first code, or when that requester signs the phone in;
- **per phone**, from requesters that have not signed this phone in during the last 30 days:
  ``per_phone`` codes a day, so many addresses together cannot flood a phone with texts. A
  successful sign-in ends that day's count, and a requester the owner signed in from stays
  exempt, so an attacker who used the count up still does not keep the owner out.

Before this, ten requests for one phone from any addresses used its daily cap and locked the
owner out for a day (issue 13, finding 6).

Why this is not ``limits``: a back-off that doubles with each code is a sequence, not a rate
window, and ``limits`` judges its windows by the process's own ``time.time()`` with no clock to
inject, so a test could only check a back-off by sleeping through it. The series are kept in
the KV store (Redis in production, so every worker sees them) and judged by the app's clock,
which a test moves for its own requests (``backend.clock.advance``); the KV store's expiry
only clears them away afterwards, as with one-time codes (``otp.py``). A lock per phone makes
the read-judge-write of one request atomic, so two concurrent requests cannot both pass.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from backend.clock import Clock
from backend.kv import KV, LockNotAcquired

DAY = 86_400.0


@dataclass(frozen=True)
class SmsPolicy:
    """The numbers of the policy above (settings ``HEFEITONG_SMS_*``)."""

    first_wait: float = 60.0
    max_wait: float = 3_600.0
    per_phone_and_requester: int = 10
    per_phone: int = 20
    # How long a requester that signed a phone in stays exempt from the per-phone count.
    remember_requester: float = 30 * DAY

    def wait_after(self, sent: int) -> float:
        """Seconds between the ``sent``-th code of a series and the next one."""
        return min(self.first_wait * 2.0 ** min(sent - 1, 62), self.max_wait)


@dataclass(frozen=True)
class _Series:
    """Codes sent in one day-long series: when it began, the last one, how many."""

    first: float
    last: float
    count: int

    @classmethod
    def read(cls, raw: bytes | None, now: float) -> _Series | None:
        """The live series stored in ``raw``, or None (none, or its day is over)."""
        if raw is None:
            return None
        first, last, count = raw.decode().split("|")
        series = cls(float(first), float(last), int(count))
        return series if now < series.first + DAY else None

    @classmethod
    def after(cls, series: _Series | None, now: float) -> _Series:
        if series is None:
            return cls(now, now, 1)
        return cls(series.first, now, series.count + 1)

    def dump(self) -> str:
        return f"{self.first:.3f}|{self.last:.3f}|{self.count}"


@dataclass(frozen=True)
class Admission:
    """The answer to one code request: sent, and how long until the next one may be; or
    refused, and how long until it would not be."""

    allowed: bool
    seconds: int


class SmsCodeLimits:
    """The per-phone limits of sign-in codes (the per-requester window is ``RateLimits``)."""

    def __init__(self, kv: KV, clock: Clock, policy: SmsPolicy) -> None:
        self._kv = kv
        self._clock = clock
        self.policy = policy

    async def admit(self, phone_hash: str, requester: str) -> Admission:
        """Count one code for the phone asked by ``requester`` if the limits allow it.

        ``requester`` is a keyed hash of the requester (never an address in clear). The
        answer depends on the phone's and requester's history only, never on whether the
        phone has an account.
        """
        policy = self.policy
        try:
            async with self._kv.lock(f"sms-codes:{phone_hash}", timeout=5, blocking_timeout=5):
                now = self._clock.time()
                pair_key, phone_key = _pair_key(phone_hash, requester), _phone_key(phone_hash)
                pair = _Series.read(await self._kv.get(pair_key), now)
                wait = 0.0
                if pair is not None:
                    if pair.count >= policy.per_phone_and_requester:
                        wait = pair.first + DAY - now
                    else:
                        wait = pair.last + policy.wait_after(pair.count) - now
                known = await self._kv.get(_known_key(phone_hash, requester)) is not None
                phone = None if known else _Series.read(await self._kv.get(phone_key), now)
                if phone is not None and phone.count >= policy.per_phone:
                    wait = max(wait, phone.first + DAY - now)
                if wait > 0:
                    return Admission(allowed=False, seconds=_whole(wait))
                pair = _Series.after(pair, now)
                await self._kv.set(pair_key, pair.dump(), ttl=DAY)
                if not known:
                    await self._kv.set(phone_key, _Series.after(phone, now).dump(), ttl=DAY)
        except LockNotAcquired:
            # Only under a burst of requests for one phone: the burst waits, like any other.
            return Admission(allowed=False, seconds=1)
        if pair.count >= policy.per_phone_and_requester:
            return Admission(allowed=True, seconds=_whole(pair.first + DAY - now))
        return Admission(allowed=True, seconds=_whole(policy.wait_after(pair.count)))

    async def proven(self, phone_hash: str, requester: str) -> None:
        """The requester signed the phone in (a code it received, or its password): its
        series and the phone's count end, and it stays exempt from the per-phone count."""
        await self._kv.delete(_pair_key(phone_hash, requester), _phone_key(phone_hash))
        await self._kv.set(
            _known_key(phone_hash, requester), b"1", ttl=self.policy.remember_requester
        )


def _whole(seconds: float) -> int:
    return max(0, math.ceil(seconds))


def _pair_key(phone_hash: str, requester: str) -> str:
    return f"sms:series:{phone_hash}:{requester}"


def _phone_key(phone_hash: str) -> str:
    return f"sms:phone:{phone_hash}"


def _known_key(phone_hash: str, requester: str) -> str:
    return f"sms:known:{phone_hash}:{requester}"
