"""Applying Alembic migrations and seeding the bundled catalog."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications.working_days import seed_calendar
from backend.catalog.data_file import BUNDLED_CATALOG, CatalogFile, load_catalog_file
from backend.catalog.service import replace_catalog, stored_revision
from backend.db import create_engine
from backend.providers.proposals import approved_services

MIGRATIONS_DIR = Path(__file__).parent / "migrations"


def _alembic_config() -> Config:
    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS_DIR))
    return cfg


def upgrade_sync(database_url: str) -> None:
    """Upgrade the schema to head. Synchronous: call from a thread inside an event loop."""
    asyncio.run(_upgrade(database_url))


async def _upgrade(database_url: str) -> None:
    engine = create_engine(database_url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(_run_upgrade)
    finally:
        await engine.dispose()


def _run_upgrade(connection: Any) -> None:
    cfg = _alembic_config()
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


async def upgrade(database_url: str) -> None:
    await asyncio.to_thread(upgrade_sync, database_url)


async def seed_bundled_catalog(engine: AsyncEngine) -> int | None:
    """Load the bundled catalog when the database has none, or an older bundled one.

    A catalog loaded from another file with ``catalog load`` is left alone.
    Returns the new revision, or None when nothing was loaded.
    """
    sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
    catalog, sha = load_catalog_file(BUNDLED_CATALOG)
    async with sessions() as session, session.begin():
        current = await stored_revision(session)
        if current is not None and (current.source != "bundled" or current.source_sha256 == sha):
            return None
        return await load_catalog(session, catalog, source="bundled", source_sha256=sha)


async def load_catalog(
    session: AsyncSession, catalog: CatalogFile, *, source: str, source_sha256: str
) -> int:
    """Replace the catalog with a data file's, keeping the services providers brought.

    Here, in the composition root, because it joins two features: the catalog owns its
    tables, providers own the approved proposals, and neither imports the other for this.
    """
    contributed = await approved_services(session)
    return await replace_catalog(
        session, catalog, source=source, source_sha256=source_sha256, contributed=contributed
    )


async def migrate_and_seed(database_url: str) -> int | None:
    await upgrade(database_url)
    engine = create_engine(database_url)
    try:
        sessions = async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)
        async with sessions() as session, session.begin():
            await seed_calendar(session)
        return await seed_bundled_catalog(engine)
    finally:
        await engine.dispose()
