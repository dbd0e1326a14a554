"""One-time SMS codes: six digits, five minutes, single use, five tries."""

from __future__ import annotations

import hashlib
import hmac
import secrets

from backend.kv import KV

CODE_TTL = 300.0
MAX_ATTEMPTS = 5


def _code_key(purpose: str, phone_hash: str) -> str:
    return f"otp:{purpose}:{phone_hash}"


def _digest(code: str, phone_hash: str) -> str:
    # Only a digest is stored: a KV dump does not reveal live codes.
    return hashlib.sha256(f"{phone_hash}:{code}".encode()).hexdigest()


async def issue_code(kv: KV, purpose: str, phone_hash: str) -> str:
    code = f"{secrets.randbelow(1_000_000):06d}"
    key = _code_key(purpose, phone_hash)
    await kv.set(key, _digest(code, phone_hash), ttl=CODE_TTL)
    await kv.delete(key + ":tries")
    return code


async def consume_code(kv: KV, purpose: str, phone_hash: str, code: str) -> bool:
    """True once for the right code; a wrong guess counts, and the fifth kills the code."""
    key = _code_key(purpose, phone_hash)
    stored = await kv.get(key)
    if stored is None:
        return False
    if not hmac.compare_digest(stored.decode(), _digest(code, phone_hash)):
        tries = await kv.incr(key + ":tries", ttl=CODE_TTL)
        if tries >= MAX_ATTEMPTS:
            await kv.delete(key, key + ":tries")
        return False
    # Deleting decides the race between two correct submissions: only one removes it.
    return await kv.delete(key) == 1
