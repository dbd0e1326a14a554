"""Shared by the provider tests: specs, tokens, waiting for what workers pick up."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

import httpx
from fastapi import FastAPI

from backend.app_state import state_of
from backend.identity.clients import ADMIN_SCOPE, create_client
from tests.providers.novel_department import API_KEY


async def admin_headers(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    async with state_of(app).sessions() as db, db.begin():
        registered, secret = await create_client(
            db, "平台管理员", kind="admin", scopes=[ADMIN_SCOPE]
        )
    return await token_headers(client, registered.client_id, secret)


async def token_headers(client: httpx.AsyncClient, client_id: str, secret: str) -> dict[str, str]:
    response = await client.post(
        "/oauth2/token", data={"grant_type": "client_credentials"}, auth=(client_id, secret)
    )
    assert response.status_code == 200, response.text
    return {"Authorization": f"Bearer {response.json()['access_token']}"}


async def until(
    changed: asyncio.Condition, check: Callable[[], bool], *, within: float = 15
) -> None:
    """Return once ``check()`` holds, looking again each time ``changed`` is notified (a
    background loop notifies it after each change it makes); fail after ``within`` s."""
    async with asyncio.timeout(within), changed:
        await changed.wait_for(check)


def water_spec(
    adapter_id: str, base_url: str, *, due_date: bool = False, key: str = API_KEY,
    operation: str = "bill", path: str = "/openapi/v3/water/bill",
) -> dict[str, Any]:  # fmt: skip
    """The utility's dialect: amounts as strings in fen, a ``ret`` code, a ``payload``."""
    fields = "account: acctNo, owed_fen: to_number(owedFen), period: period"
    return {
        "id": adapter_id,
        "name_zh": "合肥供水集团营业系统",
        "name_en": "Hefei Water Supply Group billing",
        "base_url": base_url,
        "auth": {"scheme": "api_key", "header": "X-Water-Key", "value": key},
        "defaults": {
            "timeout": 3,
            "success": "ret == '0'",
            "error_code": "ret",
            "error_message": "msg",
        },
        "operations": {
            operation: {
                "summary_zh": "水费账单",
                "summary_en": "Water bill",
                "method": "GET",
                "path": path,
                "params": {
                    "type": "object",
                    "properties": {"account": {"type": "string", "pattern": "^W[0-9]{3,12}$"}},
                    "required": ["account"],
                    "additionalProperties": False,
                },
                "query": {"acct": "params.account"},
                "result": "payload.{" + fields + (", due_date: dueDate" if due_date else "") + "}",
            }
        },
    }
