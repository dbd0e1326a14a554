"""One way to list things that have no bound: cursor pages over (time, id).

``?cursor=…&page_size=…`` in, ``{"items": [...], "next_cursor": "…" | null}`` out. The cursor
is opaque to clients (base64url of the last item's time and id) and names a place in the
order, not an offset: rows inserted while a client pages never shift what it sees next, so
nothing is seen twice or skipped. Newest first, ties broken by id (ids are unique, times may
not be). A list that is small and fixed (the catalog) pages by number instead.
"""

# No ``from __future__ import annotations`` here: the page-size description inside the
# dependency's annotations names the list's own default, a closure variable that FastAPI could
# not resolve from a string annotation.

import base64
import binascii
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, Self, TypeVar, cast

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import TypeDecorator, or_
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from backend.errors import ValidationFailed
from backend.params import INT32_MAX

DEFAULT_PAGE_SIZE = 20
MAX_PAGE_SIZE = 100

T = TypeVar("T")
Row = TypeVar("Row")


class Page(BaseModel, Generic[T]):
    """One page of a list, and where the next one starts."""

    items: list[T]
    next_cursor: str | None = Field(
        description="下一页的游标；为 null 表示没有更多。"
        " Pass as `cursor` for the next page; null when this is the last page."
    )


@dataclass(frozen=True)
class Cursor:
    """The last item a page ended with: its time and its id."""

    at: datetime
    id: str | int  # the row's id, or its number within a parent (an adapter's version)

    def encode(self) -> str:
        raw = orjson.dumps([self.at.isoformat(), self.id])
        return base64.urlsafe_b64encode(raw).rstrip(b"=").decode()

    @classmethod
    def decode(cls, token: str) -> Self:
        try:
            padded = token + "=" * (-len(token) % 4)
            at, id_ = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            moment = datetime.fromisoformat(at)
            if not isinstance(id_, str | int) or isinstance(id_, bool) or moment.tzinfo is None:
                raise ValueError("not a cursor")
            if isinstance(id_, int) and not 0 <= id_ <= INT32_MAX:
                # No row has it, and the database cannot even bind it (an overflow, a 500).
                raise ValueError("not a cursor")
        except (ValueError, TypeError, binascii.Error, UnicodeError, orjson.JSONDecodeError):
            raise _invalid_cursor() from None
        return cls(moment, id_)


def _invalid_cursor() -> ValidationFailed:
    return ValidationFailed(
        "The cursor is not one this API gave out; start again without it",
        errors=[{"location": ["query", "cursor"], "message": "invalid", "type": "cursor"}],
    )


@dataclass(frozen=True)
class PageRequest:
    cursor: Cursor | None
    page_size: int


def page_params(default: int = DEFAULT_PAGE_SIZE) -> Callable[..., PageRequest]:
    """The ``cursor``/``page_size`` query parameters, as a dependency whose page size
    defaults to ``default``.

    A list that handed out more than 20 items before it had cursors (messages: 50) keeps
    its old size as the default, so an installed client that sends neither ``page_size``
    nor ``limit`` still gets what it got before.
    """

    def page_request(
        cursor: Annotated[
            str | None,
            Query(
                max_length=200,
                description="上一页返回的 next_cursor；首页不传。"
                " The `next_cursor` of the previous page; omit for the first page.",
            ),
        ] = None,
        page_size: Annotated[
            int | None,
            Query(
                ge=1,
                le=MAX_PAGE_SIZE,
                description=f"每页条数（1–{MAX_PAGE_SIZE}，默认 {default}）。"
                f" Items per page (1–{MAX_PAGE_SIZE}, default {default}).",
            ),
        ] = None,
        limit: Annotated[
            int | None,
            Query(
                ge=1,
                le=MAX_PAGE_SIZE,
                deprecated=True,
                description="旧参数，同 page_size。 The old name of `page_size`; use `page_size`.",
            ),
        ] = None,
    ) -> PageRequest:
        size = page_size or limit or default
        return PageRequest(Cursor.decode(cursor) if cursor is not None else None, size)

    return page_request


page_request = page_params()
PageDep = Annotated[PageRequest, Depends(page_request)]


def _python_type(column: InstrumentedAttribute[Any]) -> type:
    sql_type = column.expression.type
    if isinstance(sql_type, TypeDecorator):  # SQLModel's AutoString says only "object"
        sql_type = sql_type.impl_instance
    return cast(type, sql_type.python_type)


async def fetch_page(
    session: AsyncSession,
    query: SelectOfScalar[Row],
    page: PageRequest,
    *,
    at: Any,
    id: Any,
    oldest_first: bool = False,
) -> tuple[list[Row], str | None]:
    """The rows of one page of ``query``, newest ``at`` first (ties: highest id first), and
    the next page's cursor (None on the last page).

    ``at`` and ``id`` are the model's columns (e.g. ``Application.created_at``,
    ``Application.id``); an index on them (with the query's filters first) keeps every page
    as cheap as the first. ``oldest_first`` serves queues worked through in arrival order
    (proposals awaiting a decision); rows added while paging then come at the end of the
    same pass instead of on the next one.
    """
    at_col, id_col = col(at), col(id)
    at_attr = cast(InstrumentedAttribute[Any], at_col)
    id_attr = cast(InstrumentedAttribute[Any], id_col)
    if page.cursor is not None:
        if not isinstance(page.cursor.id, _python_type(id_attr)):
            # A cursor of another list (a version number where ids are strings): the
            # database would refuse to compare them, which must not become a 500.
            raise _invalid_cursor()
        # (at, id) past the cursor's, written out rather than as a row-value comparison so
        # the columns' own types bind the cursor's values (UTC datetimes are text on SQLite).
        # The plain range on ``at`` is where the database starts reading the index. With the
        # OR alone, a page deep in a long list read every row before the cursor: 100,000
        # messages, the last page 29 ms on SQLite and a middle one 14 ms on PostgreSQL,
        # against ~1 ms for any page with it (bench/list_pages.py).
        if oldest_first:
            query = query.where(
                at_col >= page.cursor.at,
                or_(at_col > page.cursor.at, id_col > page.cursor.id),
            )
        else:
            query = query.where(
                at_col <= page.cursor.at,
                or_(at_col < page.cursor.at, id_col < page.cursor.id),
            )
    order = (at_col.asc(), id_col.asc()) if oldest_first else (at_col.desc(), id_col.desc())
    query = query.order_by(*order).limit(page.page_size + 1)
    rows = list((await session.exec(query)).all())
    if len(rows) <= page.page_size:
        return rows, None
    rows = rows[: page.page_size]
    last = rows[-1]
    return rows, Cursor(getattr(last, at_attr.key), getattr(last, id_attr.key)).encode()
