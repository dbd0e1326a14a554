"""The WeChat/Alipay mini-program's contract with the API.

The mini-program lives under a package-size limit and a slow network: it signs in with the
platform's one-time code (binding a phone the first time), reads only the fields its pages
show (so everything else may come and go without breaking it), and has no server-sent
events: it polls the message centre when a page is shown.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from pact import Pact, match

from mobile_contracts.client import ApiProblem
from mobile_contracts.consumer import (
    APPLICATION_SERVICE,
    EXAMPLE_APPLICATION_ID,
    EXAMPLE_LICENCE_NO,
    EXAMPLE_PHONE,
    EXAMPLE_REFRESH_TOKEN,
    EXAMPLE_TOKEN,
    FORM,
    ID_CARD_MATERIAL,
    QUERY_SERVICE,
    application_path,
    bearer,
    check_committed,
    department_down,
    expired_token,
    from_state,
    invokes_query_service,
    level_too_low,
    mock_client,
    rate_limited,
    serving,
    submits_with_e_license,
)

CONSUMER = "hefeitong-mini-program"
COMMITTED = Path(__file__).parent / "pacts"

# The mini-program keeps the access and refresh tokens; it never shows sessions.
TOKENS = {
    "access_token": match.like(EXAMPLE_TOKEN),
    "refresh_token": match.like(EXAMPLE_REFRESH_TOKEN),
    "expires_in": match.integer(900),
}
SERVICE_ITEM = {
    "code": match.like(QUERY_SERVICE),
    "name_zh": match.like("住房公积金余额查询"),
    "min_level": match.integer(2),
}
NUMBER = match.regex("HF2026112600001", regex=r"^HF\d{13}$")


def test_browse_and_search(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the mini-program lists the service domains")
        .with_request("GET", "/v1/domains")
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like(
                    {"code": match.like("housing"), "name_zh": match.like("住房公积金")}, min=1
                )
            },
            "application/json",
        )
    )
    (
        pact.upon_receiving("the mini-program searches for 公积金")
        .with_request("GET", "/v1/services")
        .with_query_parameter("q", "公积金")
        .will_respond_with(200)
        .with_body({"items": match.each_like(SERVICE_ITEM, min=1)}, "application/json")
    )
    with serving(pact, pact_dir) as url:
        api = mock_client(url, None)
        assert api.domains()["items"][0]["name_zh"] == "住房公积金"
        assert api.services(q="公积金")["items"][0]["min_level"] == 2


def test_first_sign_in_binds_a_phone(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the mini-program signs in with a code of a new WeChat user")
        .given("a WeChat user not yet bound")
        .with_request("POST", "/v1/auth/login/mini-program")
        .with_body(
            {"platform": "wechat", "code": from_state("wx-code-0001", "${code}")},
            "application/json",
        )
        .will_respond_with(200)
        .with_body(
            {
                "bound": False,
                "binding_ticket": match.like("bt-3f9a1c2d4e5b6a7f8091"),
                "ticket_expires_in": match.integer(600),
            },
            "application/json",
        )
    )
    (
        pact.upon_receiving("the mini-program binds the phone with an SMS code")
        .given("a mini-program sign-in waiting for a phone")
        .with_request("POST", "/v1/auth/login/mini-program/bind")
        .with_body(
            {
                "binding_ticket": from_state("bt-3f9a1c2d4e5b6a7f8091", "${binding_ticket}"),
                "phone": from_state(EXAMPLE_PHONE, "${phone}"),
                "code": from_state("123456", "${code}"),
            },
            "application/json",
        )
        .will_respond_with(200)
        .with_body(TOKENS, "application/json")
    )
    with serving(pact, pact_dir) as url:
        api = mock_client(url, None)
        first = api.login_mini_program("wechat", "wx-code-0001")
        assert first["bound"] is False
        tokens = api.bind_mini_program(first["binding_ticket"], EXAMPLE_PHONE, "123456")
        assert tokens["access_token"] == EXAMPLE_TOKEN


def test_code_sign_in_and_refresh(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the mini-program signs in with a code of a bound WeChat user")
        .given("a WeChat user bound to a citizen")
        .with_request("POST", "/v1/auth/login/mini-program")
        .with_body(
            {"platform": "wechat", "code": from_state("wx-code-0002", "${code}")},
            "application/json",
        )
        .will_respond_with(200)
        .with_body({"bound": True, "tokens": TOKENS}, "application/json")
    )
    (
        pact.upon_receiving("the mini-program refreshes its tokens")
        .given("a signed-in citizen", level=1)
        .with_request("POST", "/v1/auth/refresh")
        .with_body(
            {
                "refresh_token": from_state(
                    "Zk1wR3h6bE5fY2pVb2RhX3ZyT0p3b2pWd2l4", "${refresh_token}"
                )
            },
            "application/json",
        )
        .will_respond_with(200)
        .with_body(TOKENS, "application/json")
    )
    with serving(pact, pact_dir) as url:
        api = mock_client(url, None)
        login = api.login_mini_program("wechat", "wx-code-0002")
        assert login["bound"] is True
        refreshed = api.refresh(login["tokens"]["refresh_token"])
        assert refreshed["expires_in"] == 900


def test_overview_and_a_query(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the mini-program loads the overview")
        .given("a real-name citizen")
        .with_request("GET", "/v1/me/overview")
        .with_header("Authorization", bearer())
        .will_respond_with(200)
        .with_body(
            {
                "provident_fund": {
                    "status": match.regex("ok", regex=r"^(ok|stale)$"),
                    "data": {"balance": match.like("0.00")},
                },
                "social_security": {"status": match.regex("ok", regex=r"^(ok|stale)$")},
            },
            "application/json",
        )
    )
    (
        invokes_query_service(
            pact, "the mini-program checks the provident fund balance", "a real-name citizen"
        )
        .will_respond_with(200)
        .with_body({"data": {"balance": match.like("0.00")}}, "application/json")
    )
    with serving(pact, pact_dir) as url:
        api = mock_client(url)
        assert api.overview()["provident_fund"]["data"]["balance"] == "0.00"
        assert api.invoke(QUERY_SERVICE)["data"]["balance"] == "0.00"


def test_submit_track_and_rate(pact: Pact, pact_dir: Path) -> None:
    (
        submits_with_e_license(
            pact,
            "the mini-program submits an application with the e-license ID card",
            "submit-mp-0001",
        )
        .will_respond_with(201)
        .with_body(
            {"id": match.like(EXAMPLE_APPLICATION_ID), "number": NUMBER, "status": "submitted"},
            "application/json",
        )
    )
    (
        pact.upon_receiving("the mini-program shows an application under review")
        .given("an application under review", service_code=APPLICATION_SERVICE)
        .with_request("GET", application_path())
        .with_header("Authorization", bearer())
        .will_respond_with(200)
        .with_body(
            {
                "number": NUMBER,
                "status": "in_review",
                "light": match.regex("green", regex=r"^(green|yellow|red)$"),
            },
            "application/json",
        )
    )
    (
        pact.upon_receiving("the mini-program rates a completed application")
        .given("a completed application", service_code=APPLICATION_SERVICE)
        .with_request("POST", application_path("/rating"))
        .with_header("Authorization", bearer())
        .with_body({"score": 4, "comment": None}, "application/json")
        .will_respond_with(201)
        .with_body({"score": 4}, "application/json")
    )
    with serving(pact, pact_dir) as url:
        api = mock_client(url)
        materials = [{"code": ID_CARD_MATERIAL, "licence_no": EXAMPLE_LICENCE_NO}]
        created = api.submit(APPLICATION_SERVICE, FORM, materials, idempotency_key="submit-mp-0001")
        assert created["status"] == "submitted"
        assert api.application(EXAMPLE_APPLICATION_ID)["light"] == "green"
        assert api.rate(EXAMPLE_APPLICATION_ID, 4)["score"] == 4


def test_poll_the_message_centre(pact: Pact, pact_dir: Path) -> None:
    # No server-sent events in a mini-program: the page polls when it is shown.
    (
        pact.upon_receiving("the mini-program polls the message centre")
        .given("a message about an application", service_code=APPLICATION_SERVICE)
        .with_request("GET", "/v1/me/messages")
        .with_header("Authorization", bearer())
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like({"title": match.like("已受理"), "read": False}, min=1),
                "unread": match.integer(1),
            },
            "application/json",
        )
    )
    with serving(pact, pact_dir) as url:
        inbox = mock_client(url).messages()
        assert inbox["unread"] == 1 and inbox["items"][0]["title"] == "已受理"


def test_an_expired_token(pact: Pact, pact_dir: Path) -> None:
    expired_token(pact, "mini-program")
    with serving(pact, pact_dir) as url, pytest.raises(ApiProblem) as expired:
        mock_client(url).overview()
    # The mini-program signs in again silently with a new platform code.
    assert expired.value.code == "TOKEN_INVALID"


def test_an_assurance_level_too_low(pact: Pact, pact_dir: Path) -> None:
    level_too_low(pact, "mini-program")
    with serving(pact, pact_dir) as url, pytest.raises(ApiProblem) as too_low:
        mock_client(url).invoke(QUERY_SERVICE)
    assert too_low.value.code == "ASSURANCE_LEVEL_TOO_LOW"


def test_a_department_unavailable(pact: Pact, pact_dir: Path) -> None:
    department_down(pact, "mini-program")
    with serving(pact, pact_dir) as url, pytest.raises(ApiProblem) as down:
        mock_client(url).invoke(QUERY_SERVICE)
    assert down.value.code == "ADAPTER_UNAVAILABLE"


def test_rate_limited(pact: Pact, pact_dir: Path) -> None:
    rate_limited(pact, "the mini-program asks for a second binding code within the minute")
    with serving(pact, pact_dir) as url, pytest.raises(ApiProblem) as limited:
        mock_client(url, None).send_sms_code(EXAMPLE_PHONE)
    assert limited.value.code == "RATE_LIMITED" and limited.value.retry_after == 60


def test_the_committed_contract_is_what_the_mini_program_declares(pact_dir: Path) -> None:
    """Last in the module: the file the journeys above built equals the committed one."""
    check_committed(pact_dir, COMMITTED, CONSUMER)
