"""Migrations run forward and back on both databases the project supports."""

from __future__ import annotations

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


@pytest.mark.parametrize("backend", ["sqlite", "postgres"])
async def test_upgrade_downgrade_upgrade(
    backend: str, tmp_path: Path, request: pytest.FixtureRequest
) -> None:
    if backend == "sqlite":
        url = f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
    else:
        url = request.getfixturevalue("fresh_postgres")
    await upgrade(url)
    tables = await _tables(url)
    assert {"catalog_service", "catalog_domain", "alembic_version"} <= tables
    await _downgrade_to_base(url)
    assert await _tables(url) == {"alembic_version"}
    await upgrade(url)
    assert "catalog_service" in await _tables(url)
