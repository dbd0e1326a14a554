"""An adapter's ``concurrency`` is what its department sees: measured at the department.

The department is a sandbox provident-fund server of this module's own (so no other
test's requests are counted), over real HTTP, slowed by a latency fault so that calls
overlap; its ``/__sandbox/stats`` report the most requests it was answering at once
(``max_in_flight``).
"""

from __future__ import annotations

import asyncio
import copy
import time
from collections.abc import AsyncIterator, Iterator, Mapping
from typing import Any

import httpx
import pytest
import yaml
from fastapi import FastAPI

from backend.app_state import state_of
from backend.kv import MemoryKV
from integrations.base import AdapterRegistry, AdapterTimeout, Caller, OperationInfo
from integrations.http_adapter import SpecAdapter
from integrations.invoker import Invoker
from integrations.loader import DEPARTMENTS_DIR
from integrations.sandbox import data, start_sandbox_thread
from integrations.spec import parse_spec
from integrations.transport import AiohttpTransport
from tests.gateway.helpers import headers

DEPARTMENT = "provident_fund"
BALANCE_PATH = "/openapi/gjj/account/balance"
DOCUMENT: dict[str, Any] = yaml.safe_load(
    (DEPARTMENTS_DIR / f"{DEPARTMENT}.yaml").read_text(encoding="utf-8")
)


class Department:
    """The sandbox department's admin API: a latency fault and the in-flight figures."""

    def __init__(self, url: str) -> None:
        self.url = url

    async def slow_down(self, latency_ms: int) -> None:
        async with httpx.AsyncClient() as client:
            fault = {"latency_ms": latency_ms, "path": BALANCE_PATH}
            (await client.put(f"{self.url}/__sandbox/faults", json=fault)).raise_for_status()

    async def stats(self) -> dict[str, Any]:
        async with httpx.AsyncClient() as client:
            stats: dict[str, Any] = (await client.get(f"{self.url}/__sandbox/stats")).json()
        return stats

    async def wait_until_in_flight(self, count: int, *, within: float = 5.0) -> None:
        give_up = time.monotonic() + within
        while (await self.stats())["in_flight"] < count:
            assert time.monotonic() < give_up, f"{count} request(s) never reached the department"
            await asyncio.sleep(0.01)

    async def clear(self, *, stats_only: bool = False) -> None:
        async with httpx.AsyncClient() as client:
            if not stats_only:
                await client.delete(f"{self.url}/__sandbox/faults")
            await client.delete(f"{self.url}/__sandbox/stats")


@pytest.fixture(scope="module")
def department_url() -> Iterator[str]:
    handle = start_sandbox_thread({DEPARTMENT: 0})
    yield handle.urls[DEPARTMENT]
    handle.stop()


@pytest.fixture
async def department(department_url: str) -> AsyncIterator[Department]:
    department = Department(department_url)
    await department.clear()
    yield department
    await department.clear()


@pytest.fixture
async def transport() -> AsyncIterator[AiohttpTransport]:
    transport = AiohttpTransport()
    yield transport
    await transport.aclose()


def spec_adapter(
    department: Department, transport: AiohttpTransport, concurrency: int | None
) -> SpecAdapter:
    """The bundled provident-fund spec, pointed at the department, with this ``concurrency``."""
    document = copy.deepcopy(DOCUMENT)
    if concurrency is not None:
        document["concurrency"] = concurrency
    variables = {"PROVIDENT_FUND_BASE_URL": department.url}
    return SpecAdapter(parse_spec(document, variables), transport)


class ThrottledPythonAdapter:
    """A Python adapter (as an entry point registers one) that declares its own limit."""

    concurrency = 3

    def __init__(self, inner: SpecAdapter) -> None:
        self._inner = inner

    @property
    def id(self) -> str:
        return self._inner.id

    @property
    def operations(self) -> Mapping[str, OperationInfo]:
        return self._inner.operations

    async def call(
        self, operation: str, params: Mapping[str, Any], caller: Caller, timeout: float
    ) -> Any:
        return await self._inner.call(operation, params, caller, timeout)

    async def aclose(self) -> None:
        await self._inner.aclose()


def citizen(n: int, seed: str = "concurrency") -> Caller:
    id_number = data.make_id_no(f"{seed}-{n}")
    return Caller(subject=f"{seed}-{n}", assurance_level=2, id_number=id_number)


async def balances(invoker: Invoker, count: int, *, within: float = 20.0) -> list[Any]:
    """``count`` balance queries at once, each with ``within`` seconds to be answered."""
    deadline = time.monotonic() + within
    return await asyncio.gather(
        *(
            invoker.call(DEPARTMENT, "balance", {}, citizen(n), deadline=deadline)
            for n in range(count)
        )
    )


