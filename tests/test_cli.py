"""The ``hefeitong`` command, run for real: migrate, catalog load, openapi export, serve."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
import yaml
from typer.testing import CliRunner

from backend import db
from backend.catalog.data_file import BUNDLED_CATALOG
from backend.catalog.service import read_snapshot
from backend.cli import app as cli_app
from backend.settings import get_settings
from integrations.sandbox import DEFAULT_PORTS, SandboxHandle, data
from tests.conftest import sandbox_variables
from tests.servers import free_port

runner = CliRunner()


@pytest.fixture
def database_env(
    request: pytest.FixtureRequest, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> Iterator[str]:
    monkeypatch.setenv("HEFEITONG_VAR_DIR", str(tmp_path / "var"))
    url = f"sqlite+aiosqlite:///{tmp_path / 'cli.db'}"
    if request.param == "postgres":
        from tests.conftest import create_postgres_database, drop_postgres_database

        base = request.getfixturevalue("postgres_url")
        url = asyncio.run(create_postgres_database(base, f"hft_cli_{os.getpid()}"))
    monkeypatch.setenv("HEFEITONG_DATABASE_URL", url)
    get_settings.cache_clear()
    yield url
    get_settings.cache_clear()
    if request.param == "postgres":
        asyncio.run(drop_postgres_database(url))


def _catalog_state(url: str) -> tuple[int, dict[str, str]]:
    async def read() -> tuple[int, dict[str, str]]:
        engine = db.create_engine(url)
        try:
            async with db.session_factory(engine)() as session:
                snap = await read_snapshot(session)
            return snap.revision, {c: s.name_zh for c, s in snap.services.items()}
        finally:
            await engine.dispose()

    return asyncio.run(read())


def _write_catalog(path: Path, mutate: object) -> Path:
    document = yaml.safe_load(BUNDLED_CATALOG.read_text(encoding="utf-8"))
    mutate(document)  # type: ignore[operator]
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


@pytest.mark.parametrize("database_env", ["sqlite", "postgres"], indirect=True)
def test_migrate_then_load_a_reviewed_catalog(database_env: str, tmp_path: Path) -> None:
    result = runner.invoke(cli_app, ["migrate"])
    assert result.exit_code == 0, result.output
    revision, services = _catalog_state(database_env)
    assert revision == 1 and len(services) == 238

    # Migrating again is a no-op: the bundled catalog is already loaded.
    assert runner.invoke(cli_app, ["migrate"]).exit_code == 0
    assert _catalog_state(database_env)[0] == 1

    def rename_first(doc: dict) -> None:  # type: ignore[type-arg]
        doc["services"][0]["name_zh"] = "改名后的服务"

    edited = _write_catalog(tmp_path / "edited.yaml", rename_first)
    result = runner.invoke(cli_app, ["catalog", "load", str(edited)])
    assert result.exit_code == 0, result.output
    assert "238 services" in result.output
    revision, services = _catalog_state(database_env)
    assert revision == 2
    assert "改名后的服务" in services.values()

    # A catalog loaded by hand survives a later `migrate` (it is not the bundled one).
    assert runner.invoke(cli_app, ["migrate"]).exit_code == 0
    assert _catalog_state(database_env)[0] == 2


@pytest.mark.parametrize("database_env", ["sqlite", "postgres"], indirect=True)
def test_malformed_catalog_is_refused_and_nothing_changes(
    database_env: str, tmp_path: Path
) -> None:
    assert runner.invoke(cli_app, ["migrate"]).exit_code == 0
    before = _catalog_state(database_env)

    def break_rules(doc: dict) -> None:  # type: ignore[type-arg]
        app = next(s for s in doc["services"] if s["kind"] == "application")
        app["trips"] = 2
        doc["services"][1]["department"] = "no-such-department"

    broken = _write_catalog(tmp_path / "broken.yaml", break_rules)
    result = runner.invoke(cli_app, ["catalog", "load", str(broken)])
    assert result.exit_code == 1
    output = " ".join(result.output.split())  # rich may wrap long lines
    assert str(broken) in output.replace(" ", "") or "broken.yaml" in output
    assert "trips-at-most-one" in output
    assert "department-exists" in output
    assert "services[1]" in output
    assert _catalog_state(database_env) == before

    (tmp_path / "not-yaml.yaml").write_text("services: [unclosed", encoding="utf-8")
    result = runner.invoke(cli_app, ["catalog", "load", str(tmp_path / "not-yaml.yaml")])
    assert result.exit_code == 1
    assert "yaml-syntax" in result.output
    assert _catalog_state(database_env) == before


def test_openapi_export_writes_the_document(tmp_path: Path) -> None:
    target = tmp_path / "openapi.json"
    result = runner.invoke(cli_app, ["openapi", "export", "--output", str(target)])
    assert result.exit_code == 0, result.output
    document = json.loads(target.read_text(encoding="utf-8"))
    assert "/v1/services" in document["paths"]
    assert document["paths"]["/v1/services"]["get"]["operationId"] == "catalog-list-services"


def test_committed_openapi_document_is_current() -> None:
    from backend.openapi_doc import render_openapi

    committed = Path(__file__).parent.parent / "openapi" / "openapi.json"
    assert committed.read_text(encoding="utf-8") == render_openapi(), (
        "openapi/openapi.json is stale: run `hefeitong openapi export` and commit it"
    )


def test_adapters_check_probes_every_department(
    sandbox: SandboxHandle, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name, value in sandbox_variables(sandbox).items():
        monkeypatch.setenv(name, value)
    get_settings.cache_clear()
    result = runner.invoke(cli_app, ["adapters", "check"])
    assert result.exit_code == 0, result.output
    for department in ("hospital", "hrss", "provident_fund", "traffic_police", "e_license"):
        assert department in result.output
    assert "down" not in result.output

    monkeypatch.setenv("HOSPITAL_BASE_URL", "http://127.0.0.1:9")
    result = runner.invoke(cli_app, ["adapters", "check", "--timeout", "1"])
    assert result.exit_code == 1
    assert "down" in result.output
    get_settings.cache_clear()


@pytest.mark.slow
def test_serve_runs_the_embedded_default_over_real_http(tmp_path: Path) -> None:
    """What the README's first command gives a user: a server with the catalog loaded."""
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("HEFEITONG_")} | {
        "HEFEITONG_VAR_DIR": str(tmp_path / "var")
    }
    command = [str(Path(sys.executable).parent / "hefeitong"), "serve", "--port", str(port)]
    server = subprocess.Popen(
        command, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=tmp_path
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                if httpx.get(f"{base}/readyz", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert server.poll() is None, server.stdout.read().decode()  # type: ignore[union-attr]
            assert time.monotonic() < deadline, "server did not become ready in 60 s"
            time.sleep(0.2)
        domains = httpx.get(f"{base}/v1/domains").json()
        assert sum(d["service_count"] for d in domains["items"]) == 238
        assert len(domains["items"]) == 5
        assert httpx.get(f"{base}/docs").status_code == 200
        found = httpx.get(f"{base}/v1/services", params={"q": "gjj"}).json()
        assert "公积金" in found["items"][0]["name_zh"]
        assert (tmp_path / "var" / "hefeitong.db").exists()
        # `serve` started the sandbox departments: a citizen signs in with an SMS code from
        # the sandbox gateway's inbox, verifies a real name, and reaches their own records.
        phone, who = "13900000001", data.make_id_no("serve")
        sms = f"http://127.0.0.1:{DEFAULT_PORTS['sms']}"
        assert httpx.post(f"{base}/v1/auth/sms-codes", json={"phone": phone}).status_code == 202
        inbox = httpx.get(f"{sms}/__sandbox/sms/inbox", params={"phone": phone}).json()
        code = inbox["messages"][0]["params"]["code"]
        tokens = httpx.post(f"{base}/v1/auth/login/sms", json={"phone": phone, "code": code}).json()
        auth = {"Authorization": f"Bearer {tokens['access_token']}"}
        named = httpx.post(
            f"{base}/v1/me/real-name",
            json={"name": data.person_name(who), "id_number": who},
            headers=auth,
            timeout=10,
        )
        assert named.status_code == 200, named.text
        tokens = httpx.post(
            f"{base}/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
        ).json()
        answer = httpx.post(
            f"{base}/v1/services/hpf-balance-query/invoke",
            json={},
            headers={"Authorization": f"Bearer {tokens['access_token']}"},
            timeout=10,
        )
        assert answer.status_code == 200, answer.text
        assert answer.json()["data"]["balance"] == data.provident_fund_account(who)["balance"]
        # Outside tests the stand-in header is refused.
        dev = httpx.post(
            f"{base}/v1/services/hpf-balance-query/invoke",
            json={},
            headers={"X-Dev-Citizen": who, "X-Dev-Level": "2"},
        )
        assert dev.status_code == 401
    finally:
        server.terminate()
        server.wait(timeout=15)
