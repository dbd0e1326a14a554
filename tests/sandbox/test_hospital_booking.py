"""Hospital booking: slots, booking, full slots, listing and cancelling."""

from __future__ import annotations

import re
from datetime import date
from typing import Any

import aiohttp

from integrations.sandbox import AsyncSandbox, data

from .helpers import api_key

PATIENT = data.make_id_no("patient")
DAY = date(2026, 12, 1)


def _dept_with_slots() -> tuple[str, list[dict[str, Any]]]:
    for hospital in data.hospitals():
        for dept in data.departments(hospital["hospitalId"]) or []:
            slots = data.slots(dept["deptId"], DAY) or []
            if any(s["remaining"] == 1 for s in slots):
                return dept["deptId"], slots
    raise AssertionError("no department with a last free slot")


async def test_book_list_and_cancel(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    base, headers = sandbox.urls["hospital"] + "/api/v2", api_key("hospital")
    dept_id, expected = _dept_with_slots()
    async with http.get(f"{base}/slots?deptId={dept_id}&date={DAY}", headers=headers) as resp:
        assert (await resp.json())["data"] == expected
    doctors = data.doctors(dept_id)
    async with http.get(f"{base}/departments/{dept_id}/doctors", headers=headers) as resp:
        assert (await resp.json())["data"] == doctors

    last_one = next(s for s in expected if s["remaining"] == 1)
    booking = {"slotId": last_one["slotId"], "patientIdNo": PATIENT, "patientName": "王芳"}
    async with http.post(f"{base}/appointments", json=booking, headers=headers) as resp:
        body = await resp.json()
    assert body["code"] == 0
    appointment = body["data"]
    assert appointment["status"] == "BOOKED" and appointment["slotId"] == last_one["slotId"]

    # That was the last place: the slot now shows 0 and a second booking is refused.
    async with http.get(f"{base}/slots?deptId={dept_id}&date={DAY}", headers=headers) as resp:
        now = {s["slotId"]: s["remaining"] for s in (await resp.json())["data"]}
    assert now[last_one["slotId"]] == 0
    other = {**booking, "patientIdNo": data.make_id_no("other")}
    async with http.post(f"{base}/appointments", json=other, headers=headers) as resp:
        assert await resp.json() == {"code": 4009, "message": "号源已满"}

    async with http.get(f"{base}/appointments?patientIdNo={PATIENT}", headers=headers) as resp:
        listed = (await resp.json())["data"]
    assert listed[0] == appointment
    assert listed[1:] == data.past_appointments(PATIENT)

    url = f"{base}/appointments/{appointment['appointmentId']}?patientIdNo={PATIENT}"
    async with http.delete(url, headers=headers) as resp:
        cancelled = (await resp.json())["data"]
    assert cancelled == {"appointmentId": appointment["appointmentId"], "status": "CANCELLED"}
    async with http.delete(
        f"{base}/appointments/GH0?patientIdNo={PATIENT}", headers=headers
    ) as resp:
        assert (await resp.json())["code"] == 4004
    async with http.post(f"{base}/appointments", json=other, headers=headers) as resp:
        assert (await resp.json())["code"] == 0  # the cancelled place is free again


async def test_fully_booked_slot_and_unknown_slot(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession
) -> None:
    base, headers = sandbox.urls["hospital"] + "/api/v2", api_key("hospital")
    _, slots = _dept_with_slots()
    full = next(s for s in slots if s["remaining"] == 0)
    booking = {"slotId": full["slotId"], "patientIdNo": PATIENT, "patientName": "王芳"}
    async with http.post(f"{base}/appointments", json=booking, headers=headers) as resp:
        assert resp.status == 200
        assert await resp.json() == {"code": 4009, "message": "号源已满"}
    unknown = {**booking, "slotId": "H001D01P1-20261201-99"}
    async with http.post(f"{base}/appointments", json=unknown, headers=headers) as resp:
        assert (await resp.json())["code"] == 4004
    bad_id = {**booking, "patientIdNo": "34010419900101"}
    async with http.post(f"{base}/appointments", json=bad_id, headers=headers) as resp:
        assert (await resp.json())["code"] == 4001


async def test_application_receipt(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    url, headers = sandbox.urls["hospital"] + "/api/v2/applications", api_key("hospital")
    payload = {"applicationType": "病历复印", "applicantIdNo": PATIENT, "form": {"copies": 2}}
    async with http.post(url, json=payload, headers=headers) as resp:
        body = (await resp.json())["data"]
    assert body["status"] == "RECEIVED"
    assert re.fullmatch(r"YY20\d{14}", body["receiptNo"])  # YY + date + sequence
