"""A provider's spec can never make the platform call its own network."""

from __future__ import annotations

import uuid

import httpx
import pytest
from fastapi import FastAPI

from tests.providers.helpers import admin_headers, token_headers, water_spec
from tests.providers.novel_department import water_utility

INWARD = [
    "http://127.0.0.1:8080",
    "http://[::1]:8080",
    "http://169.254.169.254",
    "http://10.0.0.1",
    "http://2130706433",  # 127.0.0.1 as one decimal number
    "http://0x7f000001",  # … and in hex
    "http://localhost:8080",  # a name that resolves to loopback
]


async def _provider(
    app: FastAPI, client: httpx.AsyncClient, hosts: list[str], internal: list[str]
) -> dict[str, str]:
    admin = await admin_headers(app, client)
    created = await client.post(
        "/v1/admin/providers",
        json={
            "code": f"hf-probe-{uuid.uuid4().hex[:8]}",
            "name_zh": "测试提供方",
            "name_en": "Test provider",
            "allowed_hosts": hosts,
            "internal_hosts": internal,
        },
        headers=admin,
    )
    assert created.status_code == 201, created.text
    credentials = created.json()["client"]
    return await token_headers(client, credentials["client_id"], credentials["client_secret"])


async def test_specs_pointing_inward_are_refused_and_nothing_is_stored(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    # Odd spellings of an address are refused even in the provider's host list.
    admin = await admin_headers(app, client)
    odd = await client.post(
        "/v1/admin/providers",
        json={"code": "hf-odd", "name_zh": "测试", "name_en": "Test",
              "allowed_hosts": ["0x7f000001"]},
        headers=admin,
    )  # fmt: skip
    assert odd.status_code == 422 and odd.json()["code"] == "PROVIDER_HOSTS_INVALID"
    # Listed as allowed hosts, but an administrator did not allow them as internal ones.
    hosts = ["127.0.0.1", "::1", "169.254.169.254", "10.0.0.1", "localhost"]
    provider = await _provider(app, client, hosts, [])
    for url in INWARD:
        spec = water_spec(f"probe_{uuid.uuid4().hex[:8]}", url)
        refused = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
        assert refused.status_code == 422, (url, refused.text)
        body = refused.json()
        assert body["code"] == "ADAPTER_SPEC_INVALID"
        assert [e["path"] for e in body["errors"]] == ["/base_url"], (url, body["errors"])
    assert (await client.get("/v1/provider/adapters", headers=provider)).json()["items"] == []


async def test_a_host_outside_the_providers_list_is_refused(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    provider = await _provider(app, client, ["water.example.cn"], [])
    spec = water_spec("probe_elsewhere", "https://elsewhere.example.cn")
    refused = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
    assert refused.status_code == 422
    assert "not" in refused.json()["errors"][0]["message"]


@pytest.mark.parametrize("variable", ["${HEFEITONG_SECRET_KEY}", "${PATH}"])
async def test_a_spec_cannot_read_the_servers_environment(
    app_client: tuple[FastAPI, httpx.AsyncClient], variable: str
) -> None:
    app, client = app_client
    provider = await _provider(app, client, ["water.example.cn"], [])
    spec = water_spec("probe_env", "https://water.example.cn", key=variable)
    refused = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
    assert refused.status_code == 422
    assert refused.json()["errors"][0]["rule"] == "variable"


async def test_a_redirect_inward_is_not_followed(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    async with water_utility() as utility:
        provider = await _provider(app, client, ["127.0.0.1"], ["127.0.0.1"])
        adapter_id = f"probe_{uuid.uuid4().hex[:8]}"
        spec = water_spec(adapter_id, utility.url, path="/jump")
        created = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
        assert created.status_code == 201, created.text
        tried = await client.post(
            f"/v1/provider/adapters/{adapter_id}/versions/1/dry-run",
            json={"operation": "bill", "params": {"account": "W1001"}},
            headers=provider,
        )
        run = tried.json()
        assert run["ok"] is False
        assert run["error"]["class"] == "AdapterBadResponse"
        assert "redirect 302 not followed" in run["error"]["message"]
        assert utility.seen == ["/jump"]  # the one request; the target was never asked
