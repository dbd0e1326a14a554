"""Departments with an API key header: auth refused and accepted, reads match data.py."""

from __future__ import annotations

import base64
import re

import aiohttp
import pytest

from integrations.sandbox import AsyncSandbox, data

from .helpers import api_key

CITIZEN = "340104199001011234"

# (department, a GET path that needs the key, the refusal body)
PROTECTED = [
    ("hospital", "/api/v2/hospitals", {"code": 401, "message": "invalid api key"}),
    ("e_license", f"/license/api/v1/holders/{CITIZEN}/licences", None),
    ("transit", "/transit/v1/routes", None),
    ("housing_registry", f"/housing/api/properties?idNo={CITIZEN}", None),
]


@pytest.mark.parametrize(("department", "path", "refusal"), PROTECTED)
async def test_api_key_is_required(
    sandbox: AsyncSandbox,
    http: aiohttp.ClientSession,
    department: str,
    path: str,
    refusal: dict[str, object] | None,
) -> None:
    url = sandbox.urls[department] + path
    for headers in ({}, {"X-Api-Key": "wrong"}):
        async with http.get(url, headers=headers) as resp:
            assert resp.status == 401
            body = await resp.json()
            if refusal is not None:
                assert body == refusal
    async with http.get(url, headers=api_key(department)) as resp:
        assert resp.status == 200


@pytest.mark.parametrize("department", ["identity_check", "sms"])
async def test_api_key_is_required_on_posts(
    sandbox: AsyncSandbox, http: aiohttp.ClientSession, department: str
) -> None:
    path = "/idcheck/v1/verify" if department == "identity_check" else "/sms/v1/send"
    async with http.post(sandbox.urls[department] + path, json={}) as resp:
        assert resp.status == 401


