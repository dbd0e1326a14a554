"""Shared fixtures: real PostgreSQL, real Redis, and the embedded defaults.

The tests never stand in for our own infrastructure. When PostgreSQL or Redis is
unreachable the run stops with a message naming the service, instead of a
confusing connection error deep inside a test.
"""

from __future__ import annotations

import asyncio
import os
import socket
import uuid
from collections.abc import AsyncIterator, Coroutine, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar
from urllib.parse import urlsplit

import httpx
import pytest
import redis.asyncio as aioredis
from asgi_lifespan import LifespanManager
from fastapi import FastAPI

from backend.app import create_app
from backend.app_state import state_of
from backend.clock import Clock
from backend.kv import KV, MemoryKV, RedisKV
from backend.settings import Settings
from integrations.sandbox import DEPARTMENTS, SandboxHandle, start_sandbox_thread
from tests.gateway.helpers import SandboxAdmin

T = TypeVar("T")

REDIS_URL = os.environ.get("HEFEITONG_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")
POSTGRES_URL = os.environ.get(
    "HEFEITONG_TEST_POSTGRES_URL", "postgresql+asyncpg://postgres@127.0.0.1:5432/hefeitong_test"
)


def _require_reachable(name: str, url: str, default_port: int) -> None:
    parts = urlsplit(url)
    host, port = parts.hostname or "127.0.0.1", parts.port or default_port
    try:
        socket.create_connection((host, port), timeout=2).close()
    except OSError as exc:
        pytest.exit(
            f"{name} is not reachable at {host}:{port} ({exc}). The tests run against a real "
            f"{name}; start it (see the README's set-up section) or point "
            f"HEFEITONG_TEST_{name.upper()}_URL at one.",
            returncode=3,
        )


@pytest.fixture(scope="session")
def redis_url() -> str:
    _require_reachable("Redis", REDIS_URL, 6379)
    return REDIS_URL


def new_namespace() -> str:
    """A KV namespace of its own, so tests sharing one Redis never see each other's keys."""
    return f"test-{uuid.uuid4().hex}"


async def drop_namespace(redis_url: str, namespace: str) -> None:
    client = aioredis.Redis.from_url(redis_url)
    try:
        keys = [k async for k in client.scan_iter(match=f"{namespace}:*")]
        if keys:
            await client.delete(*keys)
    finally:
        await client.aclose()


@pytest.fixture
def kv_namespace() -> str:
    return new_namespace()


@pytest.fixture(params=["memory", "redis"])
async def kv(request: pytest.FixtureRequest, kv_namespace: str) -> AsyncIterator[KV]:
    """The same tests against the in-process store and real Redis."""
    if request.param == "memory":
        memory = MemoryKV(namespace=kv_namespace)
        yield memory
        await memory.aclose()
        return
    redis_url: str = request.getfixturevalue("redis_url")
    store = RedisKV(redis_url, namespace=kv_namespace)
    try:
        yield store
    finally:
        await store.aclose()
        await drop_namespace(redis_url, kv_namespace)


@pytest.fixture(scope="session")
def postgres_url() -> str:
    _require_reachable("Postgres", POSTGRES_URL, 5432)
    return POSTGRES_URL


# --- databases --------------------------------------------------------------------


async def create_postgres_database(base_url: str, name: str) -> str:
    """Create an empty database next to ``base_url``'s and return its URL."""
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(base_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username or "postgres", database="postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()
    return url.set(database=name).render_as_string(hide_password=False)


async def drop_postgres_database(database_url: str) -> None:
    import asyncpg
    from sqlalchemy.engine import make_url

    url = make_url(database_url)
    conn = await asyncpg.connect(
        host=url.host, port=url.port or 5432, user=url.username or "postgres", database="postgres"
    )
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)')
    finally:
        await conn.close()


def run_sync(work: Coroutine[Any, Any, T]) -> T:
    """Run a coroutine to the end from synchronous code, even inside the tests' event loop
    (fixtures resolved by ``request.getfixturevalue`` from an async fixture are)."""
    with ThreadPoolExecutor(max_workers=1) as thread:
        return thread.submit(asyncio.run, work).result()


@pytest.fixture(scope="session")
def postgres_database(postgres_url: str) -> Iterator[str]:
    """One PostgreSQL database for the session, migrated and seeded by the first app start."""
    url = run_sync(create_postgres_database(postgres_url, f"hft_test_{uuid.uuid4().hex[:10]}"))
    yield url
    run_sync(drop_postgres_database(url))


# --- the app ------------------------------------------------------------------------

BACKENDS = ["embedded", "postgres+redis"]
UNREACHABLE_DEPARTMENTS = {f"{name.upper()}_BASE_URL": "http://127.0.0.1:9" for name in DEPARTMENTS}


@pytest.fixture(scope="session")
def sandbox() -> Iterator[SandboxHandle]:
    """The simulated departments on ephemeral ports, shared by the whole run."""
    handle = start_sandbox_thread()
    yield handle
    handle.stop()


@pytest.fixture
async def admin(sandbox: SandboxHandle) -> AsyncIterator[SandboxAdmin]:
    """The sandbox's admin API; every fault a test switches on is switched off afterwards."""
    admin = SandboxAdmin(sandbox)
    await admin.clear_all()
    yield admin
    await admin.clear_all()


