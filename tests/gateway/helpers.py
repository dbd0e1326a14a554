"""Shared helpers of the gateway tests: citizens, catalog lookups, the sandbox admin API."""

from __future__ import annotations

from typing import Any
from urllib.parse import quote

import httpx

from backend.catalog.data_file import BUNDLED_CATALOG, ServiceEntry, load_catalog_file
from integrations.sandbox import SandboxHandle, data

CATALOG, _ = load_catalog_file(BUNDLED_CATALOG)


def citizen(seed: str) -> str:
    """A valid, deterministic ID number; the sandbox has records for every one."""
    return data.make_id_no(seed)


def headers(id_number: str, level: int = 3, *, name: str | None = None) -> dict[str, str]:
    values = {"X-Dev-Citizen": id_number, "X-Dev-Level": str(level)}
    values["X-Dev-Name"] = quote(name or data.person_name(id_number))
    return values


def first_department(hospital_id: str) -> str:
    """The id of the sandbox hospital's first clinical department."""
    departments = data.departments(hospital_id)
    assert departments, f"the sandbox has no hospital {hospital_id}"
    return departments[0]["deptId"]


def service_for(adapter: str, operation: str) -> ServiceEntry:
    return next(
        s
        for s in CATALOG.services
        if s.adapter and (s.adapter.id, s.adapter.operation) == (adapter, operation)
    )


async def invoke(
    client: httpx.AsyncClient,
    code: str,
    id_number: str | None,
    params: dict[str, Any] | None = None,
    **extra_headers: str,
) -> httpx.Response:
    sent = headers(id_number) if id_number else {}
    sent |= {k.replace("_", "-"): v for k, v in extra_headers.items()}
    return await client.post(
        f"/v1/services/{code}/invoke", json={"params": params or {}}, headers=sent
    )


class SandboxAdmin:
    """The sandbox's own admin API: faults and request counts, per department."""

    def __init__(self, handle: SandboxHandle) -> None:
        self.urls = handle.urls

    async def fault(self, department: str, **fault: Any) -> None:
        async with httpx.AsyncClient() as client:
            response = await client.put(f"{self.urls[department]}/__sandbox/faults", json=fault)
            response.raise_for_status()

    async def clear(self, department: str) -> None:
        async with httpx.AsyncClient() as client:
            await self._clear(client, department)

    async def clear_all(self) -> None:
        """Every department without faults, its request counts back to zero."""
        async with httpx.AsyncClient() as client:
            for department in self.urls:
                await self._clear(client, department)

    async def _clear(self, client: httpx.AsyncClient, department: str) -> None:
        await client.delete(f"{self.urls[department]}/__sandbox/faults")
        await client.delete(f"{self.urls[department]}/__sandbox/stats")

    async def requests(self, department: str, route: str | None = None) -> int:
        async with httpx.AsyncClient() as client:
            stats = (await client.get(f"{self.urls[department]}/__sandbox/stats")).json()
        if route is None:
            return int(stats["total"])
        return int(stats["requests"].get(route, 0))
