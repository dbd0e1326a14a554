"""Signed department callbacks (Standard Webhooks): the provider journeys, pushed instead.

Each test mirrors a journey of test_lifecycle.py with the department's system sending
signed events instead of calling the provider API. The PostgreSQL database is shared by
the whole run, so webhook ids are unique per test and receipts are looked at per
application.
"""

from __future__ import annotations

import asyncio
import base64
import json
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI
from standardwebhooks import Webhook

from backend.app_state import state_of
from backend.applications.models import WebhookSecret
from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import as_department, department_token, submit
from tests.gateway.helpers import CATALOG
from tests.identity.helpers import bearer, sign_in_real_name

NO_SECRET_DEPARTMENT = "hf-disabled-persons"  # no test issues it a secret


def new_id() -> str:
    return f"msg_{uuid.uuid4().hex}"


def event(kind: str, application_id: str, **details: Any) -> bytes:
    body = {"type": f"application.{kind}", "data": {"application_id": application_id, **details}}
    return json.dumps(body, ensure_ascii=False).encode()


def signed(
    secret: str, body: bytes, msg_id: str | None = None, at: datetime | None = None
) -> dict[str, str]:
    msg_id, at = msg_id or new_id(), at or datetime.now(UTC)
    return {
        "webhook-id": msg_id,
        "webhook-timestamp": str(int(at.timestamp())),
        "webhook-signature": Webhook(secret).sign(msg_id, at, body.decode()),
        "content-type": "application/json",
    }


@dataclass
class Pusher:
    """A department system that pushes its decisions as signed callbacks."""

    client: httpx.AsyncClient
    department: str
    token: dict[str, str]
    secret: str

    async def post(self, body: bytes, headers: dict[str, str]) -> httpx.Response:
        return await self.client.post(
            f"/v1/callbacks/{self.department}", content=body, headers=headers
        )

    async def send(
        self, kind: str, application_id: str, msg_id: str | None = None, **details: Any
    ) -> httpx.Response:
        body = event(kind, application_id, **details)
        return await self.post(body, signed(self.secret, body, msg_id))

    async def receipts(self, application_id: str) -> list[dict[str, Any]]:
        listed = await self.client.get("/v1/provider/callbacks", headers=self.token)
        assert listed.status_code == 200, listed.text
        return [r for r in listed.json()["items"] if r["application_id"] == application_id]


async def issue_secret(client: httpx.AsyncClient, token: dict[str, str]) -> str:
    issued = await client.post("/v1/provider/webhook-secret", headers=token)
    assert issued.status_code == 201, issued.text
    return str(issued.json()["secret"])


async def pusher(app: FastAPI, client: httpx.AsyncClient, department: str) -> Pusher:
    token = as_department(await department_token(app, client, department))
    return Pusher(client, department, token, await issue_secret(client, token))


async def seen_by_citizen(
    client: httpx.AsyncClient, citizen: dict[str, Any], application_id: str
) -> dict[str, Any]:
    response = await client.get(f"/v1/applications/{application_id}", headers=bearer(citizen))
    assert response.status_code == 200, response.text
    return dict(response.json())


def applied(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 200, response.text
    assert response.json()["status"] == "applied"
    return dict(response.json()["application"])


async def test_one_department_lifecycle_through_signed_callbacks(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    code = "maternal-health-handbook"
    owner = next(s for s in CATALOG.services if s.code == code).department
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"cb-{uuid.uuid4()}"))
    app_id = (await submit(client, citizen, code))["id"]
    dept = await pusher(app, client, owner)

    accepted = applied(await dept.send("accepted", app_id))
    assert accepted["status"] == "in_review" and accepted["due_on"] is not None
    assert accepted["reviews"] == [{"department": owner, "decision": "pending", "opinion": None}]
    asked = await dept.send(
        "supplement_required", app_id, missing=["近期体检报告"], note="请上传孕早期检查结果"
    )
    assert applied(asked)["status"] == "supplement_required"
    answered = await client.post(
        f"/v1/applications/{app_id}/supplements", json={"note": "已补充"}, headers=bearer(citizen)
    )
    assert answered.json()["status"] == "in_review"
    approved = await dept.send("reviewed", app_id, decision="approve", opinion="材料齐全，同意")
    assert applied(approved)["status"] == "approved"
    done = await dept.send("completed", app_id, licence_no="MCH-2026-0001")
    assert applied(done)["status"] == "completed"

    seen = await seen_by_citizen(client, citizen, app_id)
    assert [t["to_status"] for t in seen["timeline"]] == [
        "submitted", "accepted", "in_review", "supplement_required", "in_review",
        "in_review", "approved", "completed",
    ]  # fmt: skip
    assert seen["result"] == {"licence_no": "MCH-2026-0001"}
    assert seen["trips"] == 0 and seen["trips_over_allowance"] is False
    receipts = await dept.receipts(app_id)
    assert [r["event_type"] for r in receipts] == [
        "application.completed", "application.reviewed",
        "application.supplement_required", "application.accepted",
    ]  # fmt: skip
    assert receipts[0]["outcome"] == "applied, now completed"


