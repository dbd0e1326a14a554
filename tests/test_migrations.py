"""Migrations run forward and back on both databases the project supports."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from sqlalchemy import Connection, inspect
from sqlmodel import SQLModel

from backend import db
from backend.app_state import state_of
from backend.migrate import upgrade
from tests.conftest import SharedApp


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


async def test_the_migrations_build_the_indexes_the_models_declare(shared_app: SharedApp) -> None:
    """A model's index with no migration (or the reverse) is an index production lacks: the
    lists' pages (backend/pagination.py) would then sort a citizen's whole history."""
    import backend.models_registry  # noqa: F401  (every table in the metadata)

    declared = {
        table.name: {index.name: [c.name for c in index.columns] for index in table.indexes}
        for table in SQLModel.metadata.sorted_tables
    }

    def built(connection: Connection) -> dict[str, dict[str | None, list[str | None]]]:
        found = inspect(connection)
        return {
            table: {
                index["name"]: list(index["column_names"])
                for index in found.get_indexes(table)
                if not index.get("duplicates_constraint")  # a unique constraint's own index
            }
            for table in declared
        }

    async with state_of(shared_app.app).engine.connect() as connection:
        assert await connection.run_sync(built) == declared


async def test_agents_linked_before_invitations_keep_acting_and_can_be_removed(
    empty_database: str,
) -> None:
    """An agent linked before invitations existed becomes an accepted invitation (its id the
    link's), so the legal representative lists and removes them like any other; a message
    written before is an application's message."""
    from datetime import UTC, datetime

    from alembic import command
    from sqlalchemy import text

    from backend.migrate import _alembic_config

    def upgrade_to(connection: Connection, revision: str) -> None:
        cfg = _alembic_config()
        cfg.attributes["connection"] = connection
        command.upgrade(cfg, revision)

    now = datetime(2026, 12, 1, tzinfo=UTC)
    engine = db.create_engine(empty_database)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(upgrade_to, "0014")
            for citizen in ("rep", "agent"):
                await conn.execute(
                    text(
                        "INSERT INTO identity_citizen (id, phone_enc, phone_hash, assurance_level,"
                        " created_at, updated_at) VALUES (:id, :enc, :hash, 2, :now, :now)"
                    ),
                    {"id": citizen, "enc": f"enc-{citizen}", "hash": f"hash-{citizen}", "now": now},
                )
            await conn.execute(
                text(
                    "INSERT INTO identity_enterprise (id, credit_code, name, created_at)"
                    " VALUES ('ent', '91340100MA2N0XYW1H', '合肥某某科技有限公司', :now)"
                ),
                {"now": now},
            )
            for link, citizen, role in (
                ("l1", "rep", "legal_representative"),
                ("l2", "agent", "agent"),
            ):
                await conn.execute(
                    text(
                        "INSERT INTO identity_enterprise_link (id, enterprise_id, citizen_id, role,"
                        " granted_by, created_at) VALUES (:id, 'ent', :citizen, :role, :by, :now)"
                    ),
                    {
                        "id": link,
                        "citizen": citizen,
                        "role": role,
                        "by": "rep" if role == "agent" else None,
                        "now": now,
                    },
                )
            await conn.execute(
                text(
                    "INSERT INTO applications_message (id, citizen_id, event_id, application_id,"
                    " title, body, created_at) VALUES ('m1', 'rep', 'e1', 'a1', 't', 'b', :now)"
                ),
                {"now": now},
            )
            await conn.run_sync(upgrade_to, "head")
            rows = (
                await conn.execute(
                    text(
                        "SELECT id, phone_hash, phone_enc, citizen_id, invited_by, status"
                        " FROM identity_agent_invitation"
                    )
                )
            ).all()
            kinds = (await conn.execute(text("SELECT kind FROM applications_message"))).all()
            # A notice about no application: going back to 0014 (application_id required)
            # deletes it instead of failing.
            await conn.execute(
                text(
                    "INSERT INTO applications_message (id, citizen_id, event_id, kind, title, body,"
                    " created_at) VALUES ('m2', 'rep', 'e2', 'enterprise', 't', 'b', :now)"
                ),
                {"now": now},
            )
    finally:
        await engine.dispose()
    assert [tuple(r) for r in rows] == [
        ("l2", "hash-agent", "enc-agent", "agent", "rep", "accepted")
    ]
    assert [tuple(k) for k in kinds] == [("application",)]
    await _downgrade_to_base(empty_database)
