"""The full lifecycle through the provider API: one department, and three in parallel."""

from __future__ import annotations

import uuid
from datetime import date

import httpx
from fastapi import FastAPI

from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import as_department, department_token, submit
from tests.gateway.helpers import CATALOG
from tests.identity.helpers import bearer, sign_in_real_name


async def test_one_department_lifecycle_with_a_supplement(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    code = "maternal-health-handbook"
    owner = next(s for s in CATALOG.services if s.code == code).department
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"life-{uuid.uuid4()}"))
    submitted = await submit(client, citizen, code)
    dept = as_department(await department_token(app, client, owner))
    app_id = submitted["id"]

    accepted = await client.post(f"/v1/provider/applications/{app_id}/accept", headers=dept)
    assert accepted.status_code == 200, accepted.text
    body = accepted.json()
    assert body["status"] == "in_review"
    assert date.fromisoformat(body["due_on"]) >= date.today()
    assert body["reviews"] == [{"department": owner, "decision": "pending", "opinion": None}]

    asked = await client.post(
        f"/v1/provider/applications/{app_id}/supplement",
        json={"missing": ["近期体检报告"], "note": "请上传孕早期检查结果"},
        headers=dept,
    )
    assert asked.json()["status"] == "supplement_required"
    answered = await client.post(
        f"/v1/applications/{app_id}/supplements", json={"note": "已补充"}, headers=bearer(citizen)
    )
    assert answered.json()["status"] == "in_review"

    approved = await client.post(
        f"/v1/provider/applications/{app_id}/reviews",
        json={"decision": "approve", "opinion": "材料齐全，同意"},
        headers=dept,
    )
    assert approved.json()["status"] == "approved"
    done = await client.post(
        f"/v1/provider/applications/{app_id}/complete",
        json={"licence_no": "MCH-2026-0001"},
        headers=dept,
    )
    assert done.json()["status"] == "completed"
    seen = (await client.get(f"/v1/applications/{app_id}", headers=bearer(citizen))).json()
    assert [t["to_status"] for t in seen["timeline"]] == [
        "submitted", "accepted", "in_review", "supplement_required", "in_review",
        "in_review", "approved", "completed",
    ]  # fmt: skip
    assert seen["result"] == {"licence_no": "MCH-2026-0001"}
    assert seen["trips"] == 0 and seen["trips_over_allowance"] is False


async def test_three_departments_review_in_parallel(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    code = "new-home-transfer-registration"
    service = next(s for s in CATALOG.services if s.code == code)
    assert service.review_departments is not None and len(service.review_departments) == 3
    tokens = {
        d: as_department(await department_token(app, client, d)) for d in service.review_departments
    }
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"home-{uuid.uuid4()}"))

    first = await submit(client, citizen, code)
    await client.post(
        f"/v1/provider/applications/{first['id']}/accept", headers=tokens[service.department]
    )
    departments = list(service.review_departments)
    for department in departments[:2]:
        step = await client.post(
            f"/v1/provider/applications/{first['id']}/reviews",
            json={"decision": "approve", "opinion": f"{department} 同意"},
            headers=tokens[department],
        )
        assert step.json()["status"] == "in_review"  # not until every department has approved
    last = await client.post(
        f"/v1/provider/applications/{first['id']}/reviews",
        json={"decision": "approve", "opinion": "同意"},
        headers=tokens[departments[2]],
    )
    assert last.json()["status"] == "approved"
    assert {r["decision"] for r in last.json()["reviews"]} == {"approved"}

    second = await submit(client, citizen, code)
    await client.post(
        f"/v1/provider/applications/{second['id']}/accept", headers=tokens[service.department]
    )
    rejected = await client.post(
        f"/v1/provider/applications/{second['id']}/reviews",
        json={"decision": "reject", "opinion": "契税未缴清"},
        headers=tokens["hf-tax"],
    )
    assert rejected.json()["status"] == "rejected"
    notes = [t["note"] for t in rejected.json()["timeline"]]
    assert "不同意：契税未缴清" in notes
    late = await client.post(
        f"/v1/provider/applications/{second['id']}/reviews",
        json={"decision": "approve", "opinion": "同意"},
        headers=tokens[departments[0]],
    )
    assert late.status_code == 409


async def test_departments_only_touch_their_own_applications(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"own-{uuid.uuid4()}"))
    submitted = await submit(
        client, citizen, "new-home-transfer-registration", delivery={"method": "pickup"}
    )
    unrelated = as_department(await department_token(app, client, "hf-education"))
    reviewer = as_department(await department_token(app, client, "hf-tax"))
    owner = as_department(await department_token(app, client, "hf-natural-resources"))
    path = f"/v1/provider/applications/{submitted['id']}"
    assert (await client.post(f"{path}/accept", headers=unrelated)).status_code == 404
    not_owner = await client.post(f"{path}/accept", headers=reviewer)
    assert not_owner.status_code == 403 and not_owner.json()["code"] == "NOT_A_REVIEWER"
    citizen_token = await client.post(f"{path}/accept", headers=bearer(citizen))
    assert citizen_token.status_code == 401
    accepted = await client.post(f"{path}/accept", headers=owner)
    assert accepted.status_code == 200
    # An in-person visit on a zero-trip matter is flagged, and pickup counts as a trip.
    await client.post(f"{path}/trips", json={"reason": "核验原件"}, headers=owner)
    for department in ("hf-natural-resources", "hf-housing", "hf-tax"):
        token = owner if department == "hf-natural-resources" else reviewer
        if department == "hf-housing":
            token = as_department(await department_token(app, client, "hf-housing"))
        await client.post(
            f"{path}/reviews", json={"decision": "approve", "opinion": "同意"}, headers=token
        )
    done = await client.post(f"{path}/complete", json={"note": "窗口领取"}, headers=owner)
    assert done.json()["status"] == "completed"
    assert done.json()["trips"] == 2
    assert done.json()["trips_over_allowance"] is True
