"""Query-only departments: the platform polls the traffic police's case system.

The traffic police adapter has ``application_status``, so its application services are
polled; the tests play the department's staff through the sandbox's control endpoint
and watch the citizen's view of the application follow.
"""

from __future__ import annotations

import asyncio
import json
import uuid
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI
from structlog.testing import capture_logs

from backend.app_state import state_of
from backend.applications.notifications import events_channel, run_worker
from backend.applications.poll_steps import DepartmentCase, Progress, Step, next_step
from backend.applications.poller import poll_once, poll_round, query_only_services
from backend.applications.state_machine import Status
from backend.kv import KV
from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import submit
from tests.identity.helpers import bearer, sign_in_real_name

CODE = "driving-licence-reissue"  # hf-traffic-police, bound to the traffic_police adapter
OWNER = "hf-traffic-police"
FORM = {
    "licence_file_number": "340100123456",
    "loss_reason": "遗失",
    "delivery_address": "合肥市蜀山区长江西路100号",
}
OTHER_CODE = "maternal-health-handbook"  # hf-health: answers through the provider API


# --- helpers ---------------------------------------------------------------------------


async def poll(app: FastAPI, **options: Any) -> int:
    state = state_of(app)
    return await poll_once(
        state.sessions, state.identity.invoker, state.catalog.snapshot, **options
    )


def _case_url(sandbox: SandboxHandle, number: str) -> str:
    return f"{sandbox.urls['traffic_police']}/__sandbox/applications/{number}"


async def department(sandbox: SandboxHandle, number: str, **case: Any) -> dict[str, Any]:
    """The department's staff move the case in their own system."""
    async with httpx.AsyncClient() as http:
        response = await http.put(_case_url(sandbox, number), json=case)
    assert response.status_code == 200, response.text
    return dict(response.json())


async def apply(
    client: httpx.AsyncClient, sandbox: SandboxHandle, tag: str
) -> tuple[dict[str, Any], dict[str, Any]]:
    """A real-name citizen and their traffic-police application, unknown to the department."""
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"{tag}-{uuid.uuid4()}"))
    submitted = await submit(client, citizen, CODE, form=FORM)
    # Each embedded test numbers from 00001 again: forget a case an earlier test left.
    async with httpx.AsyncClient() as http:
        await http.delete(_case_url(sandbox, submitted["number"]))
    return citizen, submitted


async def seen(client: httpx.AsyncClient, citizen: dict[str, Any], app_id: str) -> dict[str, Any]:
    response = await client.get(f"/v1/applications/{app_id}", headers=bearer(citizen))
    assert response.status_code == 200, response.text
    return dict(response.json())


def changes(application: dict[str, Any]) -> list[str]:
    """The status changes on the timeline (notes such as opinions and trips left out)."""
    return [t["to_status"] for t in application["timeline"] if t["from_status"] != t["to_status"]]


@pytest.fixture
async def faults(sandbox: SandboxHandle) -> AsyncIterator[httpx.AsyncClient]:
    """The traffic police's fault API; whatever a test injects is lifted afterwards."""
    async with httpx.AsyncClient(base_url=sandbox.urls["traffic_police"]) as http:
        yield http
        await http.delete("/__sandbox/faults")


# --- over real HTTP ----------------------------------------------------------------------


