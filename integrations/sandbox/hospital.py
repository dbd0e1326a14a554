"""Hospital booking platform: JSON with an API key header and a ``code`` envelope.

Business errors travel as HTTP 200 with a 4xxx ``code``: 4001 bad request, 4004 not
found, 4009 slot full, 4010 duplicate booking, 4011 appointment cannot be cancelled.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from datetime import date
from typing import Any

from aiohttp import web

from . import data
from .common import (
    SANDBOX_CREDENTIALS,
    api_key_middleware,
    json_response,
    new_app,
    now_text,
    read_json,
    receipt_no,
)

API_KEY = SANDBOX_CREDENTIALS["hospital"]["api_key"]


@dataclass
class HospitalState:
    bookings: dict[str, dict[str, Any]] = field(default_factory=dict)
    taken: Counter[str] = field(default_factory=Counter)  # slotId -> active bookings


STATE = web.AppKey("hospital_state", HospitalState)


def ok(payload: object) -> web.Response:
    return json_response({"code": 0, "message": "ok", "data": payload})


def fail(code: int, message: str) -> web.Response:
    return json_response({"code": code, "message": message})


def _bad_id() -> web.Response:
    return fail(4001, "患者身份证号码格式错误")


async def list_hospitals(request: web.Request) -> web.Response:
    return ok(data.hospitals(request.query.get("district") or None))


async def list_departments(request: web.Request) -> web.Response:
    depts = data.departments(request.match_info["hospitalId"])
    return fail(4004, "医院不存在") if depts is None else ok(depts)


async def list_doctors(request: web.Request) -> web.Response:
    doctors = data.doctors(request.match_info["deptId"])
    return fail(4004, "科室不存在") if doctors is None else ok(doctors)


async def list_slots(request: web.Request) -> web.Response:
    try:
        day = date.fromisoformat(request.query.get("date", ""))
    except ValueError:
        return fail(4001, "日期格式应为YYYY-MM-DD")
    slots = data.slots(request.query.get("deptId", ""), day)
    if slots is None:
        return fail(4004, "科室不存在")
    taken = request.app[STATE].taken
    for s in slots:
        s["remaining"] = max(0, s["remaining"] - taken[s["slotId"]])
    return ok(slots)


async def book(request: web.Request) -> web.Response:
    body = await read_json(request)
    if body is None:
        return fail(4001, "请求体必须是JSON对象")
    id_no, name = body.get("patientIdNo"), body.get("patientName")
    if not data.is_valid_id_format(id_no):
        return _bad_id()
    if not isinstance(name, str) or not name.strip():
        return fail(4001, "患者姓名不能为空")
    slot = data.slot(str(body.get("slotId", "")))
    if slot is None:
        return fail(4004, "号源不存在")
    state = request.app[STATE]
    slot_id = slot["slotId"]
    for booking in state.bookings.values():
        same = booking["slotId"] == slot_id and booking["patientIdNo"] == id_no
        if same and booking["status"] == "BOOKED":
            return fail(4010, "您已预约该号源，请勿重复预约")
    if slot["remaining"] - state.taken[slot_id] <= 0:
        return fail(4009, "号源已满")
    state.taken[slot_id] += 1
    appointment = {
        "appointmentId": receipt_no("GH"),
        "status": "BOOKED",
        "slotId": slot_id,
        "hospitalId": slot["hospitalId"],
        "hospitalName": slot["hospitalName"],
        "deptId": slot["deptId"],
        "deptName": slot["deptName"],
        "doctorId": slot["doctorId"],
        "doctorName": slot["doctorName"],
        "date": slot["date"],
        "startTime": slot["startTime"],
        "endTime": slot["endTime"],
        "patientIdNo": id_no,
        "patientName": name,
        "createdAt": now_text(),
    }
    state.bookings[appointment["appointmentId"]] = appointment
    return ok(appointment)


async def list_appointments(request: web.Request) -> web.Response:
    id_no = request.query.get("patientIdNo", "")
    if not data.is_valid_id_format(id_no):
        return _bad_id()
    booked = [b for b in request.app[STATE].bookings.values() if b["patientIdNo"] == id_no]
    return ok(list(reversed(booked)) + data.past_appointments(id_no))


async def cancel(request: web.Request) -> web.Response:
    id_no = request.query.get("patientIdNo", "")
    if not data.is_valid_id_format(id_no):
        return _bad_id()
    appointment_id = request.match_info["appointmentId"]
    state = request.app[STATE]
    booking = state.bookings.get(appointment_id)
    if booking is None or booking["patientIdNo"] != id_no:
        if any(p["appointmentId"] == appointment_id for p in data.past_appointments(id_no)):
            return fail(4011, "已就诊的预约不能取消")
        return fail(4004, "预约不存在")
    if booking["status"] == "BOOKED":
        booking["status"] = "CANCELLED"
        state.taken[booking["slotId"]] -= 1
    return ok({"appointmentId": appointment_id, "status": booking["status"]})


async def list_reports(request: web.Request) -> web.Response:
    id_no = request.query.get("patientIdNo", "")
    return ok(data.reports(id_no)) if data.is_valid_id_format(id_no) else _bad_id()


async def apply(request: web.Request) -> web.Response:
    body = await read_json(request)
    if body is None:
        return fail(4001, "请求体必须是JSON对象")
    if not data.is_valid_id_format(body.get("applicantIdNo")):
        return _bad_id()
    kind = body.get("applicationType")
    if not isinstance(kind, str) or not kind or not isinstance(body.get("form", {}), dict):
        return fail(4001, "applicationType 或 form 不正确")
    return ok({"receiptNo": receipt_no("YY"), "status": "RECEIVED"})


def create_app() -> web.Application:
    refusal = {"code": 401, "message": "invalid api key"}
    app = new_app("hospital", [api_key_middleware(API_KEY, refusal)])
    app[STATE] = HospitalState()
    app.router.add_get("/api/v2/hospitals", list_hospitals)
    app.router.add_get("/api/v2/hospitals/{hospitalId}/departments", list_departments)
    app.router.add_get("/api/v2/departments/{deptId}/doctors", list_doctors)
    app.router.add_get("/api/v2/slots", list_slots)
    app.router.add_post("/api/v2/appointments", book)
    app.router.add_get("/api/v2/appointments", list_appointments)
    app.router.add_delete("/api/v2/appointments/{appointmentId}", cancel)
    app.router.add_get("/api/v2/reports", list_reports)
    app.router.add_post("/api/v2/applications", apply)
    return app
