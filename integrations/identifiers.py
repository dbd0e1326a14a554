"""National identifiers: GB 11643 citizen ID numbers (check digit and birth date).

Lives in integrations because adapters check numbers before paying for a
department lookup; the backend's identity layer uses the same function.
"""

from __future__ import annotations

import re
from datetime import date

_ID_NUMBER = re.compile(r"^[1-9][0-9]{16}[0-9X]$")  # ASCII only: \d also matches other digits
_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_CHECK = "10X98765432"


def id_number_check_digit(first17: str) -> str:
    return _CHECK[sum(int(d) * w for d, w in zip(first17, _WEIGHTS, strict=True)) % 11]


def is_valid_id_number(value: str, *, today: date | None = None) -> bool:
    """18 characters, a real birth date not in the future, and the GB 11643 check digit."""
    value = value.upper()
    if not _ID_NUMBER.match(value):
        return False
    try:
        born = date(int(value[6:10]), int(value[10:12]), int(value[12:14]))
    except ValueError:
        return False
    if born.year < 1900 or born > (today or date.today()):
        return False
    return id_number_check_digit(value[:17]) == value[17]
