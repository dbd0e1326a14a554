"""A request's writes land together or not at all, savepoints included, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path

import pytest
from sqlalchemy import Column, Integer, MetaData, Table, select, text
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from backend import db
from tests.conftest import create_postgres_database, drop_postgres_database


@pytest.fixture(params=["sqlite", "postgres"])
async def database_url(
    request: pytest.FixtureRequest, tmp_path: Path, postgres_url: str
) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path}/savepoints.db"
        return
    url = await create_postgres_database(postgres_url, f"hft_db_{uuid.uuid4().hex[:10]}")
    yield url
    await drop_postgres_database(url)


async def _count(sessions: async_sessionmaker[AsyncSession]) -> int:
    async with sessions() as session:
        return int((await session.exec(text("SELECT count(*) FROM t"))).one()[0])  # type: ignore[call-overload]


async def test_a_savepoint_that_is_the_first_write_rolls_back_with_its_request(
    database_url: str,
) -> None:
    engine = db.create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.execute(text("CREATE TABLE t (x integer PRIMARY KEY)"))
        sessions = db.session_factory(engine)
        async with sessions() as session:
            await session.exec(text("SELECT 1"))  # type: ignore[call-overload]
            async with session.begin_nested():  # e.g. claiming a unique row first
                await session.exec(text("INSERT INTO t VALUES (1)"))  # type: ignore[call-overload]
            await session.rollback()  # the request failed later on
        assert await _count(sessions) == 0
        async with sessions() as session:
            async with session.begin_nested():
                await session.exec(text("INSERT INTO t VALUES (2)"))  # type: ignore[call-overload]
            await session.commit()
        assert await _count(sessions) == 1
    finally:
        await engine.dispose()


async def test_timestamps_are_stored_in_utc_and_read_back_with_their_offset(
    database_url: str,
) -> None:
    # SQLite keeps no offset: it read every timestamp back naive (sent without an offset,
    # not an RFC 3339 date-time) and stored a +08:00 value's wall time as if it were UTC.
    table = Table("stamps", MetaData(), Column("id", Integer, primary_key=True))
    table.append_column(Column("at", db.UtcDateTime(), nullable=False))
    china = datetime(2026, 12, 31, 23, 30, tzinfo=timezone(timedelta(hours=8)))
    engine = db.create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(table.metadata.create_all)
            await conn.execute(table.insert().values(id=1, at=china))
            await conn.execute(table.insert().values(id=2, at=china.astimezone(UTC)))
        async with engine.connect() as conn:
            rows = (await conn.execute(select(table.c.at).order_by(table.c.id))).scalars().all()
            later = await conn.execute(
                select(table.c.id).where(table.c.at >= datetime(2026, 12, 31, 15, 30, tzinfo=UTC))
            )
        assert rows == [china, china]
        assert all(row.utcoffset() == timedelta(0) for row in rows)
        assert sorted(later.scalars().all()) == [1, 2]
    finally:
        await engine.dispose()
