"""A department onboards a system the codebase has never seen, over real HTTP, with two
app instances sharing PostgreSQL and Redis: register, dry-run, publish, propose, approve,
invoke, a new version and a rollback reaching the other instance without a restart."""

from __future__ import annotations

import asyncio
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlmodel import select

from backend.app_state import state_of
from backend.catalog.data_file import BUNDLED_CATALOG, load_catalog_file
from backend.catalog.models import CATALOG_CHANNEL
from backend.migrate import load_catalog
from backend.providers.models import AdapterVersion
from integrations.sandbox import SandboxHandle, data
from tests.conftest import create_postgres_database, drop_postgres_database, make_settings
from tests.providers.helpers import admin_headers, token_headers, until, water_spec
from tests.providers.novel_department import API_KEY, water_utility
from tests.servers import serving


@pytest.fixture
async def own_database(postgres_url: str) -> AsyncIterator[str]:
    """A database of its own: approving services changes the catalog, which other tests
    sharing the session's database count on."""
    url = await create_postgres_database(postgres_url, f"hft_onboard_{uuid.uuid4().hex[:10]}")
    yield url
    await drop_postgres_database(url)


CITIZEN = {"X-Dev-Citizen": data.make_id_no("water-citizen"), "X-Dev-Level": "2"}


async def _create_provider(
    client: httpx.AsyncClient, admin: dict[str, str], code: str, **hosts: list[str]
) -> dict[str, str]:
    created = await client.post(
        "/v1/admin/providers",
        json={"code": code, "name_zh": "合肥供水集团", "name_en": "Hefei Water Supply Group"}
        | {"allowed_hosts": ["127.0.0.1"]}
        | hosts,
        headers=admin,
    )
    assert created.status_code == 201, created.text
    credentials = created.json()["client"]
    return await token_headers(client, credentials["client_id"], credentials["client_secret"])


