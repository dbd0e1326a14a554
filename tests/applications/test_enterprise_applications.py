"""Applications made for an enterprise: visible to its linked citizens, and only to them."""

from __future__ import annotations

import uuid

import httpx
from fastapi import FastAPI

from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import submit
from tests.identity.helpers import bearer, make_agent, sign_in_real_name

SERVICE = "entrepreneurship-guaranteed-loan"


def _legal_representative() -> str:
    """A citizen holding a business licence in the sandbox e-license library."""
    return next(
        who
        for who in (data.make_id_no(f"ent-apps-{i}") for i in range(400))
        if any(lic["licenceType"] == "business_licence" for lic in data.licences(who))
    )


async def test_enterprise_applications_are_shared_with_linked_citizens_only(
    app_client: tuple[FastAPI, httpx.AsyncClient], sandbox: SandboxHandle
) -> None:
    _, client = app_client
    owner_id = _legal_representative()
    credit_code = data.enterprise(owner_id)["creditCode"]
    owner = await sign_in_real_name(client, sandbox, owner_id)
    agent = await sign_in_real_name(client, sandbox, data.make_id_no(f"agent-{uuid.uuid4()}"))
    outsider = await sign_in_real_name(client, sandbox, data.make_id_no(f"out-{uuid.uuid4()}"))
    linked = await client.post(
        "/v1/me/enterprises", json={"credit_code": credit_code}, headers=bearer(owner)
    )
    assert linked.status_code == 201, linked.text
    await make_agent(client, owner, agent, credit_code)

    async def acting(tokens: dict[str, str]) -> dict[str, str]:
        response = await client.post(
            "/v1/auth/act-as", json={"credit_code": credit_code}, headers=bearer(tokens)
        )
        assert response.status_code == 200, response.text
        return dict(response.json())

    as_company = await acting(agent)
    made = await submit(client, as_company, SERVICE)
    personal = await submit(client, agent, SERVICE)

    # The owner, acting for the company, sees what the agent filed for it.
    company_list = await client.get("/v1/applications", headers=bearer(await acting(owner)))
    company_ids = [a["id"] for a in company_list.json()["items"]]
    assert made["id"] in company_ids and personal["id"] not in company_ids
    seen = await client.get(f"/v1/applications/{made['id']}", headers=bearer(owner))
    assert seen.status_code == 200
    # The agent's own list, acting for themselves, keeps personal and company matters apart.
    own = (await client.get("/v1/applications", headers=bearer(agent))).json()["items"]
    assert [a["id"] for a in own if a["id"] in (made["id"], personal["id"])] == [personal["id"]]

    # Someone unlinked cannot see or act on it, nor on the agent's personal one.
    for app_id in (made["id"], personal["id"]):
        hidden = await client.get(f"/v1/applications/{app_id}", headers=bearer(outsider))
        assert hidden.status_code == 404
        refused = await client.post(f"/v1/applications/{app_id}/withdraw", headers=bearer(outsider))
        assert refused.status_code == 404
    # The owner sees the company's application but not the agent's personal one.
    assert (
        await client.get(f"/v1/applications/{personal['id']}", headers=bearer(owner))
    ).status_code == 404
