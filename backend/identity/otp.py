"""One-time SMS codes: six digits, five minutes, single use, five tries.

A code is stored as ``<expires at, epoch seconds>|<digest>`` and its five minutes are judged
by the injected clock (the app's, which a test moves instead of waiting): the KV store's own
expiry only clears it away afterwards.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets

from backend.clock import SYSTEM, Clock
from backend.kv import KV

CODE_TTL = 300.0
MAX_ATTEMPTS = 5


def _code_key(purpose: str, phone_hash: str) -> str:
    return f"otp:{purpose}:{phone_hash}"


def _digest(code: str, phone_hash: str) -> str:
    # Only a digest is stored: a KV dump does not reveal live codes.
    return hashlib.sha256(f"{phone_hash}:{code}".encode()).hexdigest()


async def issue_code(kv: KV, purpose: str, phone_hash: str, *, clock: Clock = SYSTEM) -> str:
    code = f"{secrets.randbelow(1_000_000):06d}"
    key = _code_key(purpose, phone_hash)
    expires_at = clock.time() + CODE_TTL
    await kv.set(key, f"{expires_at:.3f}|{_digest(code, phone_hash)}", ttl=CODE_TTL)
    await kv.delete(key + ":tries")
    return code


async def consume_code(
    kv: KV, purpose: str, phone_hash: str, code: str, *, clock: Clock = SYSTEM
) -> bool:
    """True once for the right code; a wrong guess counts, and the fifth kills the code."""
    key = _code_key(purpose, phone_hash)
    stored = await kv.get(key)
    if stored is None:
        return False
    expires_at, _, digest = stored.decode().rpartition("|")
    if expires_at and clock.time() >= float(expires_at):
        return False  # the KV store drops it shortly; it no longer counts either way
    if not hmac.compare_digest(digest, _digest(code, phone_hash)):
        tries = await kv.incr(key + ":tries", ttl=CODE_TTL)
        if tries >= MAX_ATTEMPTS:
            await kv.delete(key, key + ":tries")
        return False
    # Deleting decides the race between two correct submissions: only one removes it.
    return await kv.delete(key) == 1
