"""Deterministic randomness and the facts every department derives from an ID number.

Everything here must give the same answer in every process and on every Python
version, so seeds come from SHA-256 (never ``hash()``, which is salted per process)
and only ``random.Random.random()`` is used: it is the one method whose sequence
Python promises to keep stable for a given seed.
"""

from __future__ import annotations

import hashlib
import random
import re
from collections.abc import Sequence
from datetime import date, timedelta
from decimal import Decimal
from typing import TypeVar

T = TypeVar("T")

# "Today" for the simulated departments. Fixed, because data that drifted with the
# wall clock would make expected values in tests depend on the day they run.
REFERENCE_DATE = date(2026, 10, 31)
DATA_START = date(2020, 1, 1)

_ID_RE = re.compile(r"\d{17}[\dX]")
_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK = "10X98765432"

HEFEI_DISTRICTS: dict[str, str] = {
    "340102": "瑶海区",
    "340103": "庐阳区",
    "340104": "蜀山区",
    "340111": "包河区",
    "340121": "长丰县",
    "340122": "肥东县",
    "340123": "肥西县",
    "340124": "庐江县",
    "340181": "巢湖市",
}


class Rng:
    """A small deterministic generator seeded by SHA-256 of its key parts."""

    __slots__ = ("_r",)

    def __init__(self, *parts: str) -> None:
        digest = hashlib.sha256("\x1f".join(parts).encode()).digest()
        self._r = random.Random(int.from_bytes(digest[:8], "big"))

    def random(self) -> float:
        return self._r.random()

    def randint(self, low: int, high: int) -> int:
        """An integer in [low, high], both ends included."""
        return low + int(self._r.random() * (high - low + 1))

    def chance(self, p: float) -> bool:
        return self._r.random() < p

    def choice(self, items: Sequence[T]) -> T:
        return items[int(self._r.random() * len(items))]

    def sample(self, items: Sequence[T], k: int) -> list[T]:
        pool = list(items)
        return [pool.pop(int(self._r.random() * len(pool))) for _ in range(min(k, len(pool)))]

    def money(self, low: float, high: float) -> str:
        cents = self.randint(round(low * 100), round(high * 100))
        return money(Decimal(cents) / 100)

    def day(self, start: date = DATA_START, end: date = REFERENCE_DATE) -> date:
        return start + timedelta(days=self.randint(0, max(0, (end - start).days)))

    def digits(self, n: int) -> str:
        return "".join(str(self.randint(0, 9)) for _ in range(n))


def money(value: Decimal | int | str) -> str:
    """Amounts travel as decimal strings with exactly two places."""
    return str(Decimal(value).quantize(Decimal("0.01")))


def is_valid_id_format(id_no: object) -> bool:
    """Syntactic validity (17 digits + digit or X): what departments require to answer."""
    return isinstance(id_no, str) and _ID_RE.fullmatch(id_no) is not None


def id_checksum(first17: str) -> str:
    """The GB 11643 check character for the first 17 digits."""
    return _ID_CHECK[sum(int(c) * w for c, w in zip(first17, _ID_WEIGHTS, strict=True)) % 11]


def is_valid_id_checksum(id_no: object) -> bool:
    """Format and GB 11643 checksum: what the identity check calls an existing ID."""
    return is_valid_id_format(id_no) and id_checksum(str(id_no)[:17]) == str(id_no)[17]


def make_id_no(
    seed: str, *, district: str = "340104", birth: date | None = None, male: bool | None = None
) -> str:
    """A checksum-valid ID number, for tests and dev fixtures."""
    rng = Rng("make_id_no", seed)
    born = birth or date(1950, 1, 1) + timedelta(days=rng.randint(0, 365 * 55))
    last = (
        rng.randint(0, 9)
        if male is None
        else rng.choice((1, 3, 5, 7, 9) if male else (0, 2, 4, 6, 8))
    )
    order = rng.randint(0, 99) * 10 + last
    first17 = f"{district}{born:%Y%m%d}{order:03d}"
    return first17 + id_checksum(first17)


def birth_date(id_no: str) -> date:
    """Birth date encoded in the ID, or a stable stand-in when the digits are no date."""
    try:
        born = date(int(id_no[6:10]), int(id_no[10:12]), int(id_no[12:14]))
    except ValueError:
        born = date(1960, 1, 1) + timedelta(days=Rng("birth", id_no).randint(0, 365 * 40))
    return min(born, REFERENCE_DATE)


def age(id_no: str) -> int:
    born = birth_date(id_no)
    ref = REFERENCE_DATE
    return ref.year - born.year - ((ref.month, ref.day) < (born.month, born.day))


def is_male(id_no: str) -> bool:
    return int(id_no[16]) % 2 == 1


def district_code(id_no: str) -> str:
    """The Hefei district a citizen lives in: the ID's own if it is a Hefei one."""
    code = id_no[:6]
    if code in HEFEI_DISTRICTS:
        return code
    return Rng("district", id_no).choice(tuple(HEFEI_DISTRICTS))


def month_add(year: int, month: int, delta: int) -> tuple[int, int]:
    index = year * 12 + (month - 1) + delta
    return index // 12, index % 12 + 1


def add_years(day: date, years: int) -> date:
    try:
        return day.replace(year=day.year + years)
    except ValueError:  # 29 February
        return day.replace(year=day.year + years, day=28)
