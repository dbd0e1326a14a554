"""Hospital data: hospitals, departments, doctors, appointment slots, reports."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from decimal import Decimal
from typing import Any

from ._core import REFERENCE_DATE, Rng
from .catalogs import CLINICAL_DEPARTMENTS, DOCTOR_TITLES, HOSPITALS, LAB_PANELS, SPECIALITIES
from .people import person_name, random_name

_HOSPITALS: dict[str, dict[str, str]] = {
    h[0]: {
        "hospitalId": h[0],
        "hospitalName": h[1],
        "level": h[2],
        "district": h[3],
        "address": h[4],
        "phone": h[5],
    }
    for h in HOSPITALS
}
_SLOT_TIMES = (
    ("08:00", "09:00"),
    ("09:00", "10:00"),
    ("10:00", "11:00"),
    ("14:00", "15:00"),
    ("15:00", "16:00"),
    ("16:00", "17:00"),
)


def hospitals(district: str | None = None) -> list[dict[str, str]]:
    return [dict(h) for h in _HOSPITALS.values() if district in (None, "", h["district"])]


def hospital(hospital_id: str) -> dict[str, str] | None:
    found = _HOSPITALS.get(hospital_id)
    return dict(found) if found else None


def departments(hospital_id: str) -> list[dict[str, str]] | None:
    """A hospital's clinical departments, or None for an unknown hospital."""
    if hospital_id not in _HOSPITALS:
        return None
    indexes = sorted(Rng("departments", hospital_id).sample(range(len(CLINICAL_DEPARTMENTS)), 9))
    return [
        {"deptId": f"{hospital_id}D{i + 1:02d}", "deptName": CLINICAL_DEPARTMENTS[i]}
        for i in indexes
    ]


def department(dept_id: str) -> dict[str, str] | None:
    """One department with its hospital's id and name, or None if it does not exist."""
    for dept in departments(dept_id[:4]) or ():
        if dept["deptId"] == dept_id:
            h = _HOSPITALS[dept_id[:4]]
            return {**dept, "hospitalId": h["hospitalId"], "hospitalName": h["hospitalName"]}
    return None


def doctors(dept_id: str) -> list[dict[str, str]] | None:
    """Doctors of a department, or None for an unknown department."""
    if department(dept_id) is None:
        return None
    rng = Rng("doctors", dept_id)
    return [
        {
            "doctorId": f"{dept_id}P{n}",
            "doctorName": random_name(rng),
            "title": DOCTOR_TITLES[min(n - 1, 2)] if n <= 3 else rng.choice(DOCTOR_TITLES),
            "speciality": rng.choice(SPECIALITIES),
        }
        for n in range(1, rng.randint(3, 5) + 1)
    ]


def slots(dept_id: str, day: date) -> list[dict[str, Any]] | None:
    """Bookable slots of a department on a day, before any booking; None if unknown.

    Every day with slots has at least one fully booked slot (remaining 0), so the
    "号源已满" path can always be exercised.
    """
    staff = doctors(dept_id)
    if staff is None:
        return None
    result: list[dict[str, Any]] = []
    weekend = day.weekday() >= 5
    for doc in staff:
        rng = Rng("slots", doc["doctorId"], day.isoformat())
        if not rng.chance(0.3 if weekend else 0.75):
            continue
        times = _SLOT_TIMES[:3] if rng.chance(0.5) else _SLOT_TIMES
        for k, (start, end) in enumerate(times, start=1):
            result.append(
                {
                    "slotId": f"{doc['doctorId']}-{day:%Y%m%d}-{k}",
                    "doctorId": doc["doctorId"],
                    "doctorName": doc["doctorName"],
                    "startTime": start,
                    "endTime": end,
                    "remaining": 0 if rng.chance(0.2) else rng.randint(1, 8),
                }
            )
    if result and all(s["remaining"] for s in result):
        result[-1]["remaining"] = 0
    return result


def slot(slot_id: str) -> dict[str, Any] | None:
    """A slot by id with its date, department and hospital, or None if no such slot."""
    parts = slot_id.split("-")
    if len(parts) != 3:
        return None
    doctor_id, day_text, _ = parts
    try:
        day = datetime.strptime(day_text, "%Y%m%d").date()
    except ValueError:
        return None
    dept = department(doctor_id.split("P")[0])
    if dept is None:
        return None
    for s in slots(dept["deptId"], day) or ():
        if s["slotId"] == slot_id:
            return {**s, "date": day.isoformat(), **dept}
    return None


def past_appointments(id_no: str) -> list[dict[str, Any]]:
    """0–2 visits already made, listed with the bookings a server keeps in memory."""
    rng = Rng("past-appointments", id_no)
    result = []
    for n in range(rng.randint(0, 2)):
        h = _HOSPITALS[rng.choice(tuple(_HOSPITALS))]
        dept = rng.choice(departments(h["hospitalId"]) or [])
        doc = rng.choice(doctors(dept["deptId"]) or [])
        start, end = rng.choice(_SLOT_TIMES)
        day = rng.day(date(2024, 1, 1), REFERENCE_DATE - timedelta(days=7))
        result.append(
            {
                "appointmentId": f"GH{day:%Y%m%d}{rng.digits(6)}{n}",
                "status": "COMPLETED",
                "slotId": f"{doc['doctorId']}-{day:%Y%m%d}-1",
                "hospitalId": h["hospitalId"],
                "hospitalName": h["hospitalName"],
                "deptId": dept["deptId"],
                "deptName": dept["deptName"],
                "doctorId": doc["doctorId"],
                "doctorName": doc["doctorName"],
                "date": day.isoformat(),
                "startTime": start,
                "endTime": end,
                "patientIdNo": id_no,
                "patientName": person_name(id_no),
            }
        )
    return sorted(result, key=lambda a: str(a["date"]), reverse=True)


def reports(id_no: str) -> list[dict[str, Any]]:
    """0–3 lab reports with items flagged ↑/↓ against the reference range."""
    rng = Rng("reports", id_no)
    result = []
    for n in range(rng.randint(0, 3)):
        name, items = rng.choice(LAB_PANELS)
        h = _HOSPITALS[rng.choice(tuple(_HOSPITALS))]
        when = datetime.combine(rng.day(date(2023, 1, 1)), datetime.min.time()) + timedelta(
            minutes=rng.randint(8 * 60, 17 * 60)
        )
        rows = []
        for item, unit, low, high, decimals in items:
            span = high - low
            raw = low - span * 0.15 + rng.random() * span * 1.3
            value = Decimal(str(raw)).quantize(Decimal(1).scaleb(-decimals))
            flag = "↑" if value > Decimal(str(high)) else "↓" if value < Decimal(str(low)) else ""
            rows.append(
                {
                    "name": item,
                    "value": str(value),
                    "unit": unit,
                    "range": f"{low}-{high}",
                    "flag": flag,
                }
            )
        result.append(
            {
                "reportId": f"RPT{when:%Y%m%d}{rng.digits(6)}{n}",
                "reportName": name,
                "hospitalName": h["hospitalName"],
                "reportTime": when.strftime("%Y-%m-%d %H:%M:%S"),
                "items": rows,
            }
        )
    return sorted(result, key=lambda r: str(r["reportTime"]), reverse=True)