async def test_a_department_with_concurrency_2_sees_at_most_2_calls_at_once(
    department: Department, transport: AiohttpTransport
) -> None:
    registry = AdapterRegistry()
    registry.register(spec_adapter(department, transport, concurrency=2))
    # Built as app.py builds it: nothing about concurrency is passed in.
    invoker = Invoker(registry, MemoryKV())
    await department.slow_down(200)

    answers = await balances(invoker, 8)

    # Nobody was turned away: the six beyond the two slots waited for one.
    assert [a["name"] for a in answers] == [
        data.person_name(citizen(n).id_number or "") for n in range(8)
    ]
    stats = await department.stats()
    assert stats["requests"] == {f"GET {BALANCE_PATH}": 8}
    assert stats["max_in_flight"] == 2


async def test_a_python_adapter_declares_its_own_limit(
    department: Department, transport: AiohttpTransport
) -> None:
    registry = AdapterRegistry()
    registry.register(ThrottledPythonAdapter(spec_adapter(department, transport, concurrency=None)))
    invoker = Invoker(registry, MemoryKV())
    await department.slow_down(200)

    assert len(await balances(invoker, 8)) == 8
    assert (await department.stats())["max_in_flight"] == 3


async def test_a_published_version_with_a_new_limit_takes_effect(
    department: Department, transport: AiohttpTransport
) -> None:
    registry = AdapterRegistry()
    registry.register(spec_adapter(department, transport, concurrency=2))
    invoker = Invoker(registry, MemoryKV())
    await department.slow_down(200)
    await balances(invoker, 6)
    assert (await department.stats())["max_in_flight"] == 2

    # What a provider's publish does on every worker (backend/providers/sync.py).
    registry.register(spec_adapter(department, transport, concurrency=4), replace=True)
    invoker.forget(DEPARTMENT)
    await department.clear(stats_only=True)
    await balances(invoker, 8)
    assert (await department.stats())["max_in_flight"] == 4


async def test_calls_beyond_the_slots_wait_no_longer_than_their_deadline(
    department: Department, transport: AiohttpTransport
) -> None:
    registry = AdapterRegistry()
    registry.register(spec_adapter(department, transport, concurrency=1))
    invoker = Invoker(registry, MemoryKV())
    await department.slow_down(1000)

    holder = asyncio.create_task(
        invoker.call(DEPARTMENT, "balance", {}, citizen(0), deadline=time.monotonic() + 10)
    )
    await department.wait_until_in_flight(1)  # the one slot is taken
    hurried = [
        invoker.call(DEPARTMENT, "balance", {}, citizen(n), deadline=time.monotonic() + 0.3)
        for n in (1, 2)
    ]
    outcomes = await asyncio.gather(*hurried, return_exceptions=True)

    for outcome in outcomes:
        assert isinstance(outcome, AdapterTimeout), outcome
        assert outcome.message == "no free slot before deadline"
    assert (await holder)["name"] == data.person_name(citizen(0).id_number or "")
    # The two that timed out waiting never reached the department.
    assert (await department.stats())["total"] == 1


async def test_the_app_applies_the_concurrency_of_a_newly_published_version(
    app_client: tuple[FastAPI, httpx.AsyncClient], department: Department
) -> None:
    app, client = app_client
    registry: AdapterRegistry = state_of(app).registry
    bundled = registry.get(DEPARTMENT)
    assert isinstance(bundled, SpecAdapter)
    # Swapped in as a provider's publish does it (backend/providers/sync.py), then put back.
    document = copy.deepcopy(dict(bundled.spec.raw)) | {
        "concurrency": 2,
        "base_url": department.url,
    }
    registry.register(SpecAdapter(parse_spec(document, {}), bundled.transport), replace=True)
    state_of(app).gateway.invoker.forget(DEPARTMENT)
    try:
        await department.slow_down(200)
        answers = await asyncio.gather(
            *(
                client.post(
                    "/v1/services/hpf-balance-query/invoke",
                    json={},
                    headers=headers(citizen(n, "app-concurrency").id_number or ""),
                )
                for n in range(8)
            )
        )
    finally:
        registry.register(bundled, replace=True)
        state_of(app).gateway.invoker.forget(DEPARTMENT)
    assert [a.status_code for a in answers] == [200] * 8, [a.text for a in answers]
    stats = await department.stats()
    assert stats["requests"] == {f"GET {BALANCE_PATH}": 8}
    assert stats["max_in_flight"] == 2


def test_an_adapter_without_a_concurrency_is_refused_at_registration(
    department: Department, transport: AiohttpTransport
) -> None:
    class Unlimited(ThrottledPythonAdapter):
        concurrency = None  # type: ignore[assignment]

    registry = AdapterRegistry()
    unlimited: Any = Unlimited(spec_adapter(department, transport, concurrency=None))
    with pytest.raises(ValueError, match=r"provident_fund.*concurrency"):
        # Untyped, as an entry point's factory hands it over: only the registry can refuse it.
        registry.register(unlimited)
    assert DEPARTMENT not in registry
