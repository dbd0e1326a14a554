"""Oversight statistics agree with the applications they summarise.

A seeded generator walks applications through random lifecycles over the real API on
days in spring 2025 (no other test uses 2025, so the period is this test's alone); the
figures ``/v1/admin/stats`` answers from its running aggregates must equal the ones
recomputed here from each application's own record.
"""

from __future__ import annotations

import random
import uuid
from collections import defaultdict
from datetime import date, datetime, timedelta
from typing import Any

import httpx
from fastapi import FastAPI

from backend.applications.working_days import WorkingCalendar, seed_years
from backend.clock import CHINA, travel_to
from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import admin_token, as_department, department_token, submit
from tests.applications.test_clock import at_ten
from tests.gateway.helpers import CATALOG
from tests.identity.helpers import bearer, sign_in_real_name

SERVICES = {  # all ten working days, one department each, in two domains
    "social-security-card-application": "hf-hrss",
    "skills-upgrade-subsidy": "hf-hrss",
    "medical-insurance-transfer": "hf-medical-security",
}
FATES = (
    "open", "recent", "paused", "resumed", "rejected", "rejected_notified", "completed",
    "completed", "withdrawn",
)  # fmt: skip
START, NOW = date(2025, 3, 3), date(2025, 5, 12)
CALENDAR = WorkingCalendar(seed_years())
CLOCKED = {"accepted", "in_review", "supplement_required", "approved"}


def china_day(stamp: str) -> date:
    return datetime.fromisoformat(stamp).astimezone(CHINA).date()


async def _live(
    client: httpx.AsyncClient,
    citizen: dict[str, Any],
    departments: dict[str, dict[str, str]],
    rng: random.Random,
    fate: str,
) -> str:
    """One application through a random lifecycle, each step on its own (travelled) day."""
    code = rng.choice(sorted(SERVICES))
    dept = departments[SERVICES[code]]
    day = START + timedelta(days=rng.randint(0, 40))
    if fate == "recent":
        # Accepted 24 or 25 April 2025: by NOW (12 May, after the May Day holiday) 9 or 10
        # of the 10 working days are used, so it shows yellow.
        day = NOW - timedelta(days=rng.choice([17, 18]))
    delivery = {"method": rng.choice(["e_license", "pickup"])}

    async def at(offset: int, method: str, path: str, **kwargs: Any) -> None:
        nonlocal day
        day += timedelta(days=offset)
        with travel_to(at_ten(day)):
            response = await client.request(method, path, **kwargs)
        assert response.status_code in (200, 201), response.text

    with travel_to(at_ten(day)):
        app_id = str((await submit(client, citizen, code, delivery=delivery))["id"])
    base = f"/v1/provider/applications/{app_id}"
    if fate == "withdrawn":
        await at(1, "POST", f"/v1/applications/{app_id}/withdraw", headers=bearer(citizen))
        return app_id
    await at(0 if fate == "recent" else rng.randint(0, 2), "POST", f"{base}/accept", headers=dept)
    if fate in ("open", "recent"):
        return app_id
    if fate in ("paused", "resumed"):
        await at(rng.randint(1, 6), "POST", f"{base}/supplement", json={"missing": ["证明"]},
                 headers=dept)  # fmt: skip
        if fate == "paused":
            return app_id
        await at(rng.randint(1, 12), "POST", f"/v1/applications/{app_id}/supplements",
                 json={}, headers=bearer(citizen))  # fmt: skip
        if rng.random() < 0.5:
            return app_id
    decision = "reject" if fate.startswith("rejected") else "approve"
    await at(rng.randint(1, 18), "POST", f"{base}/reviews",
             json={"decision": decision, "opinion": "意见"}, headers=dept)  # fmt: skip
    if fate == "rejected_notified":  # the refusal delivered: completed, counted once
        await at(1, "POST", f"{base}/complete", json={"note": "不予受理通知书已送达"},
                 headers=dept)  # fmt: skip
    if decision == "reject":
        return app_id
    for _ in range(rng.randint(0, 2)):
        await at(0, "POST", f"{base}/trips", json={"reason": "核验原件"}, headers=dept)
    await at(rng.randint(0, 3), "POST", f"{base}/complete", json={"licence_no": "L-1"},
             headers=dept)  # fmt: skip
    if rng.random() < 0.8:
        await at(rng.randint(0, 2), "POST", f"/v1/applications/{app_id}/rating",
                 json={"score": rng.randint(1, 5)}, headers=bearer(citizen))  # fmt: skip
    return app_id


