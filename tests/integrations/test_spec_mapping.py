"""Unit tests of one adapter's request and reply mapping, over httpx.MockTransport.

These check translation only (what goes on the wire, what comes back); the
behaviour against real department servers is tested over real HTTP in
tests/gateway/.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest

from integrations.auth import hmac_signature
from integrations.base import (
    AdapterBadResponse,
    AdapterUnavailable,
    Caller,
    RequestRejected,
)
from integrations.http_adapter import SpecAdapter
from integrations.loader import DEPARTMENTS_DIR
from integrations.spec import SpecError, StrictVariables, load_spec_file, parse_spec
from integrations.transport import HttpxTransport

CALLER = Caller(subject="s1", assurance_level=2, id_number="340104199003072019", name="张三")


def adapter_for(spec_file: str, handler: Callable[[httpx.Request], httpx.Response]) -> SpecAdapter:
    spec = load_spec_file(DEPARTMENTS_DIR / spec_file, {})
    client = httpx.AsyncClient(transport=httpx.MockTransport(handler))
    return SpecAdapter(spec, HttpxTransport(client))


async def test_hmac_signed_read_maps_the_balance() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(
            200,
            json={
                "code": "0000",
                "msg": "success",
                "data": {
                    "name": "张三",
                    "accountNo": "GJJ001",
                    "balance": "12345.67",
                    "monthlyDeposit": "1200.00",
                    "depositBase": "10000.00",
                    "status": "正常缴存",
                    "lastDepositMonth": "2026-10",
                },
            },
        )

    adapter = adapter_for("provident_fund.yaml", handler)
    result = await adapter.call("balance", {}, CALLER, 2.0)
    assert result["balance"] == "12345.67"
    assert result["account_no"] == "GJJ001"
    query = {k: v[0] for k, v in parse_qs(urlsplit(str(seen[0].url)).query).items()}
    assert query["id_no"] == CALLER.id_number
    assert query["app_id"] == "sandbox-gjj"
    assert len(query["nonce"]) >= 8
    assert query["sign"] == hmac_signature(query, "sandbox-gjj-secret")


async def test_business_error_is_a_rejection_and_signature_error_is_operational() -> None:
    replies = iter(
        [
            {"code": "2002", "msg": "提取金额超过账户余额"},
            {"code": "1001", "msg": "签名错误"},
        ]
    )
    adapter = adapter_for("provident_fund.yaml", lambda _: httpx.Response(200, json=next(replies)))
    params = {"reason": "租房", "amount": "99999999.00"}
    with pytest.raises(RequestRejected) as rejected:
        await adapter.call("withdrawal_apply", params, CALLER, 2.0)
    assert rejected.value.message == "提取金额超过账户余额"
    assert rejected.value.upstream_code == "2002"
    with pytest.raises(AdapterUnavailable):
        await adapter.call("withdrawal_apply", params, CALLER, 2.0)


async def test_soap_request_and_xml_reply() -> None:
    bodies: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content.decode())
        xml = (
            '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/"><soap:Body>'
            "<QueryInsuranceRecordsResponse><RetCode>0000</RetCode><RetMsg>成功</RetMsg><Data>"
            "<Records><Item><Month>2026-01</Month><Type>养老保险</Type><Base>8000.00</Base>"
            "<PersonalAmount>640.00</PersonalAmount><EmployerAmount>1280.00</EmployerAmount>"
            "<Employer>合肥某某科技有限公司</Employer></Item></Records></Data>"
            "</QueryInsuranceRecordsResponse></soap:Body></soap:Envelope>"
        )
        return httpx.Response(200, content=xml.encode(), headers={"Content-Type": "text/xml"})

    adapter = adapter_for("hrss.yaml", handler)
    result = await adapter.call("insurance_records", {"year": 2026}, CALLER, 2.0)
    # One <Item> still maps to a list: list_tags keeps "one" and "many" the same shape.
    assert result == {
        "records": [
            {
                "month": "2026-01",
                "type": "养老保险",
                "base": "8000.00",
                "personal_amount": "640.00",
                "employer_amount": "1280.00",
                "employer": "合肥某某科技有限公司",
            }
        ]
    }
    assert "<AppKey>sandbox-hrss-key</AppKey>" in bodies[0]
    assert f"<IdNo>{CALLER.id_number}</IdNo><Year>2026</Year>" in bodies[0]


async def test_xml_template_escapes_values() -> None:
    bodies: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        bodies.append(request.content.decode())
        return httpx.Response(200, content=b"<x/>", headers={"Content-Type": "text/xml"})

    adapter = adapter_for("hrss.yaml", handler)
    with pytest.raises((AdapterBadResponse, RequestRejected)):
        await adapter.call(
            "employment_registration",
            {"employer": "A&B <公司>", "start_date": "2026-01-01"},
            CALLER,
            2.0,
        )
    assert "<Employer>A&amp;B &lt;公司&gt;</Employer>" in bodies[0]


async def test_gbk_key_value_text() -> None:
    body = (
        "RESULT=0|SFZH=340104199003072019|XM=张三|DABH=340100123456|LJJF=6|ZT=正常|YXQZ=2030-05-01"
    )

    adapter = adapter_for(
        "traffic_police.yaml",
        lambda _: httpx.Response(
            200, content=body.encode("gbk"), headers={"Content-Type": "text/plain; charset=GBK"}
        ),
    )
    result = await adapter.call("points", {}, CALLER, 2.0)
    assert result == {
        "name": "张三",
        "file_no": "340100123456",
        "points": 6,
        "status": "正常",
        "valid_until": "2030-05-01",
    }


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        ("RESULT=0|XM=张三".encode(), "text/plain; charset=GBK"),  # UTF-8 labelled GBK
        (b"RESULT", "text/plain; charset=GBK"),  # not key=value
    ],
)
async def test_unusable_text_replies_are_bad_responses(content: bytes, content_type: str) -> None:
    adapter = adapter_for(
        "traffic_police.yaml",
        lambda _: httpx.Response(200, content=content, headers={"Content-Type": content_type}),
    )
    with pytest.raises(AdapterBadResponse):
        await adapter.call("points", {}, CALLER, 2.0)


@pytest.mark.parametrize(
    ("status", "headers", "error"),
    [
        (302, {"Location": "http://169.254.169.254/"}, AdapterBadResponse),
        (503, {"Retry-After": "7"}, AdapterUnavailable),
        (401, {}, AdapterUnavailable),
    ],
)
async def test_http_statuses(status: int, headers: dict[str, str], error: type[Exception]) -> None:
    adapter = adapter_for(
        "hospital.yaml", lambda _: httpx.Response(status, headers=headers, content=b"<html/>")
    )
    with pytest.raises(error) as raised:
        await adapter.call("hospitals", {}, CALLER, 2.0)
    if status == 503:
        assert raised.value.retry_after == 7.0  # type: ignore[attr-defined]


async def test_missing_identity_is_refused_before_any_call() -> None:
    calls: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        calls.append(request)
        return httpx.Response(200, json={})

    adapter = adapter_for("provident_fund.yaml", handler)
    with pytest.raises(RequestRejected) as rejected:
        await adapter.call("balance", {}, Caller(subject="x", assurance_level=1), 2.0)
    assert rejected.value.upstream_code == "IDENTITY_INCOMPLETE"
    assert calls == []


def _minimal_spec(**overrides: Any) -> dict[str, Any]:
    spec: dict[str, Any] = {
        "id": "demo",
        "name_zh": "演示",
        "name_en": "Demo",
        "base_url": "http://127.0.0.1:9",
        "operations": {
            "read": {
                "summary_zh": "读",
                "summary_en": "Read",
                "method": "GET",
                "path": "/x",
                "result": "data",
            }
        },
    }
    spec.update(overrides)
    return spec


def test_spec_errors_name_path_and_rule() -> None:
    broken = _minimal_spec(base_url="ftp://nowhere", auth={"scheme": "magic"})
    broken["operations"]["read"]["method"] = "FETCH"
    broken["operations"]["read"]["result"] = "data.[["
    with pytest.raises(SpecError) as refused:
        parse_spec(broken, {})
    found = {(p.path, p.rule) for p in refused.value.problems}
    assert ("/base_url", "pattern") in found
    assert ("/auth", "oneOf") in found
    assert ("/operations/read/method", "enum") in found


def test_spec_expression_errors_are_reported() -> None:
    broken = _minimal_spec()
    broken["operations"]["read"]["result"] = "data.[["
    with pytest.raises(SpecError) as refused:
        parse_spec(broken, {})
    assert refused.value.problems[0].rule == "expression"
    assert refused.value.problems[0].path == "/operations/read"


def test_retry_is_refused_for_writes() -> None:
    spec = _minimal_spec()
    spec["operations"]["read"] |= {"method": "POST", "retry": {"attempts": 3}}
    with pytest.raises(SpecError, match="only idempotent operations may be retried"):
        parse_spec(spec, {})


def test_variables_fill_the_spec_and_unset_ones_are_named() -> None:
    spec = _minimal_spec(base_url="${DEMO_URL:-http://127.0.0.1:1}")
    assert parse_spec(spec, {"DEMO_URL": "http://10.1.1.1:8080"}).base_url == "http://10.1.1.1:8080"
    assert parse_spec(spec, {}).base_url == "http://127.0.0.1:1"
    with pytest.raises(SpecError, match="MISSING_URL"):
        parse_spec(_minimal_spec(base_url="${MISSING_URL}"), {})
    # Production refuses the sandbox defaults: every department is configured explicitly.
    with pytest.raises(SpecError, match="DEMO_URL"):
        parse_spec(spec, StrictVariables({}))
    assert parse_spec(spec, StrictVariables({"DEMO_URL": "https://gjj.example"})).base_url == (
        "https://gjj.example"
    )


def test_spec_file_errors_name_the_file(tmp_path: Path) -> None:
    path = tmp_path / "bad.yaml"
    path.write_text(json.dumps(_minimal_spec(id="Bad Id")), encoding="utf-8")
    with pytest.raises(SpecError) as refused:
        load_spec_file(path, {})
    assert str(refused.value).startswith(str(path))
    assert refused.value.problems[0].path == "/id"


@pytest.mark.parametrize(
    "source",
    [
        "code",
        "data.balance",
        "a.b.c",
        "data.{x: x, y: nested.y, z: `5`}",
        "'literal'",
        "missing.deeper",
        "list.field",
        "code == '0000'",
        "data[].x",
        "to_number(n)",
    ],
)
@pytest.mark.parametrize(
    "document",
    [
        {"code": "0000", "data": {"balance": "1.00", "x": 1, "nested": {"y": None}}, "n": "5"},
        {"a": {"b": {"c": [1]}}, "list": [{"field": 1}], "data": [{"x": 1}, {"x": 2}]},
        {"data": None, "code": 0},
        {},
        [],
        None,
    ],
)
def test_compiled_expressions_agree_with_jmespath(source: str, document: Any) -> None:
    import jmespath

    from integrations.expressions import compile_expression, evaluate

    assert evaluate(compile_expression(source), document) == jmespath.search(source, document)