async def test_polling_follows_the_department_through_the_lifecycle(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen, submitted = await apply(client, sandbox, "poll-life")
    app_id, number = submitted["id"], submitted["number"]
    other = await submit(client, citizen, OTHER_CODE)

    await poll(app)  # the department has not registered the case yet
    assert (await seen(client, citizen, app_id))["status"] == "submitted"

    await department(sandbox, number, state="RECEIVED")
    assert await poll(app) >= 1
    accepted = await seen(client, citizen, app_id)
    assert accepted["status"] == "in_review" and accepted["due_on"] is not None
    assert accepted["reviews"] == [{"department": OWNER, "decision": "pending", "opinion": None}]
    assert await poll(app) == 0  # nothing new: nothing written
    assert (await seen(client, citizen, app_id))["timeline"] == accepted["timeline"]

    missing = ["驾驶证遗失声明", "近期免冠照片"]
    await department(
        sandbox, number, state="NEED_MORE", missing=missing, opinion="照片背景应为白色"
    )
    assert await poll(app) >= 1
    asked = await seen(client, citizen, app_id)
    assert asked["status"] == "supplement_required"
    request = asked["timeline"][-1]
    assert request["to_status"] == "supplement_required"
    assert all(item in request["note"] for item in missing)
    assert await poll(app) == 0

    answered = await client.post(
        f"/v1/applications/{app_id}/supplements", json={"note": "已上传"}, headers=bearer(citizen)
    )
    assert answered.json()["status"] == "in_review"
    # The department has not looked yet and still says NEED_MORE for the round already
    # asked: the citizen is not asked again.
    assert await poll(app) == 0
    assert (await seen(client, citizen, app_id))["status"] == "in_review"

    await department(sandbox, number, state="REVIEWING", trip="窗口核验驾驶人身份")
    assert await poll(app) >= 1
    visited = await seen(client, citizen, app_id)
    assert visited["status"] == "in_review" and visited["trips"] == 1

    await department(sandbox, number, state="APPROVED", opinion="材料齐全，同意补证")
    assert await poll(app) >= 1
    approved = await seen(client, citizen, app_id)
    assert approved["status"] == "approved"
    assert approved["reviews"] == [
        {"department": OWNER, "decision": "approved", "opinion": "材料齐全，同意补证"}
    ]

    await department(sandbox, number, state="DONE", licence_no="340100123456", mail_no="SF1001")
    assert await poll(app) >= 1
    done = await seen(client, citizen, app_id)
    assert done["status"] == "completed"
    assert done["result"] == {"licence_no": "340100123456", "tracking_number": "SF1001"}
    assert done["trips"] == 1
    assert changes(done) == [
        "submitted", "accepted", "in_review", "supplement_required", "in_review",
        "approved", "completed",
    ]  # fmt: skip
    assert await poll(app) == 0

    untouched = await seen(client, citizen, other["id"])
    assert untouched["status"] == "submitted" and len(untouched["timeline"]) == 1


async def test_a_department_that_jumped_ahead_is_caught_up_in_one_poll(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen, finished = await apply(client, sandbox, "poll-jump")
    other_citizen, refused = await apply(client, sandbox, "poll-jump")
    await department(sandbox, finished["number"], state="DONE", licence_no="340100654321")
    await department(sandbox, refused["number"], state="REJECTED", opinion="驾驶证已注销，不予补证")

    assert await poll(app) >= 2
    done = await seen(client, citizen, finished["id"])
    assert done["status"] == "completed" and done["result"] == {"licence_no": "340100654321"}
    assert changes(done) == ["submitted", "accepted", "in_review", "approved", "completed"]
    assert done["reviews"][0]["decision"] == "approved" and done["due_on"] is not None
    rejected = await seen(client, other_citizen, refused["id"])
    assert rejected["status"] == "rejected"
    assert changes(rejected) == ["submitted", "accepted", "in_review", "rejected"]
    assert "不同意：驾驶证已注销，不予补证" in [t["note"] for t in rejected["timeline"]]

    assert await poll(app) == 0
    assert (await seen(client, citizen, finished["id"]))["timeline"] == done["timeline"]


async def test_a_department_that_is_down_or_talks_nonsense_changes_nothing(
    app_client: tuple[FastAPI, httpx.AsyncClient],
    sandbox: SandboxHandle,
    faults: httpx.AsyncClient,
) -> None:
    app, client = app_client
    citizen, submitted = await apply(client, sandbox, "poll-down")
    app_id, number = submitted["id"], submitted["number"]
    await department(sandbox, number, state="APPROVED", opinion="同意")
    breaker = state_of(app).identity.invoker.breaker("traffic_police")
    broken: list[dict[str, Any]] = [
        {"status": 503, "error_rate": 1.0},  # down behind its nginx
        {"malformed": True},  # a reply cut off mid-body
        {"hang": True},  # never answers: the poll's own deadline ends the wait
    ]
    for fault in broken:
        put = await faults.put("/__sandbox/faults", json=fault | {"path": "/api/applications/"})
        assert put.status_code == 200, put.text
        with capture_logs() as logs:
            assert await asyncio.wait_for(poll(app, timeout=0.5), 10) == 0
        assert (await seen(client, citizen, app_id))["status"] == "submitted", fault
        assert any(e["event"] == "poll_pass" and e.get("unavailable") for e in logs), fault
        assert citizen["id_number"] not in repr(logs) and citizen["phone"] not in repr(logs)
        await breaker.reset()  # so the next fault reaches the department again
    await faults.delete("/__sandbox/faults")

    # It answers, but with a state nobody told the platform about.
    await department(sandbox, number, state="ARCHIVED")
    with capture_logs() as logs:
        await poll(app)
    assert (await seen(client, citizen, app_id))["status"] == "submitted"
    assert any(e["event"] == "poll_answer_unusable" for e in logs)

    await department(sandbox, number, state="APPROVED")
    assert await poll(app) >= 1  # back up: caught up at once
    assert (await seen(client, citizen, app_id))["status"] == "approved"


async def test_the_worker_polls_on_its_own_interval(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen, submitted = await apply(client, sandbox, "poll-worker")
    await department(sandbox, submitted["number"], state="REVIEWING")
    me = (await client.get("/v1/me", headers=bearer(citizen))).json()
    kv: KV = state_of(app).kv
    # The worker delivers every change it makes to the citizen's event channel: listen there.
    async with kv.subscribe(events_channel(me["id"])) as events:
        worker = asyncio.create_task(
            run_worker(
                state_of(app).sessions,
                state_of(app).identity,
                catalog=state_of(app).catalog,
                poll_interval=0.1,
            )
        )
        try:
            async with asyncio.timeout(10):
                async for _, message in events:
                    if json.loads(message)["status"] == "in_review":
                        break
        finally:
            worker.cancel()
            with pytest.raises(asyncio.CancelledError):
                await worker
    # Accepted by the worker's poll, nobody calling poll_once.
    assert (await seen(client, citizen, submitted["id"]))["status"] == "in_review"


async def test_workers_take_turns_one_poll_per_interval(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen, submitted = await apply(client, sandbox, "poll-round")
    await department(sandbox, submitted["number"], state="REVIEWING")
    state = state_of(app)
    shared = (state.identity.kv, state.sessions, state.identity.invoker, state.catalog.snapshot)
    # Two workers sharing the KV store reach the round at once: one asks the department.
    rounds = await asyncio.gather(poll_round(*shared, 30.0), poll_round(*shared, 30.0))
    assert sorted(rounds, key=str) == [1, None]
    assert (await seen(client, citizen, submitted["id"]))["status"] == "in_review"
    # The round is taken until the next interval, whoever asks.
    assert await poll_round(*shared, 30.0) is None


# --- the mapping alone ----------------------------------------------------------------------


def case(state: str, **fields: Any) -> DepartmentCase:
    return DepartmentCase.model_validate({"number": "HF2026112600001", "state": state} | fields)


def progress(status: Status, *, pending: bool = True, asked: int = 0, trips: int = 0) -> Progress:
    return Progress(status=status, review_pending=pending, supplements_asked=asked, trips=trips)


S = Status
MORE = {"missing": ["身份证"]}


@pytest.mark.parametrize(
    ("platform", "answer", "expected"),
    [
        (progress(S.SUBMITTED), case("received"), Step.ACCEPT),
        (progress(S.SUBMITTED), case("done", licence_no="X1"), Step.ACCEPT),
        (progress(S.IN_REVIEW), case("received"), None),
        (progress(S.IN_REVIEW), case("reviewing"), None),
        (progress(S.IN_REVIEW), case("need_more", **MORE), Step.SUPPLEMENT),
        # Asked already; the citizen answered and the department has not looked yet.
        (progress(S.IN_REVIEW, asked=1), case("need_more", **MORE), None),
        (progress(S.IN_REVIEW, asked=1), case("need_more", supplement_rounds=2, **MORE),
         Step.SUPPLEMENT),
        # The citizen's turn: the department moving on does not take it from them.
        (progress(S.SUPPLEMENT_REQUIRED, asked=1), case("approved"), None),
        (progress(S.SUPPLEMENT_REQUIRED, asked=1), case("reviewing"), None),
        (progress(S.SUPPLEMENT_REQUIRED), case("reviewing", trips=[{"reason": "核验"}]), Step.TRIP),
        (progress(S.IN_REVIEW, trips=1), case("reviewing", trips=[{"reason": "核验"}]), None),
        (progress(S.IN_REVIEW), case("approved"), Step.APPROVE),
        (progress(S.IN_REVIEW), case("done"), Step.APPROVE),
        (progress(S.IN_REVIEW), case("rejected"), Step.REJECT),
        # Its review given, the others' still pending (parallel review): wait for them.
        (progress(S.IN_REVIEW, pending=False), case("done"), None),
        (progress(S.APPROVED, pending=False), case("done"), Step.COMPLETE),
        (progress(S.APPROVED, pending=False), case("approved"), None),
    ],
)  # fmt: skip
def test_next_step(platform: Progress, answer: DepartmentCase, expected: Step | None) -> None:
    assert next_step(platform, answer) == expected


@pytest.mark.parametrize(
    "answer",
    [
        {"number": "HF1", "state": None},  # a state the adapter could not map
        {"number": "HF1", "state": "archived"},
        {"number": "HF1", "state": "need_more"},  # asks for material without naming it
        {"number": "HF1", "state": "done", "licence_no": "X" * 65},
        {"state": "received"},
        "received",
    ],
)
def test_answers_that_cannot_be_trusted_are_refused(answer: object) -> None:
    with pytest.raises(ValueError):
        DepartmentCase.model_validate(answer)


def test_completion_hands_over_what_the_department_gave() -> None:
    assert case("done", licence_no="L1", tracking_number=None).result() == {"licence_no": "L1"}
    assert case("done", opinion="已电话告知").result() == {"note": "已电话告知"}


async def test_only_adapters_with_a_status_operation_are_polled(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, _ = app_client
    services = query_only_services(
        state_of(app).identity.invoker.registry, state_of(app).catalog.snapshot
    )
    assert CODE in services and OTHER_CODE not in services
    assert {s.adapter.id for s in services.values() if s.adapter} == {"traffic_police"}
    assert {s.department.code for s in services.values()} == {OWNER}
