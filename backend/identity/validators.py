"""Request-body types for personal identifiers: mobile numbers, ID numbers, credit codes, names.

Each type normalises what people really type (spaces, dashes, a ``+86`` prefix,
full-width characters from a Chinese input method, a lower-case ``x``) and rejects
the rest with a message in Chinese and English, which the 422 problem lists under
the field. Messages never repeat the value: it is personal data.

Normalise before ``PiiCipher.blind_index``: the index only finds identical strings,
so ``138 1234 1234`` and ``13812341234`` must become the same text first. The
``normalize_*`` functions do that outside request bodies and raise ``ValueError``.

Pydantic's own ``ValidationError`` text repeats the input; models carrying these
fields should set ``ConfigDict(hide_input_in_errors=True)`` so it cannot reach a log.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable
from datetime import date
from typing import Annotated

from pydantic import AfterValidator, Field
from pydantic_core import PydanticCustomError

from backend import clock
from integrations.identifiers import (
    CREDIT_CODE_CHARSET,
    credit_code_check_char,
    id_number_check_digit,
    is_valid_id_number,
)

PHONE_INVALID = "手机号码格式不正确 / not a valid mainland mobile number"
ID_NUMBER_FORMAT = "身份证号码格式不正确，应为18位 / not a valid 18-character national ID number"
ID_NUMBER_CHECK = "身份证号码校验位不正确 / the national ID number's check digit does not match"
ID_NUMBER_BIRTH_DATE = (
    "身份证号码中的出生日期无效 / the birth date in the national ID number is not a real past date"
)
CREDIT_CODE_FORMAT = (
    "统一社会信用代码格式不正确 / not a valid 18-character unified social credit code"
)
CREDIT_CODE_CHECK = (
    "统一社会信用代码校验位不正确 / the unified social credit code's check character does not match"
)
NAME_LENGTH = "姓名长度应为2至20个字符 / a name must be 2 to 20 characters long"
NAME_INVALID = (
    "姓名只能由汉字（少数民族姓名可含间隔号“·”）或拉丁字母组成 / "
    "a name must be Chinese characters (with · between parts) or Latin letters"
)

NAME_MIN_LENGTH = 2
NAME_MAX_LENGTH = 20

# Chinese input methods produce full-width forms (１３８, ＋, ｘ, the ideographic space);
# the user typed the right number, so map them to ASCII instead of rejecting it.
_HALF_WIDTH = {cp: cp - 0xFEE0 for cp in range(0xFF01, 0xFF5F)} | {0x3000: 0x20}
_WHITESPACE = re.compile(r"\s+")


def _half_width(value: str) -> str:
    return value.translate(_HALF_WIDTH)


def china_today() -> date:
    """Today's date in China: a baby born this morning in Hefei is not "in the future" on UTC."""
    return clock.today()


# --- mobile numbers ---------------------------------------------------------------

_PHONE_SEPARATORS = re.compile(r"[\s\-]")
_MOBILE = re.compile(r"1[3-9][0-9]{9}")  # [0-9], not \d: \d also matches Arabic-Indic digits
_COUNTRY_PREFIXES = ("+86", "0086", "86")


def normalize_phone(value: str) -> str:
    """A mainland mobile number as 11 digits; spaces, dashes and a +86/86/0086 prefix dropped."""
    compact = _PHONE_SEPARATORS.sub("", _half_width(value))
    for prefix in _COUNTRY_PREFIXES:
        # Only strip when exactly a mobile number follows: "86…" is never a valid 11-digit number.
        if compact.startswith(prefix) and len(compact) == len(prefix) + 11:
            compact = compact[len(prefix) :]
            break
    if not _MOBILE.fullmatch(compact):
        raise ValueError(PHONE_INVALID)
    return compact


# --- national ID numbers (GB 11643) ----------------------------------------------

_ID_NUMBER_SHAPE = re.compile(r"[1-9][0-9]{16}[0-9X]")


