"""Migrations run forward and back on both databases the project supports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import inspect

from backend import db
from backend.migrate import upgrade


async def _tables(url: str) -> set[str]:
    engine = db.create_engine(url)
    try:
        async with engine.connect() as conn:
            return set(await conn.run_sync(lambda c: inspect(c).get_table_names()))
    finally:
        await engine.dispose()


async def _downgrade_to_base(url: str) -> None:
    from alembic import command

    from backend.migrate import _alembic_config

    def run(connection: object) -> None:
        cfg = _alembic_config()
        cfg.attributes["connection"] = connection
        command.downgrade(cfg, "base")

    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


@pytest.fixture(params=["sqlite", "postgres"])
async def empty_database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        return
    from tests.conftest import create_postgres_database, drop_postgres_database

    base = request.getfixturevalue("postgres_url")
    url = await create_postgres_database(base, f"hft_mig_{uuid.uuid4().hex[:10]}")
    yield url
    await drop_postgres_database(url)


async def test_upgrade_downgrade_upgrade(empty_database: str) -> None:
    url = empty_database
    await upgrade(url)
    tables = await _tables(url)
    assert {"catalog_service", "catalog_domain", "alembic_version"} <= tables
    await _downgrade_to_base(url)
    assert await _tables(url) == {"alembic_version"}
    await upgrade(url)
    assert "catalog_service" in await _tables(url)
