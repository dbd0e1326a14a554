"""OWASP API Security Top 10 (2023), API4: Unrestricted Resource Consumption.

Input bounds: every integer a client can put in a path or a query string is bounded in the
OpenAPI document and refused with a 422 problem outside its bounds (an unbounded one was an
integer overflow in the database, a 500), found by a sweep of the document so that a new
route is covered the day it is added; a forged page cursor carrying a huge number is a 422
too; and a provider's adapter spec is bounded at registration: its expressions in length and
depth (5,000 nested brackets were a RecursionError, a 500), the document in depth.

What one caller can make the server hold or do: request bodies capped before they are read
(declared or streamed, the invoke fast path included, uploads with their own 10 MB), page
sizes capped, and a quota of uploads per citizen.
"""

from __future__ import annotations

import base64
import json
import uuid
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from integrations.expressions import MAX_EXPRESSION_CHARS, MAX_EXPRESSION_DEPTH
from integrations.sandbox import SandboxHandle
from integrations.spec import MAX_SPEC_DEPTH
from tests.conftest import SharedApp, make_settings, running_app
from tests.gateway.helpers import CATALOG, citizen
from tests.identity.helpers import bearer, new_phone, sign_in, sign_in_real_name
from tests.providers.helpers import admin_headers, token_headers, water_spec

# A public address, so no internal exemption is needed; never called (no dry runs here).
PUBLIC_HOST = "202.102.192.68"
BASE_URL = f"http://{PUBLIC_HOST}"
HUGE = 10**23  # the 99999999999999999999999 + 1


async def _provider(app: FastAPI, client: httpx.AsyncClient) -> dict[str, str]:
    created = await client.post(
        "/v1/admin/providers",
        json={"code": f"hf-bounds-{uuid.uuid4().hex[:8]}", "name_zh": "边界测试",
              "name_en": "Bounds test", "allowed_hosts": [PUBLIC_HOST]},
        headers=await admin_headers(app, client),
    )  # fmt: skip
    assert created.status_code == 201, created.text
    credentials = created.json()["client"]
    return await token_headers(client, credentials["client_id"], credentials["client_secret"])


def _is_int(parameter: dict[str, Any]) -> bool:
    schema = parameter.get("schema", {})
    return "integer" in [schema.get("type")] + [s.get("type") for s in schema.get("anyOf", [])]


