"""OWASP API Security Top 10 (2023), API6: unrestricted access to sensitive business flows.

Flows that hurt someone when used as designed but at a volume, or by the wrong party:

- **SMS sign-in codes** (issue 13, finding 6). Asking for codes must slow an attacker down
  without locking the phone's owner out: the limits count per phone *and* requester, back off
  progressively, and a sign-in lifts the daily count; answers stay the same for known and
  unknown phones. These tests run an app with the production policy and move its clock
  (``backend.clock.advance``) instead of sleeping through the waits; each requester is its
  own client address (``httpx.ASGITransport(client=…)``).
- **Enterprise agents** (finding 8). Making someone an enterprise's agent needs their consent
  (an invitation they accept), inviting does not tell whether a phone has an account, agents
  can be removed and can leave, and the legal representative hears of every answer.
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from backend.clock import advance
from integrations.sandbox import SandboxHandle, data
from tests.conftest import BACKENDS, forget_transient_state, make_settings, running_app
from tests.identity.helpers import (
    bearer,
    invitation_to,
    latest_code,
    make_agent,
    new_phone,
    sign_in,
    sign_in_real_name,
)

DAY = 86_400
MINUTE = 60


# --- SMS sign-in codes ----------------------------------------------------------------------


@pytest.fixture(scope="module", params=BACKENDS)
async def sms_app_shared(
    request: pytest.FixtureRequest,
    tmp_path_factory: pytest.TempPathFactory,
    sandbox: SandboxHandle,
) -> AsyncIterator[FastAPI]:
    """An app with the production SMS policy (the shared apps run without the back-off)."""
    tmp_path: Path = tmp_path_factory.mktemp("api6-sms")
    if request.param == "embedded":
        settings = make_settings(tmp_path, None, None, sandbox, sms_backoff_seconds=60.0)
    else:
        settings = make_settings(
            tmp_path,
            request.getfixturevalue("postgres_database"),
            request.getfixturevalue("redis_url"),
            sandbox,
            sms_backoff_seconds=60.0,
        )
    async with running_app(settings) as (app, _):
        yield app


@pytest.fixture
async def sms_app(sms_app_shared: FastAPI) -> FastAPI:
    await forget_transient_state(sms_app_shared)
    return sms_app_shared


@asynccontextmanager
async def client_at(app: FastAPI, address: str) -> AsyncIterator[httpx.AsyncClient]:
    """A client whose requests come from ``address``."""
    transport = httpx.ASGITransport(app=app, client=(address, 50_000))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver") as client:
        yield client


async def ask(client: httpx.AsyncClient, phone: str) -> httpx.Response:
    return await client.post("/v1/auth/sms-codes", json={"phone": phone})


async def sign_in_with_latest(
    client: httpx.AsyncClient, sandbox: SandboxHandle, phone: str
) -> None:
    code = await latest_code(sandbox, phone)
    signed = await client.post("/v1/auth/login/sms", json={"phone": phone, "code": code})
    assert signed.status_code == 200, signed.text


async def test_code_requests_from_other_addresses_do_not_lock_the_owner_out(
    sms_app: FastAPI, sandbox: SandboxHandle
) -> None:
    # Finding 6 as reported: ten requests, one a minute, from ten addresses used the phone's
    # daily cap, and the owner's own request got `Retry-After: 85790`.
    phone = new_phone()
    for minute in range(10):
        with advance(minute * MINUTE):
            async with client_at(sms_app, f"198.51.100.{minute + 1}") as attacker:
                assert (await ask(attacker, phone)).status_code == 202
    with advance(10 * MINUTE):
        async with client_at(sms_app, "203.0.113.7") as owner:
            asked = await ask(owner, phone)
            assert asked.status_code == 202, asked.headers.get("retry-after")
            await sign_in_with_latest(owner, sandbox, phone)


async def test_the_back_off_doubles_for_one_requester_and_a_sign_in_ends_it(
    sms_app: FastAPI, sandbox: SandboxHandle
) -> None:
    phone = new_phone()
    async with client_at(sms_app, "203.0.113.20") as me:
        first = await ask(me, phone)
        assert first.status_code == 202
        assert first.json()["resend_after"] == 60
        early = await ask(me, phone)
        assert early.status_code == 429
        assert early.json()["code"] == "RATE_LIMITED"
        assert early.headers["retry-after"] == "60"
        with advance(MINUTE):
            second = await ask(me, phone)
        assert second.status_code == 202
        assert second.json()["resend_after"] == 120  # twice the first wait
        with advance(MINUTE + 119):
            assert (await ask(me, phone)).headers["retry-after"] == "1"
        with advance(MINUTE + 120):
            third = await ask(me, phone)
            assert third.json()["resend_after"] == 240
            # Signing in ends the series: the next code needs only the first wait.
            await sign_in_with_latest(me, sandbox, phone)
            again = await ask(me, phone)
            assert again.status_code == 202
            assert again.json()["resend_after"] == 60


async def test_one_requester_gets_ten_codes_a_day_until_it_signs_in(
    sms_app: FastAPI, sandbox: SandboxHandle
) -> None:
    async def use_up(client: httpx.AsyncClient, phone: str) -> float:
        """Ten codes, each as soon as the back-off allows; the offset of the tenth."""
        at = 0.0
        for n in range(1, 11):
            with advance(at):
                sent = await ask(client, phone)
                assert sent.status_code == 202, (n, sent.headers.get("retry-after"))
                if n < 10:
                    at += sent.json()["resend_after"]
        return at

    signs_in, waits = new_phone(), new_phone()
    async with client_at(sms_app, "203.0.113.21") as me:
        tenth = await use_up(me, signs_in)
        with advance(tenth + 3_600):
            capped = await ask(me, signs_in)
            assert capped.status_code == 429
            # Until the day that began with the first code is over.
            assert int(capped.headers["retry-after"]) == DAY - tenth - 3_600
        with advance(tenth):
            await sign_in_with_latest(me, sandbox, signs_in)
        with advance(tenth + 3_600):
            assert (await ask(me, signs_in)).status_code == 202

        await use_up(me, waits)
        with advance(DAY - 1):
            assert (await ask(me, waits)).status_code == 429
        with advance(DAY):
            assert (await ask(me, waits)).status_code == 202


async def test_many_addresses_cap_a_phone_but_not_where_its_owner_signed_in(
    sms_app: FastAPI, sandbox: SandboxHandle
) -> None:
    phone = new_phone()
    async with client_at(sms_app, "203.0.113.30") as owner:
        assert (await ask(owner, phone)).status_code == 202
        await sign_in_with_latest(owner, sandbox, phone)
    # Twenty codes a day from addresses that never signed the phone in, then no more...
    for i in range(20):
        async with client_at(sms_app, f"198.51.100.{100 + i}") as attacker:
            assert (await ask(attacker, phone)).status_code == 202
    async with client_at(sms_app, "198.51.100.200") as attacker:
        flooded = await ask(attacker, phone)
        assert flooded.status_code == 429
        assert int(flooded.headers["retry-after"]) > 3_600
    # ...but the address the owner signed in from is not held back by them,
    async with client_at(sms_app, "203.0.113.30") as owner:
        assert (await ask(owner, phone)).status_code == 202
        await sign_in_with_latest(owner, sandbox, phone)
    # and the owner's sign-in ends the day's count.
    async with client_at(sms_app, "198.51.100.200") as newcomer:
        assert (await ask(newcomer, phone)).status_code == 202


async def test_an_ipv6_requester_counts_by_its_64_network(sms_app: FastAPI) -> None:
    phone = new_phone()
    async with client_at(sms_app, "2001:db8:1:2::1") as one:
        assert (await ask(one, phone)).status_code == 202
    async with client_at(sms_app, "2001:db8:1:2:ffff:ffff:ffff:fffe") as same_network:
        assert (await ask(same_network, phone)).status_code == 429
    async with client_at(sms_app, "2001:db8:1:3::1") as other_network:
        assert (await ask(other_network, phone)).status_code == 202


async def test_the_limits_answer_alike_for_known_and_unknown_phones(
    sms_app: FastAPI, sandbox: SandboxHandle
) -> None:
    # A guard, not a regression: the limits read the phone's and requester's history only.
    known = new_phone()
    async with client_at(sms_app, "203.0.113.40") as owner:
        assert (await ask(owner, known)).status_code == 202
        await sign_in_with_latest(owner, sandbox, known)
    answers = []
    for phone in (known, new_phone()):
        async with client_at(sms_app, "198.51.100.40") as asker:
            sequence = []
            for at in (0, 30, MINUTE):
                with advance(at):
                    response = await ask(asker, phone)
                sequence.append(
                    (response.status_code, response.headers.get("retry-after"), response.json())
                )
            sequence[1][2].pop("request_id", None)
            answers.append(sequence)
    assert answers[0] == answers[1]
    assert [status for status, _, _ in answers[0]] == [202, 429, 202]


# --- enterprise agents ----------------------------------------------------------------------


async def _enterprise(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> tuple[dict[str, Any], str]:
    """A legal representative of their own enterprise, signed in at L2, and its credit code."""
    seed = uuid.uuid4().hex
    owner_id = next(
        who
        for who in (data.make_id_no(f"api6-owner-{seed}-{i}") for i in range(400))
        if any(lic["licenceType"] == "business_licence" for lic in data.licences(who))
    )
    owner = await sign_in_real_name(client, sandbox, owner_id)
    credit_code = data.enterprise(owner_id)["creditCode"]
    linked = await client.post(
        "/v1/me/enterprises", json={"credit_code": credit_code}, headers=bearer(owner)
    )
    assert linked.status_code == 201, linked.text
    return owner, credit_code


async def _l2(client: httpx.AsyncClient, sandbox: SandboxHandle) -> dict[str, Any]:
    return await sign_in_real_name(client, sandbox, data.make_id_no(f"api6-{uuid.uuid4()}"))


async def _invite(
    client: httpx.AsyncClient, owner: dict[str, Any], credit_code: str, phone: str
) -> httpx.Response:
    return await client.post(
        f"/v1/me/enterprises/{credit_code}/agents", json={"phone": phone}, headers=bearer(owner)
    )


async def _messages(client: httpx.AsyncClient, tokens: dict[str, Any]) -> list[dict[str, Any]]:
    listed = await client.get("/v1/me/messages", headers=bearer(tokens))
    assert listed.status_code == 200, listed.text
    return list(listed.json()["items"])


async def _acts(client: httpx.AsyncClient, tokens: dict[str, Any], credit_code: str) -> int:
    response = await client.post(
        "/v1/auth/act-as", json={"credit_code": credit_code}, headers=bearer(tokens)
    )
    return response.status_code


async def test_inviting_answers_alike_whether_or_not_the_phone_has_an_account(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner, credit_code = await _enterprise(client, sandbox)
    verified = await _l2(client, sandbox)
    unverified = await sign_in(client, sandbox)
    answers = [
        await _invite(client, owner, credit_code, phone)
        for phone in (verified["phone"], unverified["phone"], new_phone())
    ]
    assert [(a.status_code, a.content) for a in answers] == [(204, b"")] * 3


async def test_an_invited_phone_becomes_an_agent_only_by_accepting(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner, credit_code = await _enterprise(client, sandbox)
    agent, stranger = await _l2(client, sandbox), await _l2(client, sandbox)
    assert (await _invite(client, owner, credit_code, agent["phone"])).status_code == 204

    # Invited is not yet an agent: no enterprise, no acting for it.
    mine = await client.get("/v1/me/enterprises", headers=bearer(agent))
    assert mine.json()["items"] == []
    assert await _acts(client, agent, credit_code) == 404
    invitation = await invitation_to(client, agent, credit_code)
    assert invitation["enterprise_name"].startswith("合肥")
    # Nobody else can answer it.
    accept_url = f"/v1/me/enterprise-invitations/{invitation['id']}/accept"
    taken = await client.post(accept_url, headers=bearer(stranger))
    assert taken.status_code == 404
    assert taken.json()["code"] == "INVITATION_NOT_FOUND"

    accepted = await client.post(accept_url, headers=bearer(agent))
    assert accepted.status_code == 200, accepted.text
    assert accepted.json()["role"] == "agent"
    assert await _acts(client, agent, credit_code) == 200
    assert (await client.post(accept_url, headers=bearer(agent))).status_code == 404

    # The legal representative hears of it (masked: no full name or phone in the text).
    told = (await _messages(client, owner))[0]
    assert told["kind"] == "enterprise" and told["application_id"] is None
    assert told["title"] == "经办人邀请已接受"
    assert agent["phone"] not in told["body"]
    assert agent["phone"][-4:] in told["body"]
    agents = (
        await client.get(f"/v1/me/enterprises/{credit_code}/agents", headers=bearer(owner))
    ).json()["items"]
    assert [(a["status"], a["phone"]) for a in agents] == [
        ("active", f"{agent['phone'][:3]}****{agent['phone'][-4:]}")
    ]


async def test_a_phone_without_a_verified_account_accepts_once_it_has_one(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner, credit_code = await _enterprise(client, sandbox)
    phone = new_phone()  # nobody has signed up with it yet
    assert (await _invite(client, owner, credit_code, phone)).status_code == 204
    newcomer = await sign_in(client, sandbox, phone)
    invitation = await invitation_to(client, newcomer, credit_code)
    accept_url = f"/v1/me/enterprise-invitations/{invitation['id']}/accept"
    early = await client.post(accept_url, headers=bearer(newcomer))
    assert early.status_code == 403
    assert early.json()["code"] == "ASSURANCE_LEVEL_TOO_LOW"
    id_number = data.make_id_no(f"api6-newcomer-{phone}")
    verified = await client.post(
        "/v1/me/real-name",
        json={"name": data.person_name(id_number), "id_number": id_number},
        headers=bearer(newcomer),
    )
    assert verified.status_code == 200, verified.text
    assert (await client.post(accept_url, headers=bearer(newcomer))).status_code == 200
    assert await _acts(client, newcomer, credit_code) == 200


async def test_declining_tells_the_representative_and_closes_the_invitation(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner, credit_code = await _enterprise(client, sandbox)
    invitee = await _l2(client, sandbox)
    await _invite(client, owner, credit_code, invitee["phone"])
    invitation = await invitation_to(client, invitee, credit_code)
    declined = await client.post(
        f"/v1/me/enterprise-invitations/{invitation['id']}/decline", headers=bearer(invitee)
    )
    assert declined.status_code == 204
    told = (await _messages(client, owner))[0]
    assert (told["kind"], told["title"]) == ("enterprise", "经办人邀请被谢绝")
    assert invitee["phone"] not in told["body"]
    waiting = await client.get("/v1/me/enterprise-invitations", headers=bearer(invitee))
    assert waiting.json()["items"] == []
    late = await client.post(
        f"/v1/me/enterprise-invitations/{invitation['id']}/accept", headers=bearer(invitee)
    )
    assert late.status_code == 404
    assert await _acts(client, invitee, credit_code) == 404
    listed = await client.get(f"/v1/me/enterprises/{credit_code}/agents", headers=bearer(owner))
    assert listed.json()["items"] == []


async def test_the_representative_removes_an_agent_whose_enterprise_tokens_stop_at_once(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner, credit_code = await _enterprise(client, sandbox)
    other_owner, other_code = await _enterprise(client, sandbox)
    agent = await _l2(client, sandbox)
    await make_agent(client, owner, agent, credit_code)
    acting = await client.post(
        "/v1/auth/act-as", json={"credit_code": credit_code}, headers=bearer(agent)
    )
    assert acting.status_code == 200
    as_company = acting.json()
    assert (await client.get("/v1/me", headers=bearer(as_company))).status_code == 200

    agents_url = f"/v1/me/enterprises/{credit_code}/agents"
    listed = (await client.get(agents_url, headers=bearer(owner))).json()["items"]
    agent_id = listed[0]["id"]
    # Only the legal representative lists and removes; another enterprise's cannot reach it.
    by_agent = await client.get(agents_url, headers=bearer(agent))
    assert by_agent.status_code == 403
    assert by_agent.json()["code"] == "NOT_LEGAL_REPRESENTATIVE"
    assert (
        await client.delete(f"{agents_url}/{agent_id}", headers=bearer(agent))
    ).status_code == 403
    foreign = await client.delete(
        f"/v1/me/enterprises/{other_code}/agents/{agent_id}", headers=bearer(other_owner)
    )
    assert foreign.status_code == 404
    assert foreign.json()["code"] == "AGENT_NOT_FOUND"

    removed = await client.delete(f"{agents_url}/{agent_id}", headers=bearer(owner))
    assert removed.status_code == 204
    # The token acting for the enterprise stops at once, not when it expires...
    stopped = await client.get("/v1/me", headers=bearer(as_company))
    assert stopped.status_code == 401
    # ...the agent's own ones keep working, and acting for it again is refused.
    assert (await client.get("/v1/me", headers=bearer(agent))).status_code == 200
    assert await _acts(client, agent, credit_code) == 404
    told = (await _messages(client, agent))[0]
    assert (told["kind"], told["title"]) == ("enterprise", "经办人授权已取消")
    again = await client.delete(f"{agents_url}/{agent_id}", headers=bearer(owner))
    assert again.status_code == 404
    assert (await client.get(agents_url, headers=bearer(owner))).json()["items"] == []


async def test_an_agent_leaves_and_can_be_invited_again(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner, credit_code = await _enterprise(client, sandbox)
    agent = await _l2(client, sandbox)
    await make_agent(client, owner, agent, credit_code)
    left = await client.delete(f"/v1/me/enterprises/{credit_code}", headers=bearer(agent))
    assert left.status_code == 204
    assert await _acts(client, agent, credit_code) == 404
    told = (await _messages(client, owner))[0]
    assert (told["kind"], told["title"]) == ("enterprise", "经办人已退出")
    await make_agent(client, owner, agent, credit_code)
    assert await _acts(client, agent, credit_code) == 200


async def test_a_waiting_invitation_can_be_withdrawn_and_lapses_after_seven_days(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner, credit_code = await _enterprise(client, sandbox)
    withdrawn, lapsing = await _l2(client, sandbox), await _l2(client, sandbox)
    for invitee in (withdrawn, lapsing):
        await _invite(client, owner, credit_code, invitee["phone"])
    agents_url = f"/v1/me/enterprises/{credit_code}/agents"
    listed = (await client.get(agents_url, headers=bearer(owner))).json()["items"]
    assert [a["status"] for a in listed] == ["invited", "invited"]
    assert all(a["name"] is None and a["expires_at"] for a in listed)
    first = await invitation_to(client, withdrawn, credit_code)
    assert (
        await client.delete(f"{agents_url}/{first['id']}", headers=bearer(owner))
    ).status_code == 204
    waiting = await client.get("/v1/me/enterprise-invitations", headers=bearer(withdrawn))
    assert waiting.json()["items"] == []

    second = await invitation_to(client, lapsing, credit_code)
    with advance(timedelta(days=7).total_seconds() + 1):
        gone = await client.get("/v1/me/enterprise-invitations", headers=bearer(lapsing))
        assert gone.json()["items"] == []
        late = await client.post(
            f"/v1/me/enterprise-invitations/{second['id']}/accept", headers=bearer(lapsing)
        )
        assert late.status_code == 404


async def test_one_enterprise_keeps_at_most_twenty_invitations_waiting(
    client: httpx.AsyncClient, sandbox: SandboxHandle
) -> None:
    owner, credit_code = await _enterprise(client, sandbox)
    phones = [new_phone() for _ in range(20)]
    for phone in phones:
        assert (await _invite(client, owner, credit_code, phone)).status_code == 204
    refused = await _invite(client, owner, credit_code, new_phone())
    assert refused.status_code == 409
    assert refused.json()["code"] == "TOO_MANY_INVITATIONS"
    # Inviting a waiting phone again only renews its invitation.
    assert (await _invite(client, owner, credit_code, phones[0])).status_code == 204