async def test_three_departments_review_in_parallel_by_callback(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    code = "new-home-transfer-registration"
    service = next(s for s in CATALOG.services if s.code == code)
    assert service.review_departments is not None and len(service.review_departments) == 3
    departments = list(service.review_departments)
    pushers = {d: await pusher(app, client, d) for d in departments}
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"cbh-{uuid.uuid4()}"))

    first = (await submit(client, citizen, code))["id"]
    applied(await pushers[service.department].send("accepted", first))
    for department in departments[:2]:
        step = await pushers[department].send(
            "reviewed", first, decision="approve", opinion=f"{department} 同意"
        )
        assert applied(step)["status"] == "in_review"  # not until every department approves
    last = applied(
        await pushers[departments[2]].send("reviewed", first, decision="approve", opinion="同意")
    )
    assert last["status"] == "approved"
    assert {r["decision"] for r in last["reviews"]} == {"approved"}

    second = (await submit(client, citizen, code))["id"]
    applied(await pushers[service.department].send("accepted", second))
    rejected = await pushers["hf-tax"].send(
        "reviewed", second, decision="reject", opinion="契税未缴清"
    )
    assert applied(rejected)["status"] == "rejected"
    assert "不同意：契税未缴清" in [t["note"] for t in applied(rejected)["timeline"]]
    late_id = new_id()
    late = await pushers[departments[0]].send(
        "reviewed", second, late_id, decision="approve", opinion="同意"
    )
    assert late.status_code == 409 and late.json()["code"] == "ILLEGAL_TRANSITION"
    assert late_id not in {r["webhook_id"] for r in await pushers[departments[0]].receipts(second)}


async def test_a_replayed_webhook_id_changes_nothing(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"cbr-{uuid.uuid4()}"))
    app_id = (await submit(client, citizen, "maternal-health-handbook"))["id"]
    dept = await pusher(app, client, "hf-health")

    # A failed event leaves no receipt, so once its cause is fixed the same id goes through.
    early_id = new_id()
    early = await dept.send("supplement_required", app_id, early_id, missing=["体检报告"])
    assert early.status_code == 409, early.text
    accept_id = new_id()
    accept_body = event("accepted", app_id)
    accept_headers = signed(dept.secret, accept_body, accept_id)
    applied(await dept.post(accept_body, accept_headers))
    retried = await dept.send("supplement_required", app_id, early_id, missing=["体检报告"])
    assert applied(retried)["status"] == "supplement_required"
    before = await seen_by_citizen(client, citizen, app_id)

    replay = await dept.post(accept_body, accept_headers)
    assert replay.status_code == 200 and replay.json() == {
        "status": "duplicate",
        "application": None,
    }
    # Re-signed later with another body: the id alone decides.
    other = await dept.send("trip", app_id, accept_id, reason="核验原件")
    assert other.json()["status"] == "duplicate"
    # Two deliveries of one id at the same moment: the unique receipt lets one through.
    trip_body = event("trip", app_id, reason="核验原件")
    trip_headers = signed(dept.secret, trip_body)
    racing = await asyncio.gather(*(dept.post(trip_body, trip_headers) for _ in range(2)))
    assert sorted(r.json()["status"] for r in racing) == ["applied", "duplicate"]

    after = await seen_by_citizen(client, citizen, app_id)
    assert after["status"] == before["status"] == "supplement_required"
    assert after["trips"] == 1
    assert after["timeline"][: len(before["timeline"])] == before["timeline"]
    assert len(after["timeline"]) == len(before["timeline"]) + 1  # the one trip
    assert [r["event_type"] for r in await dept.receipts(app_id)] == [
        "application.trip", "application.supplement_required", "application.accepted",
    ]  # fmt: skip


