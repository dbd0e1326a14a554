"""好差评: rating a completed application once; poor ratings open a rectification."""

from __future__ import annotations

import uuid
from datetime import date
from typing import Any

import httpx
from fastapi import FastAPI

from backend.clock import travel_to
from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import as_department, department_token, submit
from tests.applications.test_clock import at_ten
from tests.identity.helpers import bearer, sign_in_real_name
from tests.paging import every_item

SERVICE, DEPARTMENT = "skills-upgrade-subsidy", "hf-hrss"


async def _completed(
    client: httpx.AsyncClient, citizen: dict[str, Any], dept: dict[str, str]
) -> str:
    app_id = str((await submit(client, citizen, SERVICE))["id"])
    for step, body in (
        ("accept", None),
        ("reviews", {"decision": "approve", "opinion": "同意"}),
        ("complete", {"licence_no": "SKL-1"}),
    ):
        response = await client.post(
            f"/v1/provider/applications/{app_id}/{step}", json=body, headers=dept
        )
        assert response.status_code == 200, response.text
    return app_id


async def test_a_poor_rating_opens_a_rectification_for_the_department(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"rate-{uuid.uuid4()}"))
    dept = as_department(await department_token(app, client, DEPARTMENT))

    early = str((await submit(client, citizen, SERVICE))["id"])
    too_soon = await client.post(
        f"/v1/applications/{early}/rating", json={"score": 5}, headers=bearer(citizen)
    )
    assert too_soon.status_code == 409 and too_soon.json()["code"] == "NOT_RATABLE"

    # Rated on Friday 25 September 2026 (Mid-Autumn): 15 working days run past National Day
    # to 22 October.
    with travel_to(at_ten(date(2026, 9, 25))):
        app_id = await _completed(client, citizen, dept)
        for score in (0, 6):
            out_of_range = await client.post(
                f"/v1/applications/{app_id}/rating", json={"score": score}, headers=bearer(citizen)
            )
            assert out_of_range.status_code == 422
        stranger = await sign_in_real_name(client, sandbox, data.make_id_no(f"x-{uuid.uuid4()}"))
        not_theirs = await client.post(
            f"/v1/applications/{app_id}/rating", json={"score": 1}, headers=bearer(stranger)
        )
        assert not_theirs.status_code == 404
        rated = await client.post(
            f"/v1/applications/{app_id}/rating",
            json={"score": 2, "comment": "窗口让我多跑了一趟"},
            headers=bearer(citizen),
        )
    assert rated.status_code == 201, rated.text
    again = await client.post(
        f"/v1/applications/{app_id}/rating", json={"score": 5}, headers=bearer(citizen)
    )
    assert again.status_code == 409
    seen = (await client.get(f"/v1/applications/{app_id}", headers=bearer(citizen))).json()
    assert seen["rating"]["score"] == 2

    async def open_item(day: date) -> dict[str, Any]:
        with travel_to(at_ten(day)):
            items = await every_item(
                client, "/v1/provider/rectifications", dept, status="open", page_size=100
            )
        mine = [i for i in items if i["application_id"] == app_id]
        assert len(mine) == 1
        return dict(mine[0])

    item = await open_item(date(2026, 10, 22))
    assert (item["score"], item["comment"], item["due_on"]) == (
        2,
        "窗口让我多跑了一趟",
        "2026-10-22",
    )
    assert item["overdue"] is False
    assert (await open_item(date(2026, 10, 23)))["overdue"] is True

    other = as_department(await department_token(app, client, "hf-health"))
    theirs = await every_item(client, "/v1/provider/rectifications", other, page_size=100)
    assert item["id"] not in [i["id"] for i in theirs]
    foreign = await client.post(
        f"/v1/provider/rectifications/{item['id']}/resolve",
        json={"resolution": "x"},
        headers=other,
    )
    assert foreign.status_code == 404

    resolved = await client.post(
        f"/v1/provider/rectifications/{item['id']}/resolve",
        json={"resolution": "已约谈窗口人员，推行材料免提交"},
        headers=dept,
    )
    assert resolved.status_code == 200
    assert (resolved.json()["status"], resolved.json()["overdue"]) == ("resolved", False)
    twice = await client.post(
        f"/v1/provider/rectifications/{item['id']}/resolve",
        json={"resolution": "再次"},
        headers=dept,
    )
    assert twice.status_code == 409 and twice.json()["code"] == "RECTIFICATION_CLOSED"


async def test_a_good_rating_opens_nothing(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"good-{uuid.uuid4()}"))
    dept = as_department(await department_token(app, client, DEPARTMENT))
    app_id = await _completed(client, citizen, dept)
    rated = await client.post(
        f"/v1/applications/{app_id}/rating", json={"score": 4}, headers=bearer(citizen)
    )
    assert rated.status_code == 201
    items = await every_item(client, "/v1/provider/rectifications", dept, page_size=100)
    assert app_id not in [i["application_id"] for i in items]
