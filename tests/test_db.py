"""A request's writes land together or not at all, savepoints included, on both databases."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import text

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


async def _count(sessions: db.async_sessionmaker[db.AsyncSession]) -> int:
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
