"""The gateway knows the signed-in citizen: level from the token, ID number from the account."""

from __future__ import annotations

import httpx

from integrations.sandbox import SandboxHandle, data
from tests.identity.helpers import bearer, sign_in


async def test_signed_in_citizen_reaches_their_own_records(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    tokens = await sign_in(client, sandbox)
    balance = "/v1/services/hpf-balance-query/invoke"

    too_low = await client.post(balance, json={}, headers=bearer(tokens))
    assert too_low.status_code == 403
    assert too_low.json()["code"] == "ASSURANCE_LEVEL_TOO_LOW"
    assert too_low.json()["required_level"] == 2

    id_number = data.make_id_no(f"gateway-{tokens['phone']}")
    verified = await client.post(
        "/v1/me/real-name",
        json={"name": data.person_name(id_number), "id_number": id_number},
        headers=bearer(tokens),
    )
    assert verified.status_code == 200
    # The level rides in the token: the next token (after a refresh) carries L2.
    refreshed = (
        await client.post("/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]})
    ).json()
    answer = await client.post(balance, json={}, headers=bearer(refreshed))
    assert answer.status_code == 200, answer.text
    expected = data.provident_fund_account(id_number)
    assert answer.json()["data"]["account_no"] == expected["accountNo"]

    overview = await client.get("/v1/me/overview", headers=bearer(refreshed))
    assert overview.status_code == 200
    assert overview.json()["provident_fund"]["data"]["balance"] == expected["balance"]

    await client.post("/v1/auth/logout", headers=bearer(refreshed))
    signed_out = await client.post(balance, json={}, headers=bearer(refreshed))
    assert signed_out.status_code == 401
    assert signed_out.json()["code"] == "TOKEN_INVALID"