async def test_hospital_reads(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    base, headers = sandbox.urls["hospital"], api_key("hospital")
    async with http.get(f"{base}/api/v2/hospitals?district=340104", headers=headers) as resp:
        body = await resp.json()
    assert body == {"code": 0, "message": "ok", "data": data.hospitals("340104")}
    assert {h["district"] for h in body["data"]} == {"340104"}
    async with http.get(f"{base}/api/v2/hospitals", headers=headers) as resp:
        assert len((await resp.json())["data"]) >= 12
    async with http.get(f"{base}/api/v2/hospitals/H999/departments", headers=headers) as resp:
        assert resp.status == 200
        assert (await resp.json())["code"] == 4004
    async with http.get(f"{base}/api/v2/reports?patientIdNo={CITIZEN}", headers=headers) as resp:
        assert (await resp.json())["data"] == data.reports(CITIZEN)
    async with http.get(f"{base}/api/v2/reports?patientIdNo=123", headers=headers) as resp:
        assert (await resp.json())["code"] == 4001


async def test_identity_check(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    url, headers = sandbox.urls["identity_check"] + "/idcheck/v1", api_key("identity_check")
    citizen = data.make_id_no("identity")
    cases = [
        ({"name": data.person_name(citizen), "idNumber": citizen}, "00", True),
        ({"name": "无此人", "idNumber": citizen}, "01", False),
        (
            {"name": "张三", "idNumber": citizen[:17] + ("0" if citizen[17] != "0" else "1")},
            "02",
            False,
        ),
    ]
    for payload, code, match in cases:
        async with http.post(url + "/verify", json=payload, headers=headers) as resp:
            assert await resp.json() == {"resultCode": code, "match": match}
    image = base64.b64encode(b"\xff\xd8\xff\xe0 fake jpeg").decode()
    async with http.post(
        url + "/face", json={"idNumber": citizen, "image": image}, headers=headers
    ) as resp:
        assert await resp.json() == {"resultCode": "00", "similarity": 0.97}
    async with http.post(
        url + "/face", json={"idNumber": citizen, "image": ""}, headers=headers
    ) as resp:
        assert (await resp.json())["resultCode"] == "03"


async def test_e_license(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    base, headers = sandbox.urls["e_license"], api_key("e_license")
    async with http.get(
        f"{base}/license/api/v1/holders/{CITIZEN}/licences", headers=headers
    ) as resp:
        body = await resp.json()
    assert body == {"success": True, "licences": data.licences(CITIZEN, base)}
    url = f"{base}/license/api/v1/holders/{CITIZEN}/licences?type=id_card"
    async with http.get(url, headers=headers) as resp:
        only = (await resp.json())["licences"]
    assert [lic["licenceType"] for lic in only] == ["id_card"]
    number = only[0]["licenceNo"]
    async with http.get(f"{base}/license/api/v1/licences/{number}", headers=headers) as resp:
        assert (await resp.json()) == {"success": True, "licence": only[0]}
    async with http.get(only[0]["fileUrl"], headers=headers) as resp:
        assert resp.content_type == "application/pdf"
    async with http.get(f"{base}/license/api/v1/licences/SFZ000", headers=headers) as resp:
        assert resp.status == 404
        assert await resp.json() == {"success": False, "error": "not found"}


async def test_transit(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    base, headers = sandbox.urls["transit"], api_key("transit")
    async with http.get(f"{base}/transit/v1/cards?idNo={CITIZEN}", headers=headers) as resp:
        assert await resp.json() == {
            "errcode": 0,
            "errmsg": "ok",
            "data": {"cards": data.transit_cards(CITIZEN)},
        }
    async with http.get(f"{base}/transit/v1/parking?idNo={CITIZEN}", headers=headers) as resp:
        assert (await resp.json())["data"] == {"records": data.parking_records(CITIZEN)}
    async with http.get(
        f"{base}/transit/v1/routes", params={"keyword": "地铁"}, headers=headers
    ) as resp:
        routes = (await resp.json())["data"]["routes"]
    assert routes and all(r["type"] == "地铁" for r in routes)
    assert "地铁1号线" in {r["name"] for r in routes}
    async with http.get(f"{base}/transit/v1/cards?idNo=bad", headers=headers) as resp:
        assert (await resp.json())["errcode"] == 40002


async def test_housing_registry(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    base, headers = sandbox.urls["housing_registry"], api_key("housing_registry")
    owner = "340104199001011234"
    async with http.get(f"{base}/housing/api/properties?idNo={owner}", headers=headers) as resp:
        assert await resp.json() == {"code": "200", "data": {"properties": data.properties(owner)}}
    payload = {"idNo": owner, "applicationType": "抵押登记", "form": {"certNo": "x"}}
    async with http.post(f"{base}/housing/api/applications", json=payload, headers=headers) as resp:
        receipt = (await resp.json())["data"]["receiptNo"]
    assert re.fullmatch(r"BDC20\d{14}", receipt)
    async with http.get(f"{base}/housing/api/properties?idNo=1", headers=headers) as resp:
        assert (await resp.json())["code"] == "400"


async def test_sms_send_and_inbox(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    base, headers = sandbox.urls["sms"], api_key("sms")
    message = {
        "phone": "13912345678",
        "signName": "合肥通",
        "templateCode": "SMS_LOGIN",
        "params": {"code": "123456"},
    }
    async with http.post(f"{base}/sms/v1/send", json=message, headers=headers) as resp:
        sent = await resp.json()
    assert sent["code"] == "OK" and sent["bizId"]
    second = {**message, "phone": "18600001111", "params": {"code": "654321"}}
    async with http.post(f"{base}/sms/v1/send", json=second, headers=headers) as resp:
        assert (await resp.json())["code"] == "OK"
    bad = {**message, "phone": "12345678901"}
    async with http.post(f"{base}/sms/v1/send", json=bad, headers=headers) as resp:
        assert (await resp.json())["code"] == "isv.MOBILE_NUMBER_ILLEGAL"

    async with http.get(f"{base}/__sandbox/sms/inbox") as resp:
        inbox = (await resp.json())["messages"]
    assert [m["phone"] for m in inbox] == ["18600001111", "13912345678"]  # newest first
    async with http.get(f"{base}/__sandbox/sms/inbox?phone=13912345678") as resp:
        (only,) = (await resp.json())["messages"]
    assert only["text"] == "【合肥通】您的验证码为123456，5分钟内有效。"
    assert only["params"] == {"code": "123456"} and only["templateCode"] == "SMS_LOGIN"
    async with http.delete(f"{base}/__sandbox/sms/inbox") as resp:
        assert resp.status == 200
    async with http.get(f"{base}/__sandbox/sms/inbox") as resp:
        assert (await resp.json())["messages"] == []
