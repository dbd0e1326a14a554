"""Provider accounts: only administrators create them; secrets rotate; specs are refused whole."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from tests.applications.helpers import department_token
from tests.providers.helpers import admin_headers, token_headers, water_spec


async def test_accounts_roles_and_secret_rotation(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    body = {"code": f"hf-acct-{uuid.uuid4().hex[:8]}", "name_zh": "测试", "name_en": "Test",
            "allowed_hosts": ["water.example.cn"]}  # fmt: skip
    # A department's application token is not an administrator's.
    department = {"Authorization": f"Bearer {await department_token(app, client, 'hf-hrss')}"}
    refused = await client.post("/v1/admin/providers", json=body, headers=department)
    assert refused.status_code == 403 and refused.json()["code"] == "ADMIN_REQUIRED"
    # …nor a provider's, on the provider API, unless its department is a provider.
    not_provider = await client.get("/v1/provider/adapters", headers=department)
    assert not_provider.status_code == 403 and not_provider.json()["code"] == "PROVIDER_REQUIRED"

    admin = await admin_headers(app, client)
    created = await client.post("/v1/admin/providers", json=body, headers=admin)
    assert created.status_code == 201
    again = await client.post("/v1/admin/providers", json=body, headers=admin)
    assert again.status_code == 409 and again.json()["code"] == "PROVIDER_EXISTS"
    first = created.json()["client"]
    provider = await token_headers(client, first["client_id"], first["client_secret"])

    rotated = await client.post("/v1/provider/client-secret", headers=provider)
    assert rotated.status_code == 200
    old = await client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(first["client_id"], first["client_secret"]),
    )
    assert old.status_code == 401  # the old secret stops working at once
    await token_headers(client, first["client_id"], rotated.json()["client_secret"])


async def test_a_spec_is_refused_whole_with_every_problem_listed(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    admin = await admin_headers(app, client)
    created = await client.post(
        "/v1/admin/providers",
        json={"code": f"hf-spec-{uuid.uuid4().hex[:8]}", "name_zh": "测试", "name_en": "Test",
              "allowed_hosts": ["water.example.cn"]},
        headers=admin,
    )  # fmt: skip
    credentials = created.json()["client"]
    provider = await token_headers(client, credentials["client_id"], credentials["client_secret"])
    spec = water_spec("probe_whole", "https://water.example.cn")
    spec["operations"]["bill"]["method"] = "FETCH"
    spec["operations"]["bill"]["timeout"] = "soon"
    del spec["name_zh"]
    refused = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
    assert refused.status_code == 422
    paths = {e["path"] for e in refused.json()["errors"]}
    assert {"/", "/operations/bill/method", "/operations/bill/timeout"} <= paths
    assert (await client.get("/v1/provider/adapters", headers=provider)).json()["items"] == []
