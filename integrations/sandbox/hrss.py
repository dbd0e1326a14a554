"""Human resources & social security bureau: a SOAP-style XML service.

One endpoint, ``POST /services/SiService``; the operation is the first element in
the Body and the AppKey sits in the SOAP Header. Business outcomes are HTTP 200
with a RetCode: 0000 success, 2001 invalid IdNo, 2002 bad or missing parameter,
3004 unknown bill, 3005 bill already paid, 9001 bad AppKey. Unparseable XML or an
unknown operation is an HTTP 500 SOAP Fault, as a SOAP stack would answer.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import date
from typing import Any
from xml.etree.ElementTree import Element, ParseError
from xml.sax.saxutils import escape

from aiohttp import web
from defusedxml import DefusedXmlException
from defusedxml.ElementTree import fromstring

from . import data
from .common import SANDBOX_CREDENTIALS, count, new_app, receipt_no, secret_matches

APP_KEY = SANDBOX_CREDENTIALS["hrss"]["app_key"]
SOAP_NS = "http://schemas.xmlsoap.org/soap/envelope/"
_HEAD = f'<?xml version="1.0" encoding="utf-8"?><soap:Envelope xmlns:soap="{SOAP_NS}"><soap:Body>'
_TAIL = "</soap:Body></soap:Envelope>"

Params = dict[str, str]
Fields = list[tuple[str, Any]]  # element name -> text, or a list of items for a container


class RetError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code, self.message = code, message


@dataclass
class HrssState:
    paid: set[str] = field(default_factory=set)  # BillNo


STATE = web.AppKey("hrss_state", HrssState)


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _child(parent: Element, name: str) -> Element | None:
    return next((c for c in parent if _local(c.tag) == name), None)


def render(fields: Fields) -> str:
    """Serialize Data fields; a list value becomes a container of repeated <Item>."""
    out = []
    for name, value in fields:
        if isinstance(value, list):
            items = "".join(f"<Item>{render(list(item.items()))}</Item>" for item in value)
            out.append(f"<{name}>{items}</{name}>")
        else:
            out.append(f"<{name}>{escape(str(value))}</{name}>")
    return "".join(out)


def envelope(operation: str, code: str, message: str, fields: Fields | None = None) -> web.Response:
    payload = f"<RetCode>{code}</RetCode><RetMsg>{escape(message)}</RetMsg>"
    if fields is not None:
        payload += f"<Data>{render(fields)}</Data>"
    xml = f"{_HEAD}<{operation}Response>{payload}</{operation}Response>{_TAIL}"
    return web.Response(body=xml.encode(), content_type="text/xml", charset="utf-8")


def soap_fault(code: str, message: str) -> web.Response:
    fault = (
        f"<soap:Fault><faultcode>soap:{code}</faultcode>"
        f"<faultstring>{escape(message)}</faultstring></soap:Fault>"
    )
    return web.Response(
        status=500, body=(_HEAD + fault + _TAIL).encode(), content_type="text/xml", charset="utf-8"
    )


def _id(params: Params) -> str:
    id_no = params.get("IdNo", "")
    if not data.is_valid_id_format(id_no):
        raise RetError("2001", "身份证号码格式错误")
    return id_no


def _required(params: Params, name: str) -> str:
    value = params.get(name, "").strip()
    if not value:
        raise RetError("2002", f"缺少参数{name}")
    return value


def query_pension(params: Params, state: HrssState) -> Fields:
    return list(data.pension_record(_id(params)).items())


def query_records(params: Params, state: HrssState) -> Fields:
    id_no, year = _id(params), params.get("Year", "").strip()
    if year and not (year.isdigit() and len(year) == 4):
        raise RetError("2002", "Year格式错误")
    return [("Records", data.insurance_records(id_no, int(year) if year else None))]


def query_balance(params: Params, state: HrssState) -> Fields:
    return list(data.social_security_balance(_id(params)).items())


def query_medical(params: Params, state: HrssState) -> Fields:
    return list(data.medical_insurance_balance(_id(params)).items())


def register_employment(params: Params, state: HrssState) -> Fields:
    _id(params)
    _required(params, "Employer")
    try:
        date.fromisoformat(_required(params, "StartDate"))
    except ValueError:
        raise RetError("2002", "StartDate格式应为YYYY-MM-DD") from None
    return [("RegistrationNo", receipt_no("JYDJ"))]


def query_payables(params: Params, state: HrssState) -> Fields:
    bills = [b for b in data.payables(_id(params)) if b["BillNo"] not in state.paid]
    return [("Payables", bills)]


def pay(params: Params, state: HrssState) -> Fields:
    bill_no = _required(params, "BillNo")
    if bill_no not in {b["BillNo"] for b in data.payables(_id(params))}:
        raise RetError("3004", "账单不存在")
    if bill_no in state.paid:
        raise RetError("3005", "该账单已缴费")
    state.paid.add(bill_no)
    return [("PaymentNo", receipt_no("SBJF")), ("Status", "PAID")]


def submit_application(params: Params, state: HrssState) -> Fields:
    _id(params)
    _required(params, "ApplicationType")
    try:
        form = json.loads(params.get("Form") or "{}")
    except ValueError:
        raise RetError("2002", "Form必须是JSON文本") from None
    if not isinstance(form, dict):
        raise RetError("2002", "Form必须是JSON对象")
    return [("ReceiptNo", receipt_no("RS"))]


OPERATIONS: dict[str, Callable[[Params, HrssState], Fields]] = {
    "QueryPension": query_pension,
    "QueryInsuranceRecords": query_records,
    "QuerySocialSecurityBalance": query_balance,
    "QueryMedicalInsuranceBalance": query_medical,
    "RegisterEmployment": register_employment,
    "QueryPayables": query_payables,
    "Pay": pay,
    "SubmitApplication": submit_application,
}


async def si_service(request: web.Request) -> web.Response:
    try:
        root = fromstring(await request.read())
    except (ParseError, DefusedXmlException):
        return soap_fault("Client", "请求报文不是合法的XML")
    body = _child(root, "Body") if _local(root.tag) == "Envelope" else None
    operation = body[0] if body is not None and len(body) else None
    if operation is None:
        return soap_fault("Client", "缺少SOAP Body或操作元素")
    name = _local(operation.tag)
    handler = OPERATIONS.get(name)
    if handler is None:
        return soap_fault("Client", f"未知操作：{name}")
    count(request, name)
    header = _child(root, "Header")
    key = _child(header, "AppKey") if header is not None else None
    if key is None or not secret_matches((key.text or "").strip(), APP_KEY):
        return envelope(name, "9001", "AppKey无效")
    params = {_local(c.tag): (c.text or "").strip() for c in operation}
    try:
        fields = handler(params, request.app[STATE])
    except RetError as err:
        return envelope(name, err.code, err.message)
    return envelope(name, "0000", "成功", fields)


def create_app() -> web.Application:
    app = new_app("hrss")
    app[STATE] = HrssState()
    app.router.add_post("/services/SiService", si_service)
    return app
