"""The promised-time clock over HTTP: pauses for supplements, lights, estimated years."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from datetime import UTC, date, datetime
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.app_state import state_of
from backend.applications.models import CalendarYear
from backend.clock import travel_to
from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import admin_token, as_department, department_token, submit
from tests.identity.helpers import bearer, sign_in_real_name

SERVICE = "social-security-card-application"  # 10 working days, hf-hrss alone, 1 trip allowed
DEPARTMENT = "hf-hrss"


def at_ten(day: date) -> datetime:
    """10:00 in Hefei on ``day`` (02:00 UTC)."""
    return datetime(day.year, day.month, day.day, 2, 0, tzinfo=UTC)


async def _read(client: httpx.AsyncClient, citizen: dict[str, Any], app_id: str) -> Any:
    response = await client.get(f"/v1/applications/{app_id}", headers=bearer(citizen))
    assert response.status_code == 200, response.text
    return response.json()


async def test_a_supplement_pauses_the_clock_across_national_day(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"clock-{uuid.uuid4()}"))
    dept = as_department(await department_token(app, client, DEPARTMENT))

    # Accepted Monday 21 September 2026: ten working days run to Monday 12 October
    # (Mid-Autumn 25–27 Sep and National Day 1–7 Oct off, Saturday 10 Oct worked).
    with travel_to(at_ten(date(2026, 9, 21))):
        app_id = (await submit(client, citizen, SERVICE))["id"]
        accepted = await client.post(f"/v1/provider/applications/{app_id}/accept", headers=dept)
        body = accepted.json()
    assert (body["due_on"], body["warn_on"], body["light"]) == ("2026-10-12", "2026-10-09", "green")
    assert body["due_estimated"] is False

    # Missing material asked for on Tuesday 29 September; answered Thursday 8 October.
    with travel_to(at_ten(date(2026, 9, 29))):
        asked = await client.post(
            f"/v1/provider/applications/{app_id}/supplement",
            json={"missing": ["一寸证件照"]},
            headers=dept,
        )
        assert asked.json()["paused"] is True
    with travel_to(at_ten(date(2026, 10, 13))):
        # Still paused a fortnight later: the clock shows the day it stopped, not overdue.
        paused = await _read(client, citizen, app_id)
        assert (paused["light"], paused["due_on"]) == ("green", "2026-10-12")
    with travel_to(at_ten(date(2026, 10, 8))):
        answered = await client.post(
            f"/v1/applications/{app_id}/supplements",
            json={"note": "照片已上传"},
            headers=bearer(citizen),
        )
    resumed = answered.json()
    # Ten calendar days paused, but only 30 Sep and 8 Oct were working days: two days on.
    assert resumed["paused"] is False and resumed["paused_working_days"] == 2
    assert (resumed["due_on"], resumed["warn_on"]) == ("2026-10-14", "2026-10-12")

    with travel_to(at_ten(date(2026, 10, 12))):
        assert (await _read(client, citizen, app_id))["light"] == "yellow"
    with travel_to(at_ten(date(2026, 10, 15))):
        assert (await _read(client, citizen, app_id))["light"] == "red"
        await client.post(
            f"/v1/provider/applications/{app_id}/reviews",
            json={"decision": "approve", "opinion": "同意"},
            headers=dept,
        )
        done = await client.post(
            f"/v1/provider/applications/{app_id}/complete",
            json={"licence_no": "SSC-2026-0001"},
            headers=dept,
        )
        assert done.json()["status"] == "completed"
    # Finished late, it stays red: the light of the day it finished.
    assert (await _read(client, citizen, app_id))["light"] == "red"


@pytest.fixture
async def without_2027(app_client: tuple[FastAPI, httpx.AsyncClient]) -> AsyncIterator[None]:
    """2027 unpublished before and after the test (the PostgreSQL database is shared)."""
    app, _ = app_client

    async def forget() -> None:
        async with state_of(app).sessions() as db, db.begin():
            row = await db.get(CalendarYear, 2027)
            if row is not None:
                await db.delete(row)

    await forget()
    yield
    await forget()


async def test_publishing_next_year_replaces_estimated_deadlines(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle, without_2027: None
) -> None:
    app, client = app_client
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"year-{uuid.uuid4()}"))
    dept = as_department(await department_token(app, client, DEPARTMENT))
    admin = as_department(await admin_token(app, client))

    # Accepted Thursday 24 December 2026: the deadline lands in 2027, which has no data yet;
    # the fallback skips New Year's Day and the weekend.
    with travel_to(at_ten(date(2026, 12, 24))):
        app_id = (await submit(client, citizen, SERVICE))["id"]
        estimated = (
            await client.post(f"/v1/provider/applications/{app_id}/accept", headers=dept)
        ).json()
    assert (estimated["due_on"], estimated["due_estimated"]) == ("2027-01-08", True)

    schedule = {
        "holidays": ["2027-01-01", "2027-01-04"],
        "workdays": ["2027-01-09"],
        "source": "国办发明电〔2026〕测试",
    }
    refused = await client.put("/v1/admin/calendar/2027", json=schedule, headers=dept)
    assert refused.status_code == 403 and refused.json()["code"] == "ADMIN_REQUIRED"
    stray = await client.put(
        "/v1/admin/calendar/2027", json=schedule | {"holidays": ["2028-01-01"]}, headers=admin
    )
    assert stray.status_code == 422 and stray.json()["code"] == "CALENDAR_INVALID"

    published = await client.put("/v1/admin/calendar/2027", json=schedule, headers=admin)
    assert published.status_code == 200, published.text
    assert published.json()["rescheduled"] >= 1
    again = (await client.get("/v1/admin/calendar/2027", headers=admin)).json()
    assert again["workdays"] == ["2027-01-09"] and again["source"] == schedule["source"]

    # 4 January off, Saturday 9 January worked: the tenth working day is now the 9th.
    with travel_to(at_ten(date(2026, 12, 28))):
        known = await _read(client, citizen, app_id)
    assert (known["due_on"], known["due_estimated"]) == ("2027-01-09", False)
