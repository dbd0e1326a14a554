"""Migration 0015: a provider's bare internal-host exemptions become host:port.

Before it, ``internal_hosts: ["127.0.0.1"]`` exempted every port of 127.0.0.1. After it, a
provider keeps exactly the ports its stored specs call (so its adapters keep working) and
nothing else; downgrading gives the older code the bare hosts it expects.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command

from backend import db
from backend.migrate import _alembic_config

REVISION = "0015"


@pytest.fixture(params=["sqlite", "postgres"])
async def database(request: pytest.FixtureRequest, tmp_path: Path) -> AsyncIterator[str]:
    if request.param == "sqlite":
        yield f"sqlite+aiosqlite:///{tmp_path / 'm.db'}"
        return
    from tests.conftest import create_postgres_database, drop_postgres_database

    base = request.getfixturevalue("postgres_url")
    url = await create_postgres_database(base, f"hft_mig15_{uuid.uuid4().hex[:10]}")
    yield url
    await drop_postgres_database(url)


async def _migrate(url: str, action: str, target: str) -> None:
    def run(connection: Any) -> None:
        cfg = _alembic_config()
        cfg.attributes["connection"] = connection
        getattr(command, action)(cfg, target)

    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            await conn.run_sync(run)
    finally:
        await engine.dispose()


async def _execute(url: str, statement: str, **values: Any) -> list[Any]:
    engine = db.create_engine(url)
    try:
        async with engine.begin() as conn:
            result = await conn.execute(sa.text(statement), values)
            return list(result.all()) if result.returns_rows else []
    finally:
        await engine.dispose()


async def _provider(url: str, code: str, internal: list[str], base_urls: list[str]) -> None:
    now = datetime.now(UTC)
    await _execute(
        url,
        "INSERT INTO providers_provider (code, name_zh, name_en, allowed_hosts, internal_hosts,"
        " created_at) VALUES (:code, '测试', 'Test', :allowed, :internal, :now)",
        code=code,
        allowed=json.dumps(["127.0.0.1", "::1", "dept.example"]),
        internal=json.dumps(internal),
        now=now,
    )
    adapter = f"{code.replace('-', '_')}_a"
    await _execute(
        url,
        "INSERT INTO providers_adapter (adapter_id, provider_code, latest_version,"
        " active_version, created_at, updated_at) VALUES (:a, :code, 1, 1, :now, :now)",
        a=adapter,
        code=code,
        now=now,
    )
    for number, base_url in enumerate(base_urls, start=1):
        spec: dict[str, Any] = {"id": adapter, "base_url": base_url}
        if number == 1:
            spec["auth"] = {"scheme": "oauth2_client_credentials", "token_url": "/token"}
        await _execute(
            url,
            "INSERT INTO providers_adapter_version (id, adapter_id, version, spec, secrets_enc,"
            " created_by, created_at) VALUES (:id, :a, :v, :spec, '', 'test', :now)",
            id=uuid.uuid4().hex,
            a=adapter,
            v=number,
            spec=json.dumps(spec),
            now=now,
        )


async def _internal(url: str, code: str) -> list[str]:
    rows = await _execute(
        url, "SELECT internal_hosts FROM providers_provider WHERE code = :code", code=code
    )
    value = rows[0][0]
    return list(json.loads(value) if isinstance(value, str) else value)


async def test_bare_exemptions_become_the_ports_the_specs_call(database: str) -> None:
    url = database
    await _migrate(url, "upgrade", "0014")
    await _provider(
        url,
        "hf-water",
        ["127.0.0.1", "[::1]", "dept.example"],
        ["http://127.0.0.1:18200", "http://127.0.0.1:18300/api", "http://[::1]/v1"],
    )
    await _provider(url, "hf-gas", ["127.0.0.1"], [])  # exempted, but calls nothing there
    await _provider(url, "hf-bus", [], ["http://127.0.0.1:9"])  # nothing to change
    await _migrate(url, "upgrade", REVISION)
    # Both ports of 127.0.0.1 its versions call, ::1 on http's port; dept.example is called
    # by none of its specs, so its exemption had nothing to keep working.
    assert await _internal(url, "hf-water") == ["127.0.0.1:18200", "127.0.0.1:18300", "[::1]:80"]
    assert await _internal(url, "hf-gas") == []
    assert await _internal(url, "hf-bus") == []

    await _migrate(url, "downgrade", "0014")
    assert await _internal(url, "hf-water") == ["127.0.0.1", "[::1]"]
    await _migrate(url, "upgrade", "head")