def sandbox_variables(handle: SandboxHandle) -> dict[str, str]:
    """Point every adapter spec's ``${<DEPARTMENT>_BASE_URL}`` at the running sandbox."""
    return {f"{name.upper()}_BASE_URL": url for name, url in handle.urls.items()}


def make_settings(
    tmp_path: Path,
    database_url: str | None,
    redis_url: str | None,
    sandbox: SandboxHandle | None = None,
    **overrides: Any,
) -> Settings:
    values: dict[str, Any] = {
        "env": "test",
        "var_dir": tmp_path / "var",
        "database_url": database_url,
        "redis_url": redis_url,
        "kv_namespace": f"test-{uuid.uuid4().hex[:12]}",
        "auto_migrate": True,
        "log_json": True,
        "log_level": "WARNING",
        # Departments that are not running get a port nothing listens on, never a dev port.
        "adapter_variables": sandbox_variables(sandbox) if sandbox else UNREACHABLE_DEPARTMENTS,
        "breaker_failure_threshold": 3,
        "breaker_open_seconds": 1.0,
        # Tests ask for several codes for one phone in a row; the production back-off has its
        # own tests (tests/security/test_api6_sensitive_business_flows.py).
        "sms_backoff_seconds": 0.0,
        # Tests deliver notifications explicitly (deliver_pending), never behind their back.
        "outbox_worker_in_server": False,
        # Probes would change the request counts sandbox tests assert on; tests probe explicitly.
        "adapter_probe_seconds": None,
    }
    return Settings(**(values | overrides))


@asynccontextmanager
async def running_app(
    settings: Settings, *, clock: Clock | None = None
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    app = create_app(settings, clock=clock)
    async with LifespanManager(app, startup_timeout=60):
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
            yield app, client


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path, sandbox: SandboxHandle) -> Settings:
    """Settings of an app of the test's own, for each deployment shape: embedded default, and
    PostgreSQL with Redis. Most tests share one app instead (``app_client``)."""
    if request.param == "embedded":
        return make_settings(tmp_path, None, None, sandbox)
    return make_settings(
        tmp_path,
        request.getfixturevalue("postgres_database"),
        request.getfixturevalue("redis_url"),
        sandbox,
    )


@dataclass
class SharedApp:
    app: FastAPI
    client: httpx.AsyncClient
    settings: Settings


# Starting an app (migrations, catalog, search index, keys) costs 1-2 s against the 0.02-0.1 s
# most tests take, so tests share one app per deployment shape for the whole run and stay
# apart by their data: their own citizens, phones and clients, and an empty KV store and
# closed breakers at the start of each test (``forget_transient_state``).


@pytest.fixture(scope="session")
async def embedded_session_app(
    tmp_path_factory: pytest.TempPathFactory, sandbox: SandboxHandle
) -> AsyncIterator[SharedApp]:
    settings = make_settings(tmp_path_factory.mktemp("embedded"), None, None, sandbox)
    async with running_app(settings) as (app, client):
        yield SharedApp(app, client, settings)


@pytest.fixture(scope="session")
async def production_session_app(
    tmp_path_factory: pytest.TempPathFactory,
    sandbox: SandboxHandle,
    postgres_database: str,
    redis_url: str,
) -> AsyncIterator[SharedApp]:
    tmp_path = tmp_path_factory.mktemp("production")
    settings = make_settings(tmp_path, postgres_database, redis_url, sandbox)
    async with running_app(settings) as (app, client):
        yield SharedApp(app, client, settings)


@pytest.fixture
async def embedded_app(embedded_session_app: SharedApp) -> SharedApp:
    """The shared app of the embedded default (SQLite, in-process KV), fresh for this test."""
    await forget_transient_state(embedded_session_app.app)
    return embedded_session_app


@pytest.fixture
async def production_app(production_session_app: SharedApp) -> SharedApp:
    """The shared app of the production shape (PostgreSQL, Redis), fresh for this test."""
    await forget_transient_state(production_session_app.app)
    return production_session_app


@pytest.fixture(params=BACKENDS)
def shared_app(request: pytest.FixtureRequest) -> SharedApp:
    """The shared app of each deployment shape in turn."""
    app: SharedApp = request.getfixturevalue(
        "embedded_app" if request.param == "embedded" else "production_app"
    )
    return app


async def forget_transient_state(app: FastAPI) -> None:
    """What one test leaves in the shared app's KV store and breakers, gone for the next.

    The KV store holds only short-lived state (cached answers, breaker counts, rate-limit
    windows, one-time codes, idempotency claims); the database keeps everything that lasts,
    and tests are kept apart there by their own data.
    """
    settings: Settings = state_of(app).settings
    kv = state_of(app).kv
    await state_of(app).identity.limits.reset()
    if isinstance(kv, MemoryKV):
        kv.clear()
    else:
        assert settings.redis_url is not None
        await drop_namespace(settings.redis_url, settings.kv_namespace)
    invoker = state_of(app).gateway.invoker
    for adapter_id in invoker.registry.ids():
        await invoker.breaker(adapter_id).reset()


@pytest.fixture
def app_client(shared_app: SharedApp) -> tuple[FastAPI, httpx.AsyncClient]:
    """The shared app of each backend and its client."""
    return shared_app.app, shared_app.client


@pytest.fixture
async def client(app_client: tuple[FastAPI, httpx.AsyncClient]) -> httpx.AsyncClient:
    return app_client[1]
