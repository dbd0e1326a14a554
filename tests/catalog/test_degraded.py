"""Services whose department is failing show ``degraded`` in the catalog, and stop once it
recovers; over the real sandbox, on the embedded default and on PostgreSQL + Redis."""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.app_state import state_of
from backend.catalog.data_file import BUNDLED_CATALOG, load_catalog_file
from backend.clock import ManualClock
from backend.providers.health import OpenBreakers
from backend.settings import Settings
from integrations.sandbox import SandboxHandle
from tests.conftest import BACKENDS, make_settings, running_app
from tests.gateway.helpers import SandboxAdmin, citizen, invoke, service_for

CATALOG, _ = load_catalog_file(BUNDLED_CATALOG)
HOSPITAL = {s.code for s in CATALOG.services if s.adapter and s.adapter.id == "hospital"}
UNBOUND = next(s.code for s in CATALOG.services if s.adapter is None)
OPEN_SECONDS = 2.0


@pytest.fixture(params=BACKENDS)
def settings(request: pytest.FixtureRequest, tmp_path: Path, sandbox: SandboxHandle) -> Settings:
    """As tests/conftest.py's, with a breaker that stays open long enough to look at."""
    database = redis = None
    if request.param != "embedded":
        database = request.getfixturevalue("postgres_database")
        redis = request.getfixturevalue("redis_url")
    return make_settings(tmp_path, database, redis, sandbox, breaker_open_seconds=OPEN_SECONDS)


@pytest.fixture
def clock() -> ManualClock:
    """The app's clock: it stands still until the test moves it, background loops and all."""
    return ManualClock()


@pytest.fixture
async def app_client(
    settings: Settings, sandbox: SandboxHandle, clock: ManualClock
) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    admin = SandboxAdmin(sandbox)
    await admin.clear("hospital")
    async with running_app(settings, clock=clock) as (app, client):
        try:
            yield app, client
        finally:
            await admin.clear("hospital")


async def _all_services(client: httpx.AsyncClient) -> dict[str, Any]:
    found: dict[str, Any] = {}
    for page in (1, 2, 3):
        body = (await client.get("/v1/services", params={"page": page, "page_size": 100})).json()
        found |= {item["code"]: item for item in body["items"]}
    assert len(found) == 238
    return found


async def test_services_of_a_failing_department_are_degraded_until_it_recovers(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle, clock: ManualClock
) -> None:
    app, client = app_client
    watch: OpenBreakers = state_of(app).open_breakers
    admin = SandboxAdmin(sandbox)
    reports = service_for("hospital", "reports").code
    assert reports in HOSPITAL

    healthy = await _all_services(client)
    assert not any(item["degraded"] for item in healthy.values())
    first = await client.get("/v1/services", params={"domain": "healthcare", "page_size": 100})
    etag = first.headers["etag"]
    search = await client.get("/v1/services", params={"q": "挂号"})
    search_etag = search.headers["etag"]

    await admin.fault("hospital", error_rate=1.0, status=500)
    for i in range(3):  # test settings: 3 failures open the breaker
        assert (await invoke(client, reports, citizen(f"degraded-{i}"))).status_code == 503
    await watch.refresh()
    assert "hospital" in watch.adapter_ids

    degraded = await _all_services(client)
    assert {code for code, item in degraded.items() if item["degraded"]} == HOSPITAL
    assert degraded[UNBOUND]["degraded"] is False  # no department system, never degraded
    stale = await client.get(
        "/v1/services",
        params={"domain": "healthcare", "page_size": 100},
        headers={"If-None-Match": etag},
    )
    assert stale.status_code == 200  # never a 304 across the change
    assert stale.headers["etag"] != etag
    assert int(stale.headers["cache-control"].split("max-age=")[1]) <= 30
    searched = await client.get(
        "/v1/services", params={"q": "挂号"}, headers={"If-None-Match": search_etag}
    )
    assert searched.status_code == 200
    assert searched.json()["items"]
    assert all(i["degraded"] == (i["code"] in HOSPITAL) for i in searched.json()["items"])
    assert any(i["degraded"] for i in searched.json()["items"])
    detail = (await client.get(f"/v1/services/{reports}")).json()
    assert detail["degraded"] is True and detail["adapter"]["id"] == "hospital"
    assert (await client.get(f"/v1/services/{UNBOUND}")).json()["degraded"] is False
    newborn = (await client.get("/v1/life-events/newborn")).json()
    assert (
        {s["code"] for s in newborn["services"] if s["degraded"]}
        == ({s["code"] for s in newborn["services"]} & HOSPITAL)
        != set()
    )
    # Unchanged representations keep their ETag: the regions list shows no services.
    regions = await client.get("/v1/regions")
    assert (
        await client.get("/v1/regions", headers={"If-None-Match": regions.headers["etag"]})
    ).status_code == 304

    await admin.clear("hospital")
    # Back up, but the breaker stays open for its open period; then the next call may try.
    assert "hospital" in await watch.refresh()
    clock.advance(OPEN_SECONDS)
    assert "hospital" not in await watch.refresh()
    recovered = await _all_services(client)
    assert not any(item["degraded"] for item in recovered.values())
    again = await client.get(
        "/v1/services",
        params={"domain": "healthcare", "page_size": 100},
        headers={"If-None-Match": etag},
    )
    assert again.status_code == 304  # the same representation as before the failure
    # The next call is the trial that closes the breaker.
    assert (await invoke(client, reports, citizen("degraded-after"))).status_code == 200
    await watch.refresh()
    assert watch.adapter_ids == frozenset()
