"""Cursors: what a page hands out comes back as the same place; anything else is a 422."""

from __future__ import annotations

import contextlib
from datetime import UTC, datetime, timedelta, timezone

import pytest
from hypothesis import given
from hypothesis import strategies as st

from backend.errors import ValidationFailed
from backend.pagination import Cursor

moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2100, 1, 1), timezones=st.just(UTC)
)


@given(moments, st.one_of(st.uuids().map(str), st.integers(min_value=0, max_value=10**9)))
def test_a_cursor_comes_back_as_the_same_place(at: datetime, id_: str | int) -> None:
    token = Cursor(at, id_).encode()
    assert token.isascii() and "=" not in token  # safe in a query string as it is
    assert Cursor.decode(token) == Cursor(at, id_)


def test_a_cursor_keeps_the_instant_whatever_the_offset() -> None:
    china = timezone(timedelta(hours=8))
    at = datetime(2026, 12, 3, 20, 0, tzinfo=china)
    assert Cursor.decode(Cursor(at, "x").encode()).at == at.astimezone(UTC)


@pytest.mark.parametrize(
    "token",
    [
        "",
        "not base64 ✓",
        "bm90IGpzb24",  # "not json"
        "WzFd",  # [1]
        "WyIyMDI2LTEyLTAzVDIwOjAwOjAwIiwgImEiXQ",  # a time without an offset
        "WyIyMDI2LTEyLTAzVDIwOjAwOjAwKzAwOjAwIiwgdHJ1ZV0",  # an id that is a boolean
        "WyJ5ZXN0ZXJkYXkiLCAiYSJd",  # ["yesterday", "a"]
    ],
)
def test_anything_else_is_a_validation_problem(token: str) -> None:
    with pytest.raises(ValidationFailed) as caught:
        Cursor.decode(token)
    assert caught.value.extensions["errors"][0]["location"] == ["query", "cursor"]


@given(st.text(max_size=200))
def test_no_string_breaks_the_decoder(token: str) -> None:
    with contextlib.suppress(ValidationFailed):
        Cursor.decode(token)
