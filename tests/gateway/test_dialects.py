"""Every department dialect translated correctly, over real HTTP to the sandbox servers.

Expected values come from the sandbox's own deterministic data functions, so a
mapping that drops, renames or mistranslates a field fails here.
"""

from __future__ import annotations

import uuid

import httpx

from integrations.sandbox import data
from tests.gateway.helpers import citizen, first_department, invoke, service_for


async def test_provident_fund_signed_json(client: httpx.AsyncClient) -> None:
    who = citizen("pf-balance")
    expected = data.provident_fund_account(who)
    code = service_for("provident_fund", "balance").code
    first = await invoke(client, code, who)
    assert first.status_code == 200, first.text
    body = first.json()
    assert body["data"] == {
        "name": expected["name"],
        "account_no": expected["accountNo"],
        "balance": expected["balance"],
        "monthly_deposit": expected["monthlyDeposit"],
        "deposit_base": expected["depositBase"],
        "status": expected["status"],
        "last_deposit_month": expected["lastDepositMonth"],
    }
    assert body["cache"] == "miss"
    assert body["source"]["adapter"] == "provident_fund"
    assert body["fetched_at"].endswith("Z")
    second = (await invoke(client, code, who)).json()
    assert second["cache"] == "hit"
    assert second["data"] == body["data"]
    assert second["fetched_at"] == body["fetched_at"]


async def test_hrss_soap_xml(client: httpx.AsyncClient) -> None:
    who = citizen("hrss-pension")
    expected = data.pension_record(who)
    body = (await invoke(client, service_for("hrss", "pension").code, who)).json()
    assert body["data"] == {
        "name": expected["Name"],
        "account_balance": expected["AccountBalance"],
        "contribution_months": int(expected["ContributionMonths"]),
        "monthly_pension": expected["MonthlyPension"],
        "status": expected["Status"],
    }
    records = (await invoke(client, service_for("hrss", "insurance_records").code, who)).json()
    assert len(records["data"]["records"]) == len(data.insurance_records(who))


async def test_traffic_police_oauth_and_pagination(client: httpx.AsyncClient) -> None:
    # A citizen with more violations than one page holds, so every page must be fetched.
    who = next(
        c for c in (citizen(f"driver-{i}") for i in range(200)) if len(data.violations(c)) > 12
    )
    expected = data.violations(who)
    body = (await invoke(client, service_for("traffic_police", "violations").code, who)).json()
    assert body["data"]["total"] == len(expected)
    assert [v["violation_id"] for v in body["data"]["items"]] == [
        v["violationId"] for v in expected
    ]
    assert body["data"]["items"][0]["plate_no"] == expected[0]["plateNo"]


async def test_traffic_police_gbk_legacy_text(client: httpx.AsyncClient) -> None:
    who = citizen("points")
    expected = data.licence_points(who)
    body = (await invoke(client, service_for("traffic_police", "points").code, who)).json()
    assert body["data"] == {
        "name": expected["XM"],
        "file_no": expected["DABH"],
        "points": int(expected["LJJF"]),
        "status": expected["ZT"],
        "valid_until": expected["YXQZ"],
    }


async def test_education_form_post(client: httpx.AsyncClient) -> None:
    parent, child = citizen("parent"), citizen("child")
    expected = data.enrolment(child, 2026)
    response = await invoke(
        client,
        service_for("education", "enrolment").code,
        parent,
        {"child_id_number": child, "year": 2026},
    )
    assert response.status_code == 200, response.text
    assert response.json()["data"] == {
        "student_name": expected["studentName"],
        "school_name": expected["schoolName"],
        "school_code": expected["schoolCode"],
        "stage": expected["stage"],
        "status": expected["status"],
        "admission_no": expected["admissionNo"],
    }


async def test_e_license_transit_housing(client: httpx.AsyncClient) -> None:
    who = citizen("holder")
    licences = (await invoke(client, service_for("e_license", "licences").code, who)).json()
    assert [lic["licence_no"] for lic in licences["data"]] == [
        lic["licenceNo"] for lic in data.licences(who)
    ]
    assert {"id_card", "household_register"} <= {lic["type"] for lic in licences["data"]}
    cards = (await invoke(client, service_for("transit", "card_balance").code, who)).json()
    assert [c["balance"] for c in cards["data"]] == [c["balance"] for c in data.transit_cards(who)]
    homes = (await invoke(client, service_for("housing_registry", "properties").code, who)).json()
    assert [h["cert_no"] for h in homes["data"]] == [p["certNo"] for p in data.properties(who)]


async def test_hospital_booking_round_trip(client: httpx.AsyncClient) -> None:
    who = citizen(f"patient-{uuid.uuid4()}")  # bookings persist in the sandbox between runs
    department = first_department("H001")
    open_slot = next(
        s for s in data.slots(department, data.REFERENCE_DATE) or [] if s["remaining"] > 0
    )
    booked = await invoke(
        client, service_for("hospital", "book").code, who, {"slot_id": open_slot["slotId"]}
    )
    assert booked.status_code == 200, booked.text
    appointment = booked.json()["data"]
    assert appointment["status"] == "BOOKED"
    assert booked.json()["cache"] == "miss"  # writes are never cached
    mine = (await invoke(client, service_for("hospital", "appointments").code, who)).json()
    assert appointment["appointment_id"] in {a["appointment_id"] for a in mine["data"]}


async def test_public_hospital_list_needs_no_login(client: httpx.AsyncClient) -> None:
    code = service_for("hospital", "hospitals").code
    response = await client.post(f"/v1/services/{code}/invoke", json={})
    assert response.status_code == 200, response.text
    assert [h["hospital_id"] for h in response.json()["data"]] == [
        h["hospitalId"] for h in data.hospitals()
    ]
