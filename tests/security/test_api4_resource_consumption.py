"""OWASP API Security Top 10 (2023), API4: Unrestricted Resource Consumption.

What one caller can make the server hold or do: request bodies capped before they are read
(declared or streamed, the invoke fast path included, uploads with their own 10 MB), page
sizes capped, and a quota of uploads per citizen.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from pathlib import Path

import httpx
import pytest

from integrations.sandbox import SandboxHandle
from tests.conftest import make_settings, running_app
from tests.identity.helpers import bearer, new_phone, sign_in

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
