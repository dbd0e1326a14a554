"""Request-body types for phone numbers, ID numbers, credit codes and names."""

from __future__ import annotations

from datetime import date, datetime, timedelta, timezone
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from hypothesis import given
from hypothesis import strategies as st
from pydantic import BaseModel, ConfigDict, ValidationError

from backend.errors import install_error_handlers
from backend.identity.validators import (
    CreditCode,
    IdNumber,
    PersonName,
    PhoneNumber,
    china_today,
    normalize_id_number,
    normalize_phone,
)
from integrations.identifiers import (
    CREDIT_CODE_CHARSET,
    credit_code_check_char,
    id_number_check_digit,
    is_valid_credit_code,
)


class Citizen(BaseModel):
    model_config = ConfigDict(hide_input_in_errors=True)

    phone: PhoneNumber | None = None
    id_number: IdNumber | None = None
    credit_code: CreditCode | None = None
    name: PersonName | None = None


def only_error(field: str, value: str) -> dict[str, Any]:
    with pytest.raises(ValidationError) as caught:
        Citizen.model_validate({field: value})
    errors = caught.value.errors()
    assert len(errors) == 1
    assert errors[0]["loc"] == (field,)
    if len(value.strip()) >= 4:
        assert value not in str(caught.value)  # personal data never reaches a log line
    return dict(errors[0])


def with_check_digit(first17: str) -> str:
    return first17 + id_number_check_digit(first17)


def with_check_char(first17: str) -> str:
    return first17 + credit_code_check_char(first17)


# --- phone numbers ------------------------------------------------------------------


@pytest.mark.parametrize(
    "typed",
    [
        "13812341234",
        " 13812341234 ",
        "138 1234 1234",
        "138-1234-1234",
        "+86 138 1234 1234",
        "+86-13812341234",
        "8613812341234",
        "0086 138 1234 1234",
        "１３８１２３４１２３４",  # full-width digits from a Chinese input method
        "＋８６　１３８１２３４１２３４",
    ],
)
def test_phone_is_normalized(typed: str) -> None:
    assert Citizen(phone=typed).phone == "13812341234"


@pytest.mark.parametrize(
    "typed",
    [
        "",
        "12812341234",  # no mobile prefix starts 12
        "10812341234",
        "1381234123",
        "138123412345",
        "+87 138 1234 1234",
        "+8612812341234",
        "86 86 13812341234",
        "138 1234 123a",
        "138.1234.1234",
        "138١٢٣٤١٢٣٤",  # Arabic-Indic digits are digits to \d, not to us
        "tel:13812341234",
    ],
)
def test_phone_rejected_with_chinese_message(typed: str) -> None:
    error = only_error("phone", typed)
    assert error["type"] == "phone_number"
    assert error["msg"] == "手机号码格式不正确 / not a valid mainland mobile number"


@st.composite
def typed_phone(draw: st.DrawFn) -> tuple[str, str]:
    digits = draw(st.from_regex(r"1[3-9][0-9]{9}", fullmatch=True))
    prefix = draw(st.sampled_from(["", "+86", "86", "0086", "+86 ", "86-"]))
    separators = draw(st.lists(st.sampled_from(["", "", " ", "-"]), min_size=11, max_size=11))
    typed = prefix + "".join(d + sep for d, sep in zip(digits, separators, strict=True))
    return typed, digits


@given(typed_phone())
def test_phone_property(case: tuple[str, str]) -> None:
    typed, digits = case
    assert normalize_phone(typed) == digits


