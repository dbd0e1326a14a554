"""Opaque, time-ordered identifiers (UUIDv7, RFC 9562).

Python 3.11's uuid module has no uuid7; time-ordered ids keep B-tree indexes
append-mostly, which random UUIDv4 keys do not.
"""

from __future__ import annotations

import os
import time
import uuid


def uuid7() -> str:
    millis = time.time_ns() // 1_000_000
    rand = int.from_bytes(os.urandom(10), "big")
    value = (millis & ((1 << 48) - 1)) << 80
    value |= 0x7 << 76  # version 7
    value |= (rand >> 68) << 64 & (((1 << 12) - 1) << 64)  # rand_a: 12 bits
    value |= 0b10 << 62  # RFC 4122 variant
    value |= rand & ((1 << 62) - 1)  # rand_b: 62 bits
    return str(uuid.UUID(int=value))