async def test_rejected_callbacks_leave_the_application_untouched(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"cbx-{uuid.uuid4()}"))
    app_id = (await submit(client, citizen, "maternal-health-handbook"))["id"]
    owner = await pusher(app, client, "hf-health")
    stranger = await pusher(app, client, "hf-education")
    before = await seen_by_citizen(client, citizen, app_id)
    body = event("accepted", app_id)
    now = datetime.now(UTC)

    def refused(response: httpx.Response, status: int, problem: str) -> dict[str, Any]:
        assert response.status_code == status, response.text
        assert response.headers["content-type"].startswith("application/problem+json")
        assert response.json()["code"] == problem
        return dict(response.json())

    def unauthenticated(response: httpx.Response, problem: str) -> None:
        assert response.status_code == 401, response.text
        assert response.json()["code"] == problem
        assert response.headers["www-authenticate"].startswith("Standard-Webhooks")

    wrong_secret = "whsec_" + base64.b64encode(b"k" * 32).decode()
    unauthenticated(await owner.post(body, signed(wrong_secret, body)), "WEBHOOK_SIGNATURE_INVALID")
    tampered = event("completed", app_id, note="伪造")
    unauthenticated(
        await owner.post(tampered, signed(owner.secret, body)), "WEBHOOK_SIGNATURE_INVALID"
    )
    for garbage in ("v1,not base64!", "no-comma-here", "v1,a,b", "v2," + "A" * 44):
        headers = signed(owner.secret, body) | {"webhook-signature": garbage}
        unauthenticated(await owner.post(body, headers), "WEBHOOK_SIGNATURE_INVALID")
    for skew in (timedelta(minutes=-10), timedelta(minutes=10)):
        stale = signed(owner.secret, body, at=now + skew)
        unauthenticated(await owner.post(body, stale), "WEBHOOK_TIMESTAMP_STALE")
    for header in ("webhook-id", "webhook-timestamp", "webhook-signature"):
        headers = signed(owner.secret, body)
        del headers[header]
        unauthenticated(await owner.post(body, headers), "WEBHOOK_SIGNATURE_INVALID")
    long_id = signed(owner.secret, body, msg_id="x" * 200)
    unauthenticated(await owner.post(body, long_id), "WEBHOOK_SIGNATURE_INVALID")

    for department in ("hf-nowhere", NO_SECRET_DEPARTMENT):
        unknown = await client.post(
            f"/v1/callbacks/{department}", content=body, headers=signed(owner.secret, body)
        )
        refused(unknown, 404, "CALLBACK_DEPARTMENT_UNKNOWN")
    not_theirs = await stranger.send("accepted", app_id)
    refused(not_theirs, 404, "APPLICATION_NOT_FOUND")
    for shape in (
        b'{"type": "application.accepted", "data": {"application_id": "x"}, "extra": 1}',
        b'{"type": "application.exploded", "data": {"application_id": "x"}}',
        event("reviewed", app_id, decision="maybe", opinion="?"),
        event("completed", app_id),  # no licence, tracking number or note
        b"not json",
    ):
        problem = refused(
            await owner.post(shape, signed(owner.secret, shape)), 422, "VALIDATION_FAILED"
        )
        assert problem["errors"] and problem["errors"][0]["location"][0] == "body"
    english = await owner.post(body, signed(wrong_secret, body) | {"Accept-Language": "en"})
    assert english.json()["title"] == "The callback's signature is not valid"
    huge = event("completed", app_id, note="长" * 30_000)  # ~90 KB of UTF-8
    refused(await owner.post(huge, signed(owner.secret, huge)), 413, "CALLBACK_TOO_LARGE")

    after = await seen_by_citizen(client, citizen, app_id)
    assert (after["status"], after["timeline"]) == (before["status"], before["timeline"])
    assert await owner.receipts(app_id) == [] and await stranger.receipts(app_id) == []


async def test_the_secret_is_write_only_and_rotates(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"cbs-{uuid.uuid4()}"))
    app_id = (await submit(client, citizen, "maternal-health-handbook"))["id"]
    token = as_department(await department_token(app, client, "hf-health"))

    issued = await client.post("/v1/provider/webhook-secret", headers=token)
    assert issued.status_code == 201 and issued.headers["cache-control"] == "no-store"
    old = issued.json()["secret"]
    assert old.startswith("whsec_") and len(base64.b64decode(old[6:])) == 32
    assert datetime.fromisoformat(issued.json()["created_at"])
    assert (await client.get("/v1/provider/webhook-secret", headers=token)).status_code == 405
    assert "get" not in app.openapi()["paths"]["/v1/provider/webhook-secret"]
    listed = await client.get("/v1/provider/callbacks", headers=token)
    assert old not in listed.text and old[6:] not in listed.text
    async with state_of(app).sessions() as db:
        stored = await db.get(WebhookSecret, "hf-health")
    assert stored is not None and old[6:] not in stored.secret_enc
    assert state_of(app).identity.pii.decrypt(stored.secret_enc, field="webhook_secret") == old

    new = await issue_secret(client, token)
    assert new != old
    dept = Pusher(client, "hf-health", token, old)
    stale_secret = await dept.send("accepted", app_id)
    assert stale_secret.status_code == 401
    assert stale_secret.json()["code"] == "WEBHOOK_SIGNATURE_INVALID"
    dept.secret = new
    assert applied(await dept.send("accepted", app_id))["status"] == "in_review"

    nobody = await client.post("/v1/provider/webhook-secret")
    assert nobody.status_code == 401
    as_citizen = await client.post("/v1/provider/webhook-secret", headers=bearer(citizen))
    assert as_citizen.status_code == 401
    assert (await client.get("/v1/provider/callbacks", headers=bearer(citizen))).status_code == 401