async def test_a_provider_onboards_a_new_department_across_two_instances(
    tmp_path: Path, own_database: str, redis_url: str, sandbox: SandboxHandle
) -> None:
    suffix = uuid.uuid4().hex[:8]
    code, adapter_id, service = f"hf-water-{suffix}", f"water_{suffix}", f"water-bill-{suffix}"
    settings = make_settings(tmp_path, own_database, redis_url, sandbox)
    async with (
        water_utility() as utility,
        serving(settings) as (app_a, a),
        serving(settings) as (app_b, b),
    ):
        admin = await admin_headers(app_a, a)
        # The administrator lets this provider reach its (test) system inside the network:
        # that host and port only.
        endpoint = utility.url.removeprefix("http://")
        provider = await _create_provider(a, admin, code, internal_hosts=[endpoint])

        v1 = water_spec(adapter_id, utility.url)
        registered = await a.post("/v1/provider/adapters", json={"spec": v1}, headers=provider)
        assert registered.status_code == 201, registered.text
        assert registered.json()["latest_version"] == 1
        assert registered.json()["active_version"] is None

        # Dry run: the real endpoint, every step, the key masked.
        tried = await a.post(
            f"/v1/provider/adapters/{adapter_id}/versions/1/dry-run",
            json={"operation": "bill", "params": {"account": "W1001"}},
            headers=provider,
        )
        assert tried.status_code == 200, tried.text
        run = tried.json()
        assert run["ok"] is True
        assert run["result"] == {"account": "W1001", "owed_fen": 1250, "period": "2026-10"}
        steps = [s["step"] for s in run["steps"]]
        assert steps == ["request", "response", "decode", "success", "result"]
        assert run["steps"][0]["headers"]["X-Water-Key"] == "********"
        assert API_KEY not in tried.text
        unknown = await a.post(
            f"/v1/provider/adapters/{adapter_id}/versions/1/dry-run",
            json={"operation": "bill", "params": {"account": "W404"}},
            headers=provider,
        )  # the utility has no such account: its own words come back
        assert unknown.json()["error"]["upstream_code"] == "1404"

        published = await a.post(
            f"/v1/provider/adapters/{adapter_id}/versions/1/publish", headers=provider
        )
        assert published.status_code == 200 and published.json()["active_version"] == 1

        proposed = await a.post(
            "/v1/provider/services",
            json={
                "code": service,
                "domain": "housing",
                "name_zh": "水费查询",
                "name_en": "Water bill",
                "summary_zh": "查询本户水费账单",
                "summary_en": "Your household's water bill",
                "min_level": 1,
                "keywords": ["水费", "供水"],
                "adapter_id": adapter_id,
                "operation": "bill",
            },
            headers=provider,
        )
        assert proposed.status_code == 201, proposed.text
        assert (await b.get(f"/v1/services/{service}")).status_code == 404
        catalog_b = state_of(app_b).catalog
        async with state_of(app_a).kv.subscribe(CATALOG_CHANNEL) as announcements:
            approved = await a.post(
                f"/v1/admin/provider-services/{proposed.json()['id']}/approve",
                json={"note": "同意上架"},
                headers=admin,
            )
            assert approved.status_code == 200 and approved.json()["status"] == "approved"
            # Announced once committed: the workers reload now, not at their next look.
            await asyncio.wait_for(anext(aiter(announcements)), 10)

        # The other instance: the service in the catalog and search, then a citizen's call.
        await until(catalog_b.changed, lambda: service in catalog_b.snapshot.services)
        listed = await b.get(f"/v1/services/{service}")
        assert listed.json()["department"]["code"] == code
        found = await b.get("/v1/services", params={"q": "水费"})
        assert service in [s["code"] for s in found.json()["items"]]

        # A catalog release (what `hefeitong catalog load` does) keeps what providers brought.
        bundled, sha = load_catalog_file(BUNDLED_CATALOG)
        async with state_of(app_a).sessions() as db, db.begin():
            revision = await load_catalog(db, bundled, source="release.yaml", source_sha256=sha)
        await state_of(app_b).catalog.refresh_if_changed()  # its watcher may have been first
        assert state_of(app_b).catalog.snapshot.revision == revision
        assert service in state_of(app_b).catalog.snapshot.services

        async def invoke_on_b() -> httpx.Response:
            return await b.post(
                f"/v1/services/{service}/invoke",
                json={"params": {"account": "W1001"}},
                headers=CITIZEN,
            )

        first = await invoke_on_b()
        assert first.status_code == 200, first.text
        assert first.json()["data"] == {"account": "W1001", "owed_fen": 1250, "period": "2026-10"}

        # The provider sees its operation's health, from all instances (B made the call).
        async def health() -> dict[str, Any]:
            answer = await a.get(f"/v1/provider/adapters/{adapter_id}/health", headers=provider)
            return dict(answer.json())

        await state_of(app_b).health_recorder.flush()  # B's figures reach the store
        seen = await health()
        assert seen["operations"][0]["windows"][-1]["calls"] >= 1
        bill = seen["operations"][0]
        assert (bill["operation"], seen["breaker"]) == ("bill", "closed")
        assert bill["windows"][-1]["success_rate"] == 1.0

        # Version 2 maps the due date; its key is sent as the marker: keep the old one.
        v2 = water_spec(adapter_id, utility.url, due_date=True, key="********")
        added = await a.post(
            f"/v1/provider/adapters/{adapter_id}/versions", json={"spec": v2}, headers=provider
        )
        assert added.status_code == 201, added.text
        diff = (
            await a.get(
                f"/v1/provider/adapters/{adapter_id}/diff",
                params={"from": 1, "to": 2},
                headers=provider,
            )
        ).json()["diff"]
        assert "+" in diff and "due_date: dueDate" in diff and API_KEY not in diff
        adapters_b = state_of(app_b).adapter_sync
        await a.post(f"/v1/provider/adapters/{adapter_id}/versions/2/publish", headers=provider)
        await until(adapters_b.changed, lambda: adapters_b.active_version(adapter_id) == 2)
        newer = await invoke_on_b()
        assert newer.json()["data"]["due_date"] == "2026-11-30"

        # Roll back to version 1, the same way.
        await a.post(f"/v1/provider/adapters/{adapter_id}/versions/1/publish", headers=provider)
        await until(adapters_b.changed, lambda: adapters_b.active_version(adapter_id) == 1)
        older = await invoke_on_b()
        assert older.json()["data"] == first.json()["data"]

        # A version without the operation the catalog service uses cannot be published.
        v3 = water_spec(adapter_id, utility.url, operation="usage", key="********")
        await a.post(
            f"/v1/provider/adapters/{adapter_id}/versions", json={"spec": v3}, headers=provider
        )
        refused = await a.post(
            f"/v1/provider/adapters/{adapter_id}/versions/3/publish", headers=provider
        )
        assert refused.status_code == 409
        assert refused.json()["code"] == "PUBLISH_BREAKS_SERVICES"
        assert refused.json()["services"] == [service]

        # Secrets are write-only: not in any answer, not in the stored spec.
        shown = await a.get(f"/v1/provider/adapters/{adapter_id}/versions/2", headers=provider)
        assert shown.json()["spec"]["auth"]["value"] == "********"
        async with state_of(app_a).sessions() as db:
            stored = (
                await db.exec(select(AdapterVersion).where(AdapterVersion.adapter_id == adapter_id))
            ).all()
        assert stored and all(API_KEY not in str(v.spec) + v.secrets_enc for v in stored)