def _int_parameters(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    """(path, method, parameter) for every integer path, query or header parameter."""
    return [
        (path, method, parameter)
        for path, operations in document["paths"].items()
        for method, operation in operations.items()
        for parameter in operation.get("parameters", [])
        if _is_int(parameter)
    ]


def _bounds(parameter: dict[str, Any]) -> tuple[int | None, int | None]:
    schema = parameter["schema"]
    integer = next((s for s in schema.get("anyOf", []) if s.get("type") == "integer"), schema)
    return integer.get("minimum"), integer.get("maximum")


async def test_every_integer_parameter_of_the_api_is_bounded(
    shared_app: SharedApp, sandbox: SandboxHandle
) -> None:
    app, client = shared_app.app, shared_app.client
    document = app.openapi()
    parameters = _int_parameters(document)
    assert len(parameters) >= 20  # the sweep found the document's parameters
    unbounded = [
        f"{m.upper()} {p} {prm['in']}:{prm['name']}"
        for p, m, prm in parameters
        if None in _bounds(prm)
    ]
    assert not unbounded, f"give these a minimum and a maximum (backend/params.py): {unbounded}"

    # Real callers for each kind of route, so the bound, not a 401, answers.
    provider = await _provider(app, client)
    adapter_id = f"bounds_{uuid.uuid4().hex[:8]}"
    spec = water_spec(adapter_id, BASE_URL)
    registered = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
    assert registered.status_code == 201, registered.text
    admin = await admin_headers(app, client)
    signed_in = bearer(await sign_in_real_name(client, sandbox, citizen(uuid.uuid4().hex)))
    known = {"adapter_id": adapter_id, "code": CATALOG.services[0].code}

    for path, method, parameter in parameters:
        operation = document["paths"][path][method]
        schemes = {name for req in operation.get("security", []) for name in req}
        credentials = (
            signed_in
            if "CitizenToken" in schemes
            else admin
            if path.startswith("/v1/admin/")
            else provider
            if schemes
            else {}
        )
        low, high = _bounds(parameter)
        assert low is not None and high is not None
        for value in (high + 1, low - 1, HUGE):
            url, query, headers = path, {}, dict(credentials)
            for other in operation.get("parameters", []):
                if other["in"] == "path" and other is not parameter:  # valid, or any string
                    filler = _bounds(other)[0] if _is_int(other) else known.get(other["name"], "x")
                    url = url.replace("{" + other["name"] + "}", str(filler))
            place, name = parameter["in"], parameter["name"]
            if place == "path":
                url = url.replace("{" + name + "}", str(value))
            elif place == "query":
                query[name] = str(value)
            else:
                headers[name] = str(value)
            answer = await client.request(method.upper(), url, params=query, headers=headers)
            where = f"{method.upper()} {url} {place}:{name}={value}"
            assert answer.status_code == 422, (where, answer.status_code, answer.text[:300])
            assert answer.headers["content-type"].startswith("application/problem+json"), where
            problem = answer.json()
            assert problem["code"] == "VALIDATION_FAILED", where
            if place != "header":  # invoke's fast path reads its header itself: no location
                located = [e["location"][:2] for e in problem["errors"]]
                assert [place, name] in located, (where, problem)


async def test_a_forged_cursor_with_a_huge_number_is_refused(
    app_client: tuple[FastAPI, httpx.AsyncClient],
) -> None:
    app, client = app_client
    provider = await _provider(app, client)
    adapter_id = f"bounds_{uuid.uuid4().hex[:8]}"
    spec = water_spec(adapter_id, BASE_URL)
    registered = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
    assert registered.status_code == 201, registered.text
    # An adapter's versions page by (time, version number); the cursor is opaque, not sealed.
    for number in (HUGE, 2**63, 2**31, -1):  # 2**63: SQLite overflows; 2**31: PostgreSQL
        raw = json.dumps(["2026-12-01T00:00:00+00:00", number]).encode()
        cursor = base64.urlsafe_b64encode(raw).rstrip(b"=").decode()
        answer = await client.get(
            f"/v1/provider/adapters/{adapter_id}/versions",
            params={"cursor": cursor},
            headers=provider,
        )
        assert answer.status_code == 422, (number, answer.text)
        assert answer.json()["errors"][0]["location"] == ["query", "cursor"]


def _deep(levels: int) -> str:
    return "[" * levels + "]" * levels


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        (_deep(5_000), f"at most {MAX_EXPRESSION_CHARS} are allowed"),  # the case
        ("a" * (MAX_EXPRESSION_CHARS + 1), f"at most {MAX_EXPRESSION_CHARS} are allowed"),
        (_deep(900), f"at most {MAX_EXPRESSION_DEPTH} levels are allowed"),
        ("!" * 300 + "a", f"at most {MAX_EXPRESSION_DEPTH} are allowed"),
        ("a || " * 100 + "b", f"at most {MAX_EXPRESSION_DEPTH} are allowed"),
        ("`" + _deep(600) + "`", f"at most {MAX_EXPRESSION_DEPTH}"),  # a deep JSON literal
    ],
    ids=["5000-brackets", "long", "900-brackets", "300-nots", "100-ors", "deep-literal"],
)
async def test_spec_expressions_are_bounded_in_length_and_depth(
    app_client: tuple[FastAPI, httpx.AsyncClient], result: str, expected: str
) -> None:
    app, client = app_client
    provider = await _provider(app, client)
    spec = water_spec(f"deep_{uuid.uuid4().hex[:8]}", BASE_URL)
    spec["operations"]["bill"]["result"] = result
    refused = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
    assert refused.status_code == 422, refused.text[:300]
    problem = refused.json()
    assert problem["code"] == "ADAPTER_SPEC_INVALID"
    [error] = problem["errors"]
    assert (error["path"], error["rule"]) == ("/operations/bill", "expression")
    assert expected in error["message"]
    assert len(error["message"]) < 300  # an excerpt of the expression, not all of it
    # The same bounds apply to a new version, and nothing was stored either way.
    assert (await client.get("/v1/provider/adapters", headers=provider)).json()["items"] == []


