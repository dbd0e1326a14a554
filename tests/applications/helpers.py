"""Shared by the applications tests: valid forms, department tokens, submitting."""

from __future__ import annotations

import uuid
from typing import Any

import httpx
from fastapi import FastAPI

from backend.app_state import state_of
from backend.identity.clients import ADMIN_SCOPE, create_client
from tests.gateway.helpers import CATALOG
from tests.identity.helpers import bearer


def fill(service_code: str) -> dict[str, Any]:
    """A valid form for a service whose required fields are enums, dates, numbers or text."""
    service = next(s for s in CATALOG.services if s.code == service_code)
    assert service.form_schema is not None
    properties = service.form_schema["properties"]
    form: dict[str, Any] = {}
    for name in service.form_schema.get("required", []):
        spec = properties[name]
        if "enum" in spec:
            form[name] = spec["enum"][0]
        elif spec.get("format") == "date":
            form[name] = "2026-11-02"
        elif spec.get("type") in ("integer", "number"):
            form[name] = max(1, spec.get("minimum", 1))
        else:
            form[name] = "合肥市蜀山区长江西路100号"
    return form


async def client_token(app: FastAPI, client: httpx.AsyncClient, **registration: Any) -> str:
    """A client-credentials access token for a newly registered client."""
    async with state_of(app).sessions() as db, db.begin():
        registered, secret = await create_client(db, **registration)
    response = await client.post(
        "/oauth2/token",
        data={"grant_type": "client_credentials"},
        auth=(registered.client_id, secret),
    )
    assert response.status_code == 200, response.text
    return str(response.json()["access_token"])


async def department_token(app: FastAPI, client: httpx.AsyncClient, department: str) -> str:
    return await client_token(
        app, client, name=f"{department} 业务系统", kind="department", department_code=department
    )


async def admin_token(app: FastAPI, client: httpx.AsyncClient) -> str:
    return await client_token(app, client, name="平台管理", kind="admin", scopes=[ADMIN_SCOPE])


def as_department(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


async def submit(
    client: httpx.AsyncClient, citizen: dict[str, Any], service_code: str, **extra: Any
) -> dict[str, Any]:
    response = await client.post(
        "/v1/applications",
        json={"service_code": service_code, "form": fill(service_code)} | extra,
        headers=bearer(citizen) | {"Idempotency-Key": f"k-{uuid.uuid4()}"},
    )
    assert response.status_code == 201, response.text
    return dict(response.json())