async def test_providers_cannot_touch_each_others_adapters(
    tmp_path: Path, own_database: str, redis_url: str, sandbox: SandboxHandle
) -> None:
    suffix = uuid.uuid4().hex[:8]
    settings = make_settings(tmp_path, own_database, redis_url, sandbox)
    async with water_utility() as utility, serving(settings) as (app, client):
        admin = await admin_headers(app, client)
        endpoint = utility.url.removeprefix("http://")
        water = await _create_provider(
            client, admin, f"hf-water-{suffix}", internal_hosts=[endpoint]
        )
        gas = await _create_provider(client, admin, f"hf-gas-{suffix}", internal_hosts=[endpoint])
        adapter_id = f"water_{suffix}"
        spec = water_spec(adapter_id, utility.url)
        created = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=water)
        assert created.status_code == 201

        base = f"/v1/provider/adapters/{adapter_id}"
        attempts: list[tuple[str, str, dict[str, Any] | None]] = [
            ("GET", base, None),
            ("GET", f"{base}/versions/1", None),
            ("POST", f"{base}/versions", {"spec": spec}),
            ("POST", f"{base}/versions/1/publish", None),
            ("POST", f"{base}/versions/1/dry-run", {"operation": "bill", "params": {}}),
            ("GET", f"{base}/diff?from=1&to=1", None),
        ]
        for method, path, body in attempts:
            answer = await client.request(method, path, json=body, headers=gas)
            assert answer.status_code == 404, (method, path, answer.text)
        # Taking over the id with a registration of one's own is refused too.
        taken = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=gas)
        assert taken.status_code == 409 and taken.json()["code"] == "ADAPTER_ID_TAKEN"
        # Proposing a service on someone else's adapter.
        proposal = await client.post(
            "/v1/provider/services",
            json={"code": f"gas-{suffix}", "domain": "housing", "name_zh": "燃气",
                  "name_en": "Gas", "summary_zh": "燃气账单", "summary_en": "Gas bill",
                  "min_level": 1, "adapter_id": adapter_id, "operation": "bill"},
            headers=gas,
        )  # fmt: skip
        assert proposal.status_code == 422
        # A provider's operator may not publish; and a citizen or stranger gets nothing.
        operator = await client.post(
            "/v1/provider/clients", json={"name": "值班员", "role": "operator"}, headers=water
        )
        assert operator.status_code == 201
        as_operator = await token_headers(
            client, operator.json()["client_id"], operator.json()["client_secret"]
        )
        assert (await client.get(base, headers=as_operator)).status_code == 200
        denied = await client.post(f"{base}/versions/1/publish", headers=as_operator)
        assert denied.status_code == 403 and denied.json()["code"] == "PROVIDER_ADMIN_REQUIRED"
        assert (await client.get(base)).status_code == 401