# --- national ID numbers ------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("11010519491231002X", "11010519491231002X"),  # the example printed in GB 11643
        ("11010519491231002x", "11010519491231002X"),
        (" 110105 19491231 002x ", "11010519491231002X"),
        ("１１０１０５１９４９１２３１００２ｘ", "11010519491231002X"),
        (with_check_digit("34010420000229123"), with_check_digit("34010420000229123")),
    ],
)
def test_id_number_is_normalized(typed: str, normalized: str) -> None:
    assert Citizen(id_number=typed).id_number == normalized


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("110105194912310021", "校验位"),  # right shape, wrong check digit
        ("11010519491231003X", "校验位"),
        ("11010519491231002", "格式"),
        ("110105491231002", "格式"),  # 15-digit first-generation numbers are retired
        ("01010519491231002X", "格式"),
        ("1101051949123100XX", "格式"),
        ("11010519491231002Y", "格式"),
        ("11010519491231٠٠2X", "格式"),  # Arabic-Indic zeros: int() reads them, we must not
        (with_check_digit("34010419900230123"), "出生日期"),  # 30 February
        (with_check_digit("34010418991231123"), "出生日期"),
    ],
)
def test_id_number_rejected(typed: str, message: str) -> None:
    error = only_error("id_number", typed)
    assert error["type"] == "id_number"
    assert message in error["msg"] and " / " in error["msg"]


def test_id_number_birth_date_in_the_future_rejected() -> None:
    born = datetime.now(timezone(timedelta(hours=8))).date() + timedelta(days=1)
    typed = with_check_digit(f"340104{born:%Y%m%d}123")
    assert "出生日期" in only_error("id_number", typed)["msg"]
    # Born today (in China) is fine: newborns are registered.
    assert normalize_id_number(typed, today=born) == typed


def test_china_today_is_utc_plus_eight() -> None:
    assert china_today() == datetime.now(timezone(timedelta(hours=8))).date()


@st.composite
def id_prefix(draw: st.DrawFn) -> str:
    region = draw(st.from_regex(r"[1-9][0-9]{5}", fullmatch=True))
    born = draw(st.dates(min_value=date(1900, 1, 1), max_value=date(2020, 12, 31)))
    sequence = draw(st.from_regex(r"[0-9]{3}", fullmatch=True))
    return f"{region}{born:%Y%m%d}{sequence}"


@given(id_prefix())
def test_id_number_check_digit_property(first17: str) -> None:
    valid = with_check_digit(first17)
    assert normalize_id_number(valid.lower()) == valid
    for wrong in "0123456789X":
        if wrong != valid[17]:
            with pytest.raises(ValueError):
                normalize_id_number(first17 + wrong)


@given(id_prefix(), st.integers(0, 16), st.sampled_from("0123456789"))
def test_id_number_single_substitution_detected(first17: str, position: int, digit: str) -> None:
    # Mod 11 with weights coprime to 11 catches every single-digit error.
    valid = with_check_digit(first17)
    changed = valid[:position] + digit + valid[position + 1 :]
    if changed != valid:
        with pytest.raises(ValueError):
            normalize_id_number(changed)


# --- unified social credit codes ----------------------------------------------------


def test_credit_code_check_char_pinned() -> None:
    # Real, published codes pin the algorithm independently of our own implementation.
    assert credit_code_check_char("91350100M000100Y4") == "3"
    assert is_valid_credit_code("9144030071526726XG")
    # Hand-computed edges: a sum of 0 gives 31 → '0'; a sum of 1 gives 30 → 'Y'.
    assert credit_code_check_char("0" * 17) == "0"
    assert credit_code_check_char("1" + "0" * 16) == "Y"


@pytest.mark.parametrize("first17", ["", "0" * 16, "0" * 18, "I" + "0" * 16, "9135010om000100y4"])
def test_credit_code_check_char_refuses_bad_input(first17: str) -> None:
    with pytest.raises(ValueError):
        credit_code_check_char(first17)


@pytest.mark.parametrize(
    "typed", ["91350100M000100Y43", "91350100m000100y43", " 9135 0100 M000 100Y 43 "]
)
def test_credit_code_is_normalized(typed: str) -> None:
    assert Citizen(credit_code=typed).credit_code == "91350100M000100Y43"
    assert is_valid_credit_code(typed.strip()) is (" " not in typed.strip())


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("91350100M000100Y44", "校验位"),
        ("91350100M000100Y4", "格式"),
        ("91350100M000100Y433", "格式"),
        ("91350100MO00100Y43", "格式"),  # O is not in the GB 32100 set
        ("9135010OM000100Y4I", "格式"),
        ("91350100M000100S43", "格式"),
        ("91350100M000100Y4Z", "格式"),
        ("91350100-M000100Y43", "格式"),
    ],
)
def test_credit_code_rejected(typed: str, message: str) -> None:
    error = only_error("credit_code", typed)
    assert error["type"] == "credit_code"
    assert message in error["msg"] and "统一社会信用代码" in error["msg"]
    assert not is_valid_credit_code(typed)


