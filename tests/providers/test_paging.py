"""A provider's lists, a page at a time: adapters, an adapter's versions, proposed services,
and the administrators' queue of proposals (oldest first: it is worked through in order)."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from tests.paging import every_item, pages
from tests.providers.helpers import admin_headers, token_headers, water_spec

BASE_URL = "http://127.0.0.1:9"  # never called: nothing here invokes the adapters


async def _provider(app: FastAPI, client: httpx.AsyncClient) -> tuple[dict[str, str], str]:
    admin = await admin_headers(app, client)
    code = f"hf-paging-{uuid.uuid4().hex[:8]}"
    created = await client.post(
        "/v1/admin/providers",
        json={"code": code, "name_zh": "分页测试", "name_en": "Paging test"}
        | {"allowed_hosts": ["127.0.0.1"], "internal_hosts": ["127.0.0.1:9"]},
        headers=admin,
    )
    assert created.status_code == 201, created.text
    credentials = created.json()["client"]
    return await token_headers(client, credentials["client_id"], credentials["client_secret"]), code


async def _register(client: httpx.AsyncClient, provider: dict[str, str], adapter_id: str) -> None:
    spec = water_spec(adapter_id, BASE_URL)
    registered = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
    assert registered.status_code == 201, registered.text


async def test_adapters_and_their_versions_page(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    provider, _ = await _provider(app, client)
    suffix = uuid.uuid4().hex[:8]
    adapters = [f"paging_{suffix}_{i}" for i in range(3)]
    for adapter_id in adapters:
        await _register(client, provider, adapter_id)

    listed = await pages(client, "/v1/provider/adapters", provider, page_size=2)
    assert [[a["adapter_id"] for a in page] for page in listed] == [
        [adapters[2], adapters[1]],
        [adapters[0]],
    ]

    newest = adapters[2]
    for timeout in (4, 5):
        spec = water_spec(newest, BASE_URL)
        spec["defaults"]["timeout"] = timeout
        added = await client.post(
            f"/v1/provider/adapters/{newest}/versions", json={"spec": spec}, headers=provider
        )
        assert added.status_code == 201, added.text
    versions = await pages(
        client, f"/v1/provider/adapters/{newest}/versions", provider, page_size=2
    )
    assert [[v["version"] for v in page] for page in versions] == [[3, 2], [1]]
    # The adapter itself still carries every version, oldest first, as it always did.
    detail = (await client.get(f"/v1/provider/adapters/{newest}", headers=provider)).json()
    assert [v["version"] for v in detail["versions"]] == [1, 2, 3]

    # Another provider's adapter has no versions to show.
    other, _ = await _provider(app, client)
    hidden = await client.get(f"/v1/provider/adapters/{newest}/versions", headers=other)
    assert hidden.status_code == 404 and hidden.json()["code"] == "ADAPTER_NOT_FOUND"


def _proposal(code: str, adapter_id: str) -> dict[str, Any]:
    return {
        "code": code,
        "domain": "housing",
        "name_zh": "水费查询",
        "name_en": "Water bill",
        "summary_zh": "查询本户水费账单",
        "summary_en": "Your household's water bill",
        "min_level": 1,
        "keywords": ["水费"],
        "adapter_id": adapter_id,
        "operation": "bill",
    }


async def test_proposed_services_page_oldest_first_for_the_provider_and_the_administrators(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    provider, _ = await _provider(app, client)
    suffix = uuid.uuid4().hex[:8]
    adapter_id = f"paging_{suffix}"
    await _register(client, provider, adapter_id)
    codes = [f"paging-{suffix}-{i}" for i in range(3)]
    for code in codes:
        proposed = await client.post(
            "/v1/provider/services", json=_proposal(code, adapter_id), headers=provider
        )
        assert proposed.status_code == 201, proposed.text

    mine = await pages(client, "/v1/provider/services", provider, page_size=2)
    assert [[p["code"] for p in page] for page in mine] == [codes[:2], codes[2:]]

    # The queue holds other providers' proposals too: ours come once each, in order.
    admin = await admin_headers(app, client)
    queue = await every_item(client, "/v1/admin/provider-services", admin, page_size=2)
    assert [p["code"] for p in queue if p["code"] in codes] == codes
    assert len({p["id"] for p in queue}) == len(queue)