def _expected(records: list[dict[str, Any]], start: date, end: date) -> dict[str, dict[str, Any]]:
    """The figures per service, straight from each application's record."""
    acc: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    for r in records:
        c = acc[r["service_code"]]
        days: dict[str, date] = {}
        for e in r["timeline"]:
            if e["from_status"] != e["to_status"]:  # status changes, not notes
                days.setdefault(e["to_status"], china_day(e["at"]))
        if start <= days["submitted"] <= end:
            c["applications"] += 1
        # Counted when decided: a rejection later completed counts as the rejection.
        outcome = "rejected" if "rejected" in days else "completed"
        decided = days.get(outcome)
        if decided and start <= decided <= end:
            c[outcome] += 1
            c["one_trip"] += outcome == "completed" and r["trips"] <= 1
            c["on_time"] += decided <= date.fromisoformat(r["due_on"])
            used = CALENDAR.working_days_between(days["accepted"], decided)
            c["working_days"] += used - r["paused_working_days"]
        if r["rating"] and start <= china_day(r["rating"]["created_at"]) <= end:
            c[f"rating_{r['rating']['score']}"] += 1
        if r["status"] in CLOCKED:
            judged = days["supplement_required"] if r["paused"] else NOW
            late = judged > date.fromisoformat(r["due_on"])
            c["overdue"] += late
            c["warning"] += not late and judged >= date.fromisoformat(r["warn_on"])
    figures = {}
    for code, c in acc.items():
        finished = c["completed"] + c["rejected"]
        figures[code] = {
            "applications": c["applications"],
            "completed": c["completed"],
            "rejected": c["rejected"],
            "one_trip_share": round(c["one_trip"] / c["completed"], 4) if c["completed"] else None,
            "on_time_share": round(c["on_time"] / finished, 4) if finished else None,
            "avg_working_days": round(c["working_days"] / finished, 2) if finished else None,
            "overdue": c["overdue"],
            "warning": c["warning"],
            "ratings": {str(n): c[f"rating_{n}"] for n in range(1, 6)},
        }
    return figures


async def test_stats_match_a_generated_data_set(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    rng = random.Random(20250303)
    departments = {
        code: as_department(await department_token(app, client, code))
        for code in set(SERVICES.values())
    }
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"stats-{uuid.uuid4()}"))
    fates = rng.sample(FATES * 3, len(FATES) * 3)  # every fate, in a seeded order
    ids = [await _live(client, citizen, departments, rng, fate) for fate in fates]
    with travel_to(at_ten(NOW)):
        records = [
            (await client.get(f"/v1/applications/{i}", headers=bearer(citizen))).json() for i in ids
        ]
    lights = {r["light"] for r in records if r["status"] in CLOCKED}
    assert lights == {"green", "yellow", "red"}  # the data set exercises every light
    statuses = {r["status"] for r in records}
    assert {"completed", "rejected", "in_review", "supplement_required"} <= statuses

    admin = as_department(await admin_token(app, client))
    for start, end in ((START, NOW), (START, START + timedelta(days=20))):
        query = {"from": start.isoformat(), "to": end.isoformat(), "by": "service"}
        with travel_to(at_ten(NOW)):
            answer = await client.get("/v1/admin/stats", params=query, headers=admin)
        assert answer.status_code == 200, answer.text
        body = answer.json()
        expected = _expected(records, start, end)
        got = {g["key"]: {k: v for k, v in g.items() if k not in ("key", "name_zh")}
               for g in body["groups"] if g["key"] in SERVICES}  # fmt: skip
        assert got == expected, (got, expected)
        assert body["total"]["applications"] == sum(e["applications"] for e in expected.values())

    with travel_to(at_ten(NOW)):
        by_domain = await client.get(
            "/v1/admin/stats", params={"from": START.isoformat(), "to": NOW.isoformat()},
            headers=admin,
        )  # fmt: skip
    domains = {g["key"]: g for g in by_domain.json()["groups"]}
    services = {s.code: s for s in CATALOG.services}
    expected = _expected(records, START, NOW)
    for domain in {services[code].domain for code in SERVICES}:
        members = [code for code in SERVICES if services[code].domain == domain]
        assert domains[domain]["applications"] == sum(
            expected[c]["applications"] for c in members if c in expected
        )


async def test_stats_are_for_administrators_only(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    query = {"from": "2025-01-01", "to": "2025-12-31"}
    citizen = await sign_in_real_name(client, sandbox, data.make_id_no(f"nosy-{uuid.uuid4()}"))
    as_citizen = await client.get("/v1/admin/stats", params=query, headers=bearer(citizen))
    assert as_citizen.status_code == 401
    dept = as_department(await department_token(app, client, "hf-hrss"))
    as_dept = await client.get("/v1/admin/stats", params=query, headers=dept)
    assert as_dept.status_code == 403 and as_dept.json()["code"] == "ADMIN_REQUIRED"
    admin = as_department(await admin_token(app, client))
    backwards = await client.get(
        "/v1/admin/stats", params={"from": "2025-12-31", "to": "2025-01-01"}, headers=admin
    )
    assert backwards.status_code == 422 and backwards.json()["code"] == "PERIOD_INVALID"
    wrong_by = await client.get("/v1/admin/stats", params=query | {"by": "city"}, headers=admin)
    assert wrong_by.status_code == 422
