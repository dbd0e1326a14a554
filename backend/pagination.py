"""One way to list things that have no bound: cursor pages over (time, id).

``?cursor=…&page_size=…`` in, ``{"items": [...], "next_cursor": "…" | null}`` out. The cursor
is opaque to clients (base64url of the last item's time and id) and names a place in the
order, not an offset: rows inserted while a client pages never shift what it sees next, so
nothing is seen twice or skipped. Newest first, ties broken by id (ids are unique, times may
not be). A list that is small and fixed (the catalog) pages by number instead.
"""

from __future__ import annotations

import base64
import binascii
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Generic, TypeVar, cast

import orjson
from fastapi import Depends, Query
from pydantic import BaseModel, Field
from sqlalchemy import and_, or_
from sqlalchemy.orm import InstrumentedAttribute
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession
from sqlmodel.sql.expression import SelectOfScalar

from backend.errors import ValidationFailed

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
    def decode(cls, token: str) -> Cursor:
        try:
            padded = token + "=" * (-len(token) % 4)
            at, id_ = orjson.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
            moment = datetime.fromisoformat(at)
            if not isinstance(id_, str | int) or isinstance(id_, bool) or moment.tzinfo is None:
                raise ValueError("not a cursor")
        except (ValueError, TypeError, binascii.Error, UnicodeError, orjson.JSONDecodeError):
            raise ValidationFailed(
                "The cursor is not one this API gave out; start again without it",
                errors=[{"location": ["query", "cursor"], "message": "invalid", "type": "cursor"}],
            ) from None
        return cls(moment, id_)


@dataclass(frozen=True)
class PageRequest:
    cursor: Cursor | None
    page_size: int


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
            description=f"每页条数（1–{MAX_PAGE_SIZE}，默认 {DEFAULT_PAGE_SIZE}）。"
            f" Items per page (1–{MAX_PAGE_SIZE}, default {DEFAULT_PAGE_SIZE}).",
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
    size = page_size or limit or DEFAULT_PAGE_SIZE
    return PageRequest(Cursor.decode(cursor) if cursor is not None else None, size)


PageDep = Annotated[PageRequest, Depends(page_request)]


async def fetch_page(
    session: AsyncSession,
    query: SelectOfScalar[Row],
    page: PageRequest,
    *,
    at: Any,
    id: Any,
) -> tuple[list[Row], str | None]:
    """The rows of one page of ``query``, newest ``at`` first, and the next page's cursor.

    ``at`` and ``id`` are the model's columns (e.g. ``Application.created_at``,
    ``Application.id``); an index on them (with the query's filters first) keeps every page
    as cheap as the first.
    """
    at_col, id_col = col(at), col(id)
    if page.cursor is not None:
        # Written out rather than as a row-value comparison: the columns' own types then bind
        # the cursor's values (UTC datetimes stored as text on SQLite).
        query = query.where(
            or_(at_col < page.cursor.at, and_(at_col == page.cursor.at, id_col < page.cursor.id))
        )
    query = query.order_by(at_col.desc(), id_col.desc()).limit(page.page_size + 1)
    rows = list((await session.exec(query)).all())
    if len(rows) <= page.page_size:
        return rows, None
    rows = rows[: page.page_size]
    last = rows[-1]
    at_name = cast(InstrumentedAttribute[Any], at_col).key
    id_name = cast(InstrumentedAttribute[Any], id_col).key
    return rows, Cursor(getattr(last, at_name), getattr(last, id_name)).encode()
