"""hrss (SOAP/XML) and education (form posts)."""

from __future__ import annotations

import json
from xml.etree import ElementTree

import aiohttp

from integrations.sandbox import AsyncSandbox, data

from .helpers import find_id, soap

CITIZEN = "340104199001011234"
XML_HEADERS = {"Content-Type": "text/xml; charset=utf-8"}


def _response(xml: bytes, operation: str) -> ElementTree.Element:
    root = ElementTree.fromstring(xml)
    found = root.find(f".//{operation}Response")
    assert found is not None
    return found


async def _call(
    http: aiohttp.ClientSession, url: str, operation: str, params: dict[str, str], **kw: str
) -> tuple[int, bytes]:
    body = soap(operation, params, **kw)
    async with http.post(url, data=body.encode(), headers=XML_HEADERS) as resp:
        assert resp.headers["Content-Type"] == "text/xml; charset=utf-8"
        return resp.status, await resp.read()


async def test_hrss_pension_and_records(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    url = sandbox.urls["hrss"] + "/services/SiService"
    status, xml = await _call(http, url, "QueryPension", {"IdNo": CITIZEN})
    assert status == 200
    resp = _response(xml, "QueryPension")
    assert resp.findtext("RetCode") == "0000" and resp.findtext("RetMsg") == "成功"
    record = resp.find("Data")
    assert record is not None
    fields = {child.tag: child.text or "" for child in record}
    assert fields == data.pension_record(CITIZEN)

    _, xml = await _call(http, url, "QueryInsuranceRecords", {"IdNo": CITIZEN, "Year": "2025"})
    items = _response(xml, "QueryInsuranceRecords").findall("Data/Records/Item")
    expected = data.insurance_records(CITIZEN, 2025)
    assert len(items) == len(expected) > 0
    assert [{c.tag: c.text for c in item} for item in items] == expected


async def test_hrss_errors(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    url = sandbox.urls["hrss"] + "/services/SiService"
    status, xml = await _call(http, url, "QueryPension", {"IdNo": CITIZEN}, app_key="wrong")
    assert status == 200 and _response(xml, "QueryPension").findtext("RetCode") == "9001"
    _, xml = await _call(http, url, "QueryPension", {"IdNo": "12345"})
    assert _response(xml, "QueryPension").findtext("RetCode") == "2001"
    status, xml = await _call(http, url, "DropTables", {"IdNo": CITIZEN})
    assert status == 500
    assert b"soap:Fault" in xml and "DropTables" in xml.decode()
    async with http.post(url, data=b"<not-xml", headers=XML_HEADERS) as resp:
        assert resp.status == 500


async def test_hrss_pay_a_bill_once(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    url = sandbox.urls["hrss"] + "/services/SiService"
    payer = find_id(lambda i: bool(data.payables(i)), "payer")
    bill = data.payables(payer)[0]["BillNo"]
    _, xml = await _call(http, url, "QueryPayables", {"IdNo": payer})
    listed = _response(xml, "QueryPayables").findall("Data/Payables/Item")
    assert [i.findtext("BillNo") for i in listed] == [b["BillNo"] for b in data.payables(payer)]

    _, xml = await _call(http, url, "Pay", {"IdNo": payer, "BillNo": bill})
    paid = _response(xml, "Pay")
    assert paid.findtext("RetCode") == "0000" and paid.findtext("Data/Status") == "PAID"
    assert paid.findtext("Data/PaymentNo")
    _, xml = await _call(http, url, "QueryPayables", {"IdNo": payer})
    left = _response(xml, "QueryPayables").findall("Data/Payables/Item")
    assert bill not in [i.findtext("BillNo") for i in left]
    _, xml = await _call(http, url, "Pay", {"IdNo": payer, "BillNo": "SB-NOPE"})
    assert _response(xml, "Pay").findtext("RetCode") == "3004"

    form = json.dumps({"reason": "退休"}, ensure_ascii=False)
    params = {"IdNo": payer, "ApplicationType": "退休申请", "Form": form}
    _, xml = await _call(http, url, "SubmitApplication", params)
    assert _response(xml, "SubmitApplication").findtext("Data/ReceiptNo")
    stats = await (await http.get(sandbox.urls["hrss"] + "/__sandbox/stats")).json()
    assert stats["requests"] == {"POST /services/SiService": 5}
    assert stats["counters"] == {"QueryPayables": 2, "Pay": 2, "SubmitApplication": 1}


async def test_education_form_posts(sandbox: AsyncSandbox, http: aiohttp.ClientSession) -> None:
    base = sandbox.urls["education"] + "/edu"
    child = data.make_id_no("child", birth=data.REFERENCE_DATE.replace(year=2019))
    async with http.post(f"{base}/enrolment.action", data={"sfzh": child, "year": "2026"}) as resp:
        assert (await resp.json())["status"] == "fail"
    form = {"appkey": "sandbox-edu-key", "sfzh": child, "year": "2026"}
    async with http.post(f"{base}/enrolment.action", data=form) as resp:
        assert await resp.json() == {"status": "success", "result": data.enrolment(child, 2026)}
    exam = {**form, "exam": "zhongkao"}
    async with http.post(f"{base}/exam.action", data=exam) as resp:
        result = (await resp.json())["result"]
    assert result == data.exam_result(child, "zhongkao", 2026)
    assert result["total"] == sum(s["score"] for s in result["subjects"])
    schools = {"appkey": "sandbox-edu-key", "district": "340104", "stage": "junior"}
    async with http.post(f"{base}/schools.action", data=schools) as resp:
        listed = (await resp.json())["result"]["list"]
    assert listed == data.schools("340104", "junior") and listed
    bad = {**form, "sfzh": "123"}
    async with http.post(f"{base}/exam.action", data=bad) as resp:
        assert await resp.json() == {"status": "fail", "errmsg": "身份证号码格式错误"}
    apply = {**form, "applicationType": "转学", "form": json.dumps({"to": "XX340104001"})}
    async with http.post(f"{base}/apply.action", data=apply) as resp:
        assert (await resp.json())["result"]["receiptNo"].startswith("JY")
