"""Each department fault mode gives its documented outcome, over real HTTP."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import httpx
import pytest
from fastapi import FastAPI

from backend.app_state import state_of
from backend.clock import advance
from integrations.breaker import BreakerPolicy
from integrations.sandbox import data
from tests.conftest import SharedApp, running_app
from tests.gateway.helpers import SandboxAdmin, citizen, invoke, service_for

BALANCE = service_for("provident_fund", "balance").code
BALANCE_ROUTE = "GET /openapi/gjj/account/balance"


async def test_hung_department_gives_504_within_the_budget(
    app_client: tuple[FastAPI, httpx.AsyncClient], admin: SandboxAdmin
) -> None:
    app, client = app_client
    await admin.fault("provident_fund", hang=True)  # the department hangs for an hour
    started = time.monotonic()
    response = await invoke(client, BALANCE, citizen("hang"), X_Timeout_Ms="400")
    elapsed = time.monotonic() - started
    assert response.status_code == 504
    assert response.headers["content-type"] == "application/problem+json"
    assert response.json()["code"] == "ADAPTER_TIMEOUT"
    # Cut by the client's 400 ms, not by the configured budget (5 s): only the bound is
    # tied to that budget, so a busy machine slowing the 400 ms down cannot fail it.
    configured = state_of(app).settings.invoke_timeout
    assert configured >= 2
    assert elapsed < configured


@pytest.mark.parametrize(
    ("fault", "status", "code"),
    [
        ({"error_rate": 1.0, "status": 503}, 503, "ADAPTER_UNAVAILABLE"),
        ({"malformed": True}, 502, "ADAPTER_BAD_RESPONSE"),
        ({"redirect": "http://169.254.169.254/latest/meta-data/"}, 502, "ADAPTER_BAD_RESPONSE"),
        ({"wrong_charset": True}, 502, "ADAPTER_BAD_RESPONSE"),
    ],
)
async def test_department_failures_are_problems_never_500s(
    client: httpx.AsyncClient,
    admin: SandboxAdmin,
    fault: dict[str, object],
    status: int,
    code: str,
) -> None:
    await admin.fault("provident_fund", **fault)
    response = await invoke(client, BALANCE, citizen(f"fault-{code}-{status}"))
    assert response.status_code == status, response.text
    problem = response.json()
    assert problem["code"] == code
    # The department's own body (an HTML error page, garbled JSON) never reaches the client.
    assert "<html" not in response.text.lower()
    assert "169.254" not in response.text


async def test_breaker_opens_after_threshold_and_closes_after_recovery(
    app_client: tuple[FastAPI, httpx.AsyncClient], admin: SandboxAdmin
) -> None:
    # Test settings: 3 failures open the breaker for 1 second.
    app, client = app_client
    code = service_for("hospital", "reports").code
    await admin.fault("hospital", error_rate=1.0, status=500)
    for i in range(3):
        failing = await invoke(client, code, citizen(f"breaker-{i}"))
        assert failing.status_code == 503
    upstream_before = await admin.requests("hospital")
    fast = await invoke(client, code, citizen("breaker-fast"))
    assert fast.status_code == 503
    assert int(fast.headers["retry-after"]) >= 1
    assert await admin.requests("hospital") == upstream_before  # failed fast, no call made

    await admin.clear("hospital")
    # The open period passes on this test's clock (the app's, moved for this task only).
    with advance(state_of(app).settings.breaker_open_seconds):
        recovered = await invoke(client, code, citizen("breaker-after"))
        assert recovered.status_code == 200, recovered.text
        again = await invoke(client, code, citizen("breaker-after-2"))
        assert again.status_code == 200
    # Closed for the real time too: nothing of the moved clock stays behind.
    assert (await invoke(client, code, citizen("breaker-after-3"))).status_code == 200


async def test_breaker_state_is_shared_between_instances(
    tmp_path: Path, production_app: SharedApp, admin: SandboxAdmin
) -> None:
    # A second worker of the shared deployment (database, Redis namespace) that opens the
    # breaker for a minute: however slow the machine, it is still open when B looks.
    settings = production_app.settings.model_copy(
        update={"var_dir": tmp_path / "a", "breaker_open_seconds": 60}
    )
    code = service_for("transit", "parking").code
    worker_b = production_app.client
    async with running_app(settings) as (_, worker_a):
        # B has looked at the breaker (closed) and trusts that view for its sync interval.
        assert (await invoke(worker_b, code, citizen("shared-b-before"))).status_code == 200
        await admin.fault("transit", error_rate=1.0, status=502)
        for i in range(3):
            assert (await invoke(worker_a, code, citizen(f"shared-{i}"))).status_code == 503
        calls = await admin.requests("transit")
        # Each worker re-reads the shared state every sync interval (0.5 s): let it pass.
        with advance(BreakerPolicy().sync_interval):
            refused = await invoke(worker_b, code, citizen("shared-b"))
        assert refused.status_code == 503
        assert "retry-after" in refused.headers
        assert await admin.requests("transit") == calls


async def test_stale_answer_is_served_when_the_department_fails(
    app_client: tuple[FastAPI, httpx.AsyncClient], admin: SandboxAdmin
) -> None:
    app, client = app_client
    who = citizen("stale")
    fresh = (await invoke(client, BALANCE, who)).json()
    assert fresh["cache"] == "miss"
    assert (await invoke(client, BALANCE, who)).json()["cache"] == "hit"
    await admin.fault("provident_fund", error_rate=1.0, status=503)
    try:
        # Ten minutes later (for this test only) the 300-second answer is no longer fresh,
        # and the department is down.
        with advance(600):
            stale = await invoke(client, BALANCE, who)
            assert stale.status_code == 200
            assert stale.json()["cache"] == "stale"
            assert stale.json()["data"] == fresh["data"]
            assert stale.json()["fetched_at"] == fresh["fetched_at"]
            # A citizen with nothing cached gets the error, not someone else's answer.
            other = await invoke(client, BALANCE, citizen("stale-other"))
            assert other.status_code == 503
        # Back in real time the answer is fresh again: the move did not outlive the block.
        assert (await invoke(client, BALANCE, who)).json()["cache"] == "hit"
    finally:
        # The failures above opened the department's breaker: not the next test's problem.
        await state_of(app).gateway.invoker.breaker("provident_fund").reset()


async def test_concurrent_identical_requests_make_one_upstream_call(
    client: httpx.AsyncClient, admin: SandboxAdmin
) -> None:
    who = citizen("coalesce")
    await admin.fault("provident_fund", latency_ms=300)
    responses = await asyncio.gather(*(invoke(client, BALANCE, who) for _ in range(20)))
    assert {r.status_code for r in responses} == {200}
    assert len({r.json()["data"]["balance"] for r in responses}) == 1
    assert await admin.requests("provident_fund", BALANCE_ROUTE) == 1


async def test_cache_never_crosses_citizens(client: httpx.AsyncClient) -> None:
    alice, bob = citizen("alice"), citizen("bob")
    first = (await invoke(client, BALANCE, alice)).json()
    second = (await invoke(client, BALANCE, bob)).json()
    assert first["data"]["account_no"] == data.provident_fund_account(alice)["accountNo"]
    assert second["data"]["account_no"] == data.provident_fund_account(bob)["accountNo"]
    assert second["cache"] == "miss"


async def test_level_too_low_names_the_level_needed(client: httpx.AsyncClient) -> None:
    response = await client.post(
        f"/v1/services/{BALANCE}/invoke",
        json={},
        headers={"X-Dev-Citizen": citizen("low"), "X-Dev-Level": "1"},
    )
    assert response.status_code == 403
    problem = response.json()
    assert problem["code"] == "ASSURANCE_LEVEL_TOO_LOW"
    assert problem["required_level"] == 2
    assert problem["current_level"] == 1


async def test_bad_parameters_are_refused_before_any_upstream_call(
    client: httpx.AsyncClient, admin: SandboxAdmin
) -> None:
    code = service_for("provident_fund", "withdrawal_apply").code
    response = await invoke(client, code, citizen("bad-params"), {"amount": "lots"})
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "VALIDATION_FAILED"
    fields = {tuple(e["location"]) for e in problem["errors"]}
    assert ("body", "params", "amount") in fields  # pattern
    assert ("body", "params") in fields  # "reason" is required
    assert await admin.requests("provident_fund") == 0
    malformed = await client.post(
        f"/v1/services/{code}/invoke",
        content=b"{not json",
        headers={"X-Dev-Citizen": citizen("bad-params"), "Content-Type": "application/json"},
    )
    assert malformed.status_code == 422


async def test_department_rejection_carries_its_message(client: httpx.AsyncClient) -> None:
    code = service_for("provident_fund", "withdrawal_apply").code
    response = await invoke(
        client, code, citizen("greedy"), {"reason": "租房", "amount": "99999999.00"}
    )
    assert response.status_code == 422
    problem = response.json()
    assert problem["code"] == "DEPARTMENT_REJECTED"
    assert problem["detail"] == "提取金额超过账户余额"
    assert problem["upstream_code"] == "2002"


async def test_idempotent_reads_are_retried_writes_are_not(
    client: httpx.AsyncClient, admin: SandboxAdmin
) -> None:
    # Every second request fails: a read retries once and succeeds; a write is tried once.
    await admin.fault("provident_fund", error_rate=0.5, status=503)
    loans = service_for("provident_fund", "loans").code
    first = await invoke(client, loans, citizen("retry-a"))
    second = await invoke(client, loans, citizen("retry-b"))
    assert first.status_code == 200 and second.status_code == 200, second.text
    assert await admin.requests("provident_fund", "GET /openapi/gjj/loans") == 3

    await admin.fault("provident_fund", error_rate=1.0, status=503)
    withdraw = service_for("provident_fund", "withdrawal_apply").code
    response = await invoke(client, withdraw, citizen("retry-w"), {"reason": "租房", "amount": "1"})
    assert response.status_code == 503
    assert await admin.requests("provident_fund", "POST /openapi/gjj/withdrawals") == 1
