"""National identifiers: GB 11643 citizen ID numbers and GB 32100 unified social credit codes.

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


# --- unified social credit codes (GB 32100-2015) ---------------------------------

# No I, O, Z, S or V: they read too much like 1, 0, 2, 5 and U.
CREDIT_CODE_CHARSET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
_CREDIT_CODE_VALUES = {char: index for index, char in enumerate(CREDIT_CODE_CHARSET)}
_CREDIT_CODE_WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)


def credit_code_check_char(first17: str) -> str:
    """The GB 32100 check character for the first 17 characters of a credit code."""
    if len(first17) != 17 or not all(char in _CREDIT_CODE_VALUES for char in first17):
        raise ValueError("expected 17 characters from the GB 32100 character set")
    total = sum(
        _CREDIT_CODE_VALUES[char] * weight
        for char, weight in zip(first17, _CREDIT_CODE_WEIGHTS, strict=True)
    )
    return CREDIT_CODE_CHARSET[(31 - total % 31) % 31]


def is_valid_credit_code(value: str) -> bool:
    """18 characters from the GB 32100 set with a matching check character (case-insensitive)."""
    value = value.upper()
    if len(value) != 18 or not all(char in _CREDIT_CODE_VALUES for char in value):
        return False
    return credit_code_check_char(value[:17]) == value[17]