def _nested(levels: int, leaf: Any) -> Any:
    for _ in range(levels):
        leaf = {"type": "object", "properties": {"a": leaf}}
    return leaf


@pytest.mark.parametrize("where", ["params", "secrets", "unknown"])
async def test_a_deeply_nested_spec_is_refused_whole(
    app_client: tuple[FastAPI, httpx.AsyncClient], where: str
) -> None:
    """300 nested objects anywhere in a spec were a RecursionError while it was copied and
    validated (a 500); a spec nesting deeper than any real one is refused first."""
    app, client = app_client
    provider = await _provider(app, client)
    spec = water_spec(f"nested_{uuid.uuid4().hex[:8]}", BASE_URL)
    if where == "params":
        spec["operations"]["bill"]["params"] = _nested(300, {"type": "string"})
    elif where == "secrets":
        spec["secrets"] = {"key": _nested(300, "x")}
    else:
        spec["notes"] = _nested(300, "x")
    refused = await client.post("/v1/provider/adapters", json={"spec": spec}, headers=provider)
    assert refused.status_code == 422, refused.text[:300]
    [error] = refused.json()["errors"]
    assert (error["path"], error["rule"]) == ("/", "depth")
    assert f"at most {MAX_SPEC_DEPTH} are allowed" in error["message"]


# --- request bodies, pages and uploads --------------------------------------------------

CAP = 1_048_576  # HEFEITONG_MAX_BODY_BYTES' default
CHUNK = 64 * 1024
PDF = b"%PDF-1.7\n" + b"0" * 2048
SMS_CODES = "/v1/auth/sms-codes"
INVOKE = "/v1/services/hospital-directory/invoke"  # public: the fast path answers it


def refused_as_too_large(response: httpx.Response, code: str = "BODY_TOO_LARGE") -> None:
    assert response.status_code == 413, response.text
    assert response.headers["content-type"] == "application/problem+json"
    problem = response.json()
    assert problem["code"] == code
    assert problem["request_id"] == response.headers["x-request-id"]


class Stream:
    """A chunked request body of ``total`` bytes that counts what the server pulled."""

    def __init__(self, total: int, first: bytes = b'{"phone": "') -> None:
        self.total, self.first, self.sent = total, first, 0

    async def __aiter__(self) -> AsyncIterator[bytes]:
        chunk = self.first + b"1" * (CHUNK - len(self.first))
        while self.sent < self.total:
            self.sent += len(chunk)
            yield chunk
            chunk = b"1" * CHUNK


@pytest.mark.parametrize("path", [SMS_CODES, INVOKE])
async def test_a_declared_body_over_the_cap_is_refused_unread(
    client: httpx.AsyncClient, path: str
) -> None:
    # The unauthenticated sign-in route once read and parsed 200 MB (7.5 s, +466 MB); the
    # invoke fast path reads its body itself, outside FastAPI. Both refuse on the header.
    response = await client.post(
        path,
        content=b'{"phone": "13900000000"}',
        headers={"Content-Type": "application/json", "Content-Length": str(200 * 2**20)},
    )
    refused_as_too_large(response)
    assert response.json()["max_bytes"] == CAP


@pytest.mark.parametrize("path", [SMS_CODES, INVOKE])
async def test_a_streamed_body_is_cut_off_just_past_the_cap(
    client: httpx.AsyncClient, path: str
) -> None:
    body = Stream(64 * 2**20)  # 64 MB if nobody stopped reading
    response = await client.post(path, content=body, headers={"Content-Type": "application/json"})
    refused_as_too_large(response)
    assert body.sent <= CAP + CHUNK  # the chunk that crossed the cap, and nothing after it