credit_prefixes = st.text(alphabet=CREDIT_CODE_CHARSET, min_size=17, max_size=17)


@given(credit_prefixes)
def test_credit_code_check_char_property(first17: str) -> None:
    valid = with_check_char(first17)
    assert is_valid_credit_code(valid)
    assert is_valid_credit_code(valid.lower())
    for wrong in CREDIT_CODE_CHARSET:
        if wrong != valid[17]:
            assert not is_valid_credit_code(first17 + wrong)


@given(credit_prefixes, st.integers(0, 16), st.sampled_from(CREDIT_CODE_CHARSET))
def test_credit_code_single_substitution_detected(first17: str, position: int, char: str) -> None:
    # 31 is prime and no weight is a multiple of it, so every single substitution shows.
    valid = with_check_char(first17)
    changed = valid[:position] + char + valid[position + 1 :]
    assert is_valid_credit_code(changed) is (changed == valid)


# --- names --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalized"),
    [
        ("张三", "张三"),
        ("  欧阳娜娜 ", "欧阳娜娜"),
        ("张 三", "张三"),
        ("阿卜杜·热合曼", "阿卜杜·热合曼"),
        ("阿卜杜 • 热合曼", "阿卜杜·热合曼"),
        ("阿卜杜.热合曼", "阿卜杜·热合曼"),
        ("阿卜杜・热合曼", "阿卜杜·热合曼"),
        ("王𪚥", "王𪚥"),  # a rare character outside the Basic Multilingual Plane
        ("李〇", "李〇"),
        ("John Smith", "John Smith"),
        ("  John \t Smith ", "John Smith"),
        ("Seán O’Brien", "Seán O'Brien"),
        ("Jean-Luc Picard", "Jean-Luc Picard"),
        ("John F. Kennedy", "John F. Kennedy"),
        ("Ｊｏｈｎ", "John"),
    ],
)
def test_name_is_normalized(typed: str, normalized: str) -> None:
    assert Citizen(name=typed).name == normalized


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("张", "长度"),
        ("", "长度"),
        ("   ", "长度"),
        ("张" * 21, "长度"),
        ("J", "长度"),
        ("张三3", "汉字"),
        ("·张三", "汉字"),
        ("张三·", "汉字"),
        ("张··三", "汉字"),
        ("张三John", "汉字"),
        ("John2", "汉字"),
        ("John--Smith", "汉字"),
        ("-John", "汉字"),
        ("<script>", "汉字"),
        ("张\u200b三", "汉字"),
    ],
)
def test_name_rejected(typed: str, message: str) -> None:
    error = only_error("name", typed)
    assert error["type"] == "person_name"
    assert message in error["msg"] and " / " in error["msg"]


def test_name_length_counts_characters() -> None:
    assert Citizen(name="张" * 20).name == "张" * 20
    assert Citizen(name="𪚥" * 20).name == "𪚥" * 20


# --- through the API's error handler --------------------------------------------------


async def test_problem_lists_fields_with_chinese_messages() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/citizens")
    async def create(body: Citizen) -> dict[str, str | None]:
        return body.model_dump()

    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        ok = await client.post("/citizens", json={"phone": "+86 138 1234 1234"})
        assert ok.status_code == 200
        assert ok.json()["phone"] == "13812341234"

        bad = await client.post(
            "/citizens", json={"phone": "12812341234", "id_number": "110105194912310021"}
        )
    assert bad.status_code == 422
    problem = bad.json()
    assert problem["code"] == "VALIDATION_FAILED"
    messages = {tuple(e["location"]): e["message"] for e in problem["errors"]}
    assert messages[("body", "phone")].startswith("手机号码格式不正确")
    assert messages[("body", "id_number")].startswith("身份证号码校验位不正确")
    assert "12812341234" not in bad.text and "110105194912310021" not in bad.text
