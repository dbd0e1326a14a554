"""The deployment files agree with the code they deploy."""

from __future__ import annotations

from pathlib import Path

import yaml

from integrations.loader import load_registry
from integrations.spec import StrictVariables
from integrations.transport import AiohttpTransport

ROOT = Path(__file__).resolve().parent.parent


def _env_file(path: Path) -> dict[str, str]:
    pairs = (
        line.split("=", 1)
        for line in path.read_text(encoding="utf-8").splitlines()
        if line.strip() and not line.startswith("#")
    )
    return {key: value for key, value in pairs}


async def test_compose_departments_configure_every_adapter_in_production_mode() -> None:
    # Production refuses spec defaults, so the compose topology must name every variable.
    variables = _env_file(ROOT / "deploy" / "departments.sandbox.env")
    transport = AiohttpTransport()
    try:
        registry = load_registry(transport, StrictVariables(variables))
    finally:
        await transport.aclose()
    assert "provident_fund" in registry and "identity_check" in registry
    assert all(
        value.startswith("http://sandbox:")
        for key, value in variables.items()
        if key.endswith("_URL")
    )


def test_compose_runs_api_worker_migrate_sandbox_postgres_redis() -> None:
    compose = yaml.safe_load((ROOT / "docker-compose.yml").read_text(encoding="utf-8"))
    assert set(compose["services"]) == {
        "api", "worker", "migrate", "sandbox", "postgres", "redis"
    }  # fmt: skip
    api, worker = compose["services"]["api"], compose["services"]["worker"]
    assert api["environment"]["HEFEITONG_ENV"] == "production"
    assert "deploy/departments.sandbox.env" in api["env_file"]
    # Production servers don't deliver notifications in-process: without the worker no
    # citizen would hear about their application.
    assert worker["command"] == ["hefeitong", "worker"]
    assert worker["environment"] == api["environment"]
    dockerfile = (ROOT / "Dockerfile").read_text(encoding="utf-8")
    assert "HEALTHCHECK" in dockerfile and "/healthz" in dockerfile
    assert "USER hefeitong" in dockerfile
