"""Enterprises: legal representative proved by the e-license library, agents, acting for one."""

from __future__ import annotations

import httpx
import jwt

from integrations.identifiers import credit_code_check_char
from integrations.sandbox import SandboxHandle, data
from tests.identity.helpers import bearer, make_agent, sign_in, sign_in_real_name


def _owner_id_number() -> str:
    """A citizen who holds a business licence in the sandbox e-license library."""
    return next(
        who
        for who in (data.make_id_no(f"owner-{i}") for i in range(400))
        if any(lic["licenceType"] == "business_licence" for lic in data.licences(who))
    )


async def test_legal_representative_agent_and_acting(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner_id = _owner_id_number()
    company = data.enterprise(owner_id)
    owner = await sign_in_real_name(client, sandbox, owner_id)

    linked = await client.post(
        "/v1/me/enterprises", json={"credit_code": company["creditCode"]}, headers=bearer(owner)
    )
    assert linked.status_code == 201, linked.text
    assert linked.json() == {
        "credit_code": company["creditCode"],
        "name": company["enterpriseName"],
        "role": "legal_representative",
    }

    # Someone else cannot claim the enterprise: their e-license library has no such licence.
    stranger = await sign_in_real_name(client, sandbox, data.make_id_no("stranger-ent"))
    refused = await client.post(
        "/v1/me/enterprises", json={"credit_code": company["creditCode"]}, headers=bearer(stranger)
    )
    assert refused.status_code == 422
    assert refused.json()["code"] == "ENTERPRISE_NOT_VERIFIED"

    # The legal representative invites an agent, who accepts and can then act for it.
    await make_agent(client, owner, stranger, company["creditCode"])
    mine = (await client.get("/v1/me/enterprises", headers=bearer(stranger))).json()["items"]
    assert mine == [
        {"credit_code": company["creditCode"], "name": company["enterpriseName"], "role": "agent"}
    ]
    agent_adds = await client.post(
        f"/v1/me/enterprises/{company['creditCode']}/agents",
        json={"phone": owner["phone"]},
        headers=bearer(stranger),
    )
    assert agent_adds.status_code == 403

    acting = await client.post(
        "/v1/auth/act-as", json={"credit_code": company["creditCode"]}, headers=bearer(stranger)
    )
    assert acting.status_code == 200
    claims = jwt.decode(acting.json()["access_token"], options={"verify_signature": False})
    assert claims["act"] == {"sub": company["creditCode"]}
    back = await client.post(
        "/v1/auth/act-as", json={"credit_code": None}, headers=bearer(acting.json())
    )
    assert "act" not in jwt.decode(back.json()["access_token"], options={"verify_signature": False})

    elsewhere = "91340100MA2N0XY71" + credit_code_check_char("91340100MA2N0XY71")
    unlinked = await client.post(
        "/v1/auth/act-as", json={"credit_code": elsewhere}, headers=bearer(owner)
    )
    assert unlinked.status_code == 404
    assert unlinked.json()["code"] == "ENTERPRISE_NOT_FOUND"


async def test_malformed_credit_code_is_422(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    tokens = await sign_in(client, sandbox)
    valid = "91340100MA2N0XY71" + credit_code_check_char("91340100MA2N0XY71")
    wrong_check = valid[:17] + ("A" if valid[17] != "A" else "B")
    response = await client.post(
        "/v1/me/enterprises", json={"credit_code": wrong_check}, headers=bearer(tokens)
    )
    assert response.status_code == 422
    assert response.json()["errors"][0]["location"] == ["body", "credit_code"]
