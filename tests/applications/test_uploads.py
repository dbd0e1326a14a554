"""Material uploads: limits, type by content, content-addressed storage, ownership."""

from __future__ import annotations

import hashlib
import uuid
from collections.abc import AsyncIterator

import httpx
from fastapi import FastAPI

from backend.app_state import state_of
from integrations.sandbox import SandboxHandle, data
from tests.applications.test_submit import FORM, SERVICE
from tests.identity.helpers import bearer, sign_in_real_name

PDF = b"%PDF-1.7\n" + b"0" * 2048


async def test_upload_is_stored_once_by_content_and_attached(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    app, client = app_client
    tokens = await sign_in_real_name(client, sandbox, data.make_id_no(f"up-{uuid.uuid4()}"))
    headers = bearer(tokens) | {"Content-Type": "application/pdf"}
    first = await client.post("/v1/uploads", content=PDF, headers=headers)
    second = await client.post("/v1/uploads", content=PDF, headers=headers)
    assert first.status_code == 201, first.text
    sha = hashlib.sha256(PDF).hexdigest()
    assert first.json()["sha256"] == sha == second.json()["sha256"]
    assert first.json()["id"] != second.json()["id"]
    stored = state_of(app).settings.var_dir / "uploads" / sha[:2] / sha
    assert stored.read_bytes() == PDF
    assert not [p for p in stored.parent.parent.iterdir() if p.name.startswith(".upload-")]

    material = next(m.code for m in SERVICE.materials or [] if m.e_license is None)
    submitted = await client.post(
        "/v1/applications",
        json={
            "service_code": SERVICE.code,
            "form": FORM,
            "materials": [{"code": material, "upload_id": first.json()["id"]}],
        },
        headers=bearer(tokens) | {"Idempotency-Key": f"k-{uuid.uuid4()}"},
    )
    assert submitted.status_code == 201, submitted.text
    status = {m["code"]: m for m in submitted.json()["materials"]}
    assert status[material]["satisfied"] and status[material]["source"] == "upload"

    # Someone else's upload cannot be attached.
    other = await sign_in_real_name(client, sandbox, data.make_id_no(f"up2-{uuid.uuid4()}"))
    refused = await client.post(
        "/v1/applications",
        json={
            "service_code": SERVICE.code,
            "form": FORM,
            "materials": [{"code": material, "upload_id": first.json()["id"]}],
        },
        headers=bearer(other) | {"Idempotency-Key": f"k-{uuid.uuid4()}"},
    )
    assert refused.status_code == 422 and refused.json()["code"] == "MATERIAL_INVALID"


async def test_limits_and_types(client: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
    tokens = await sign_in_real_name(client, sandbox, data.make_id_no(f"lim-{uuid.uuid4()}"))
    auth = bearer(tokens)
    wrong_type = await client.post(
        "/v1/uploads",
        content=b"MZ\x90\x00",
        headers=auth | {"Content-Type": "application/x-msdownload"},
    )
    assert wrong_type.status_code == 415
    lying = await client.post(
        "/v1/uploads", content=b"MZ\x90\x00" * 10, headers=auth | {"Content-Type": "image/png"}
    )
    assert lying.status_code == 415 and lying.json()["code"] == "UPLOAD_TYPE_REFUSED"
    empty = await client.post(
        "/v1/uploads", content=b"", headers=auth | {"Content-Type": "image/png"}
    )
    assert empty.status_code == 422

    declared = await client.post(
        "/v1/uploads",
        content=PDF,
        headers=auth | {"Content-Type": "application/pdf", "Content-Length": str(11 * 2**20)},
    )
    assert declared.status_code == 413

    sent = 0

    async def endless() -> AsyncIterator[bytes]:
        nonlocal sent
        chunk = b"%PDF-" + b"x" * (64 * 1024 - 5)
        for _ in range(1000):  # 64 MB if nobody stopped reading
            sent += len(chunk)
            yield chunk

    streamed = await client.post(
        "/v1/uploads", content=endless(), headers=auth | {"Content-Type": "application/pdf"}
    )
    assert streamed.status_code == 413
    assert streamed.json()["code"] == "UPLOAD_TOO_LARGE"
    assert sent < 12 * 2**20  # cut off just past the 10 MB limit, not after 64 MB
