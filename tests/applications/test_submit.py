"""Submitting applications: idempotency under concurrency, materials by reference, ownership."""

from __future__ import annotations

import asyncio
import re
import uuid
from typing import Any

import httpx

from integrations.sandbox import SandboxHandle, data
from tests.gateway.helpers import CATALOG
from tests.identity.helpers import bearer, sign_in_real_name

# 孕产妇保健手册: an L2 application whose form is simple and which takes the ID card.
SERVICE = next(s for s in CATALOG.services if s.code == "maternal-health-handbook")
ID_CARD = next(m.code for m in SERVICE.materials or [] if m.e_license == "id_card")
FORM = {
    "last_menstrual_period": "2026-09-01",
    "community_health_centre": "蜀山区三里庵街道社区卫生服务中心",
    "residence_address": "合肥市蜀山区长江西路100号",
}


def _body(**changes: Any) -> dict[str, Any]:
    return {"service_code": SERVICE.code, "form": FORM, "delivery": {"method": "e_license"}} | (
        changes
    )


def _key() -> dict[str, str]:
    return {"Idempotency-Key": f"key-{uuid.uuid4()}"}


async def test_submit_with_an_e_license_material(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    who = data.make_id_no(f"applicant-{uuid.uuid4()}")
    tokens = await sign_in_real_name(client, sandbox, who)
    id_card = next(
        lic["licenceNo"] for lic in data.licences(who) if lic["licenceType"] == "id_card"
    )
    response = await client.post(
        "/v1/applications",
        json=_body(materials=[{"code": ID_CARD, "licence_no": id_card}]),
        headers=bearer(tokens) | _key(),
    )
    assert response.status_code == 201, response.text
    body = response.json()
    assert re.fullmatch(r"HF\d{8}\d{5}", body["number"])
    assert body["status"] == "submitted"
    assert [t["to_status"] for t in body["timeline"]] == ["submitted"]
    satisfied = {m["code"]: m for m in body["materials"]}
    assert satisfied[ID_CARD]["satisfied"] is True and satisfied[ID_CARD]["source"] == "e_license"

    # Another citizen's licence cannot be attached.
    other = data.make_id_no("someone-else")
    theirs = next(
        lic["licenceNo"] for lic in data.licences(other) if lic["licenceType"] == "id_card"
    )
    refused = await client.post(
        "/v1/applications",
        json=_body(materials=[{"code": ID_CARD, "licence_no": theirs}]),
        headers=bearer(tokens) | _key(),
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "MATERIAL_INVALID"


async def test_idempotency_same_body_different_body_and_concurrency(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    tokens = await sign_in_real_name(client, sandbox, data.make_id_no(f"idem-{uuid.uuid4()}"))
    key = _key()
    first = await client.post("/v1/applications", json=_body(), headers=bearer(tokens) | key)
    again = await client.post("/v1/applications", json=_body(), headers=bearer(tokens) | key)
    assert first.status_code == 201 and again.status_code == 200
    assert again.json()["id"] == first.json()["id"]
    changed = await client.post(
        "/v1/applications",
        json=_body(form=FORM | {"residence_address": "别处"}),
        headers=bearer(tokens) | key,
    )
    assert changed.status_code == 422
    assert changed.json()["code"] == "IDEMPOTENCY_KEY_REUSED"

    burst_key = _key()
    responses = await asyncio.gather(
        *(
            client.post("/v1/applications", json=_body(), headers=bearer(tokens) | burst_key)
            for _ in range(10)
        )
    )
    statuses = sorted(r.status_code for r in responses)
    assert statuses.count(201) == 1, statuses
    assert set(statuses) <= {200, 201, 409}
    ids = {r.json()["id"] for r in responses if r.status_code in (200, 201)}
    assert len(ids) == 1
    mine = (await client.get("/v1/applications", headers=bearer(tokens))).json()["items"]
    assert len(mine) == 2  # the first key's application and the burst's one

    missing = await client.post("/v1/applications", json=_body(), headers=bearer(tokens))
    assert missing.status_code == 400
    assert missing.json()["code"] == "IDEMPOTENCY_KEY_REQUIRED"


async def test_client_cannot_set_status_or_number(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    tokens = await sign_in_real_name(client, sandbox, data.make_id_no(f"forge-{uuid.uuid4()}"))
    for field in ({"status": "approved"}, {"number": "HF2026010100001"}, {"applicant_id": "x"}):
        response = await client.post(
            "/v1/applications", json=_body() | field, headers=bearer(tokens) | _key()
        )
        assert response.status_code == 422, field


async def test_ownership_drafts_and_withdrawal(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner = await sign_in_real_name(client, sandbox, data.make_id_no(f"own-{uuid.uuid4()}"))
    other = await sign_in_real_name(client, sandbox, data.make_id_no(f"other-{uuid.uuid4()}"))
    draft = await client.post(
        "/v1/applications",
        json=_body(draft=True, form={"residence_address": "合肥市包河区"}),
        headers=bearer(owner) | _key(),
    )
    assert draft.status_code == 201 and draft.json()["status"] == "draft"
    app_id = draft.json()["id"]

    for method, path in (("GET", ""), ("POST", "/withdraw")):
        response = await client.request(
            method, f"/v1/applications/{app_id}{path}", headers=bearer(other)
        )
        assert response.status_code == 404  # not 403: its existence is not revealed
        assert response.json()["code"] == "APPLICATION_NOT_FOUND"
    assert (await client.get("/v1/applications", headers=bearer(other))).json()["items"] == []

    withdrawn = await client.post(f"/v1/applications/{app_id}/withdraw", headers=bearer(owner))
    assert withdrawn.status_code == 200
    assert withdrawn.json()["status"] == "withdrawn"
    assert [t["to_status"] for t in withdrawn.json()["timeline"]] == ["draft", "withdrawn"]
    twice = await client.post(f"/v1/applications/{app_id}/withdraw", headers=bearer(owner))
    assert twice.status_code == 409
    assert twice.json()["code"] == "ILLEGAL_TRANSITION"


async def test_form_is_checked_against_the_services_schema(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    tokens = await sign_in_real_name(client, sandbox, data.make_id_no(f"form-{uuid.uuid4()}"))
    incomplete = {k: v for k, v in FORM.items() if k != "last_menstrual_period"}
    refused = await client.post(
        "/v1/applications",
        json=_body(form=incomplete | {"favourite_colour": "red"}),
        headers=bearer(tokens) | _key(),
    )
    assert refused.status_code == 422
    problem = refused.json()
    assert problem["code"] == "FORM_INVALID"
    assert {e["type"] for e in problem["errors"]} == {"required", "additionalProperties"}

    # A draft may be incomplete; submitting it needs the whole form.
    draft = await client.post(
        "/v1/applications", json=_body(form=incomplete, draft=True), headers=bearer(tokens) | _key()
    )
    assert draft.status_code == 201
    submit = await client.post(
        f"/v1/applications/{draft.json()['id']}/submit", headers=bearer(tokens)
    )
    assert submit.status_code == 422 and submit.json()["code"] == "FORM_INVALID"

    complete = await client.post(
        "/v1/applications", json=_body(draft=True), headers=bearer(tokens) | _key()
    )
    went_in = await client.post(
        f"/v1/applications/{complete.json()['id']}/submit", headers=bearer(tokens)
    )
    assert went_in.status_code == 200
    assert went_in.json()["status"] == "submitted"
    assert [t["to_status"] for t in went_in.json()["timeline"]] == ["draft", "submitted"]