def normalize_id_number(value: str, *, today: date | None = None) -> str:
    """An 18-character ID number with an upper-case X, checked digit and real, past birth date.

    Whitespace anywhere is dropped: cards and forms often print the number as 6-8-4 groups.
    ``today`` defaults to the date in China.
    """
    compact = _WHITESPACE.sub("", _half_width(value)).upper()
    if not _ID_NUMBER_SHAPE.fullmatch(compact):
        raise ValueError(ID_NUMBER_FORMAT)
    # The check digit first: a typo is far likelier than a wrong birth date.
    if id_number_check_digit(compact[:17]) != compact[17]:
        raise ValueError(ID_NUMBER_CHECK)
    if not is_valid_id_number(compact, today=today or china_today()):
        raise ValueError(ID_NUMBER_BIRTH_DATE)
    return compact


# --- unified social credit codes (GB 32100-2015) ---------------------------------

# The algorithm lives beside the ID-number one, where the sandbox departments can use it.
_CREDIT_CODE_VALUES = {char: index for index, char in enumerate(CREDIT_CODE_CHARSET)}


def normalize_credit_code(value: str) -> str:
    """A unified social credit code in upper case, whitespace dropped, check character verified."""
    compact = _WHITESPACE.sub("", _half_width(value)).upper()
    if len(compact) != 18 or not all(char in _CREDIT_CODE_VALUES for char in compact):
        raise ValueError(CREDIT_CODE_FORMAT)
    if credit_code_check_char(compact[:17]) != compact[17]:
        raise ValueError(CREDIT_CODE_CHECK)
    return compact


# --- legal names ------------------------------------------------------------------

# Han ideographs including the extensions: rare characters (生僻字) in real names live in
# Extension B and beyond, and refusing someone's own name is the bug users remember.
_HAN = "\u3007\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0002fa1f\U00030000-\U000323af"
_HAN_CHAR = re.compile(f"[{_HAN}]")
_CJK_NAME = re.compile(f"[{_HAN}]+(?:·[{_HAN}]+)*")
# People type the separator of minority names with whatever dot their keyboard offers.
_NAME_DOTS = str.maketrans(dict.fromkeys("•‧∙・･.·", "·"))

_LATIN = "A-Za-z\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f"
_LATIN_WORD = f"[{_LATIN}]+(?:['\\-][{_LATIN}]+)*\\.?"  # O'Brien, Jean-Luc, F.
_LATIN_NAME = re.compile(f"{_LATIN_WORD}(?: {_LATIN_WORD})*")


def normalize_person_name(value: str) -> str:
    """A legal name: Chinese characters (· between parts) or Latin letters for foreigners.

    Chinese names lose all whitespace ("张 三" is 张三); Latin names keep single spaces.
    """
    text = unicodedata.normalize("NFC", _half_width(value)).replace("\u2019", "'").strip()
    if _HAN_CHAR.search(text):
        text = _WHITESPACE.sub("", text).translate(_NAME_DOTS)
        pattern = _CJK_NAME
    else:
        text = _WHITESPACE.sub(" ", text)
        pattern = _LATIN_NAME
    # Length before the pattern: it also bounds the work the pattern does.
    if not NAME_MIN_LENGTH <= len(text) <= NAME_MAX_LENGTH:
        raise ValueError(NAME_LENGTH)
    if not pattern.fullmatch(text):
        raise ValueError(NAME_INVALID)
    return text


# --- the annotated types ------------------------------------------------------------


def _validated_by(normalize: Callable[[str], str], error_type: str) -> AfterValidator:
    def validate(value: str) -> str:
        try:
            return normalize(value)
        except ValueError as exc:
            # A custom error keeps the message clean of pydantic's "Value error, " prefix and
            # gives clients a stable `type` to branch on.
            raise PydanticCustomError(error_type, str(exc)) from None

    return AfterValidator(validate)


PhoneNumber = Annotated[
    str,
    _validated_by(normalize_phone, "phone_number"),
    Field(description="中国大陆手机号码 / mainland mobile number", examples=["13800138000"]),
]
IdNumber = Annotated[
    str,
    _validated_by(normalize_id_number, "id_number"),
    Field(
        description="居民身份证号码（GB 11643）/ national ID number",
        examples=["11010519491231002X"],
    ),
]
CreditCode = Annotated[
    str,
    _validated_by(normalize_credit_code, "credit_code"),
    Field(
        description="统一社会信用代码（GB 32100）/ unified social credit code",
        examples=["91350100M000100Y43"],
    ),
]
PersonName = Annotated[
    str,
    _validated_by(normalize_person_name, "person_name"),
    Field(description="姓名 / legal name", examples=["张三", "阿卜杜·热合曼"]),
]