async def test_a_body_just_under_the_cap_is_read_as_usual(client: httpx.AsyncClient) -> None:
    phone = new_phone()
    padded = b'{"phone": "' + phone.encode() + b'"}'
    padded += b" " * (CAP - len(padded))  # JSON allows trailing whitespace
    response = await client.post(
        SMS_CODES, content=padded, headers={"Content-Type": "application/json"}
    )
    assert response.status_code == 202, response.text


async def test_uploads_keep_their_own_ten_megabytes(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    auth = bearer(await sign_in(client, sandbox)) | {"Content-Type": "application/pdf"}
    larger_than_json = PDF + b"0" * (3 * CAP)
    stored = await client.post("/v1/uploads", content=larger_than_json, headers=auth)
    assert stored.status_code == 201, stored.text
    assert stored.json()["size"] == len(larger_than_json)
    # Past 10 MB the upload's own problem, declared or streamed.
    declared = await client.post(
        "/v1/uploads", content=PDF, headers=auth | {"Content-Length": str(10 * 2**20 + 1)}
    )
    refused_as_too_large(declared, "UPLOAD_TOO_LARGE")
    streamed = Stream(64 * 2**20, first=b"%PDF-")
    refused_as_too_large(
        await client.post("/v1/uploads", content=streamed, headers=auth), "UPLOAD_TOO_LARGE"
    )
    assert streamed.sent <= 10 * 2**20 + CHUNK


async def test_the_cap_is_a_setting(tmp_path: Path, sandbox: SandboxHandle) -> None:
    settings = make_settings(tmp_path, None, None, sandbox, max_body_bytes=4096)
    async with running_app(settings) as (_, client):
        small = b'{"phone": "' + new_phone().encode() + b'"}'
        json = {"Content-Type": "application/json"}
        at_cap = small + b" " * (4096 - len(small))
        accepted = await client.post(SMS_CODES, content=at_cap, headers=json)
        assert accepted.status_code == 202, accepted.text
        refused = await client.post(SMS_CODES, content=at_cap + b" ", headers=json)
        refused_as_too_large(refused)
        assert refused.json()["max_bytes"] == 4096
        # The OpenAPI document tells clients the cap of every operation that takes a body.
        operation = (await client.get("/openapi.json")).json()["paths"][SMS_CODES]["post"]
        assert "BODY_TOO_LARGE" in operation["responses"]["413"]["description"]
        assert "4096" in operation["responses"]["413"]["description"]


async def test_a_citizen_has_a_quota_of_uploads(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    # 30 files of 1 MB were once accepted in 0.4 s. The default quota: 10 a minute, 100 a day.
    auth = bearer(await sign_in(client, sandbox)) | {"Content-Type": "application/pdf"}
    for n in range(10):
        accepted = await client.post("/v1/uploads", content=PDF + str(n).encode(), headers=auth)
        assert accepted.status_code == 201, (n, accepted.text)
    refused = await client.post("/v1/uploads", content=PDF, headers=auth)
    assert refused.status_code == 429, refused.text
    assert refused.json()["code"] == "UPLOAD_QUOTA_EXCEEDED"
    assert 1 <= int(refused.headers["retry-after"]) <= 60
    # The quota is the citizen's: another citizen uploads at once.
    other = bearer(await sign_in(client, sandbox)) | {"Content-Type": "application/pdf"}
    assert (await client.post("/v1/uploads", content=PDF, headers=other)).status_code == 201


@pytest.mark.parametrize(
    ("path", "cap"),
    [("/v1/services", 100), ("/v1/applications", 100), ("/v1/me/messages", 100)],
)
async def test_page_sizes_are_capped(
    client: httpx.AsyncClient, sandbox: SandboxHandle, path: str, cap: int
) -> None:
    auth = bearer(await sign_in(client, sandbox))
    allowed = await client.get(path, params={"page_size": cap}, headers=auth)
    assert allowed.status_code == 200, allowed.text
    refused = await client.get(path, params={"page_size": cap + 1}, headers=auth)
    assert refused.status_code == 422
    assert refused.json()["code"] == "VALIDATION_FAILED"
    assert refused.json()["errors"][0]["location"] == ["query", "page_size"]
