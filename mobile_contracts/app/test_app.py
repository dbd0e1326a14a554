"""The mobile app's contract with the API: the journeys the app ships with.

Each test is one journey: it declares the interactions the app's screens make, with the
fields they read, and runs the app's client (``mobile_contracts/client.py``) against Pact's
mock server. The app reads full payloads (both languages, the timeline, material sources);
the mini-program's contract (``mobile_contracts/mini_program``) asks for less.
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
    sends_sms_code,
    serving,
    submits_with_e_license,
    timestamp,
)

CONSUMER = "hefeitong-app"
COMMITTED = Path(__file__).parent / "pacts"


TOKEN_PAIR = {
    "access_token": match.like(EXAMPLE_TOKEN),
    "token_type": "Bearer",
    "expires_in": match.integer(900),
    "refresh_token": match.like(EXAMPLE_REFRESH_TOKEN),
    "session_id": match.like("0193c0de-1111-7cc1-9b1a-2f6e1d7c8a90"),
}
SERVICE_SUMMARY = {
    "code": match.like(QUERY_SERVICE),
    "name_zh": match.like("住房公积金余额查询"),
    "name_en": match.like("Housing provident fund balance"),
    "summary_zh": match.like("查询个人住房公积金账户余额、缴存基数和缴存状态。"),
    "summary_en": match.like("Check your provident fund balance, contribution base and status."),
    "domain": match.like("housing"),
    "kind": match.like("query"),
    "department": {"code": match.like("hf-hpf"), "name_zh": match.like("合肥住房公积金管理中心")},
    "min_level": match.integer(2),
    "degraded": match.boolean(False),
}


def test_browse_the_catalog(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the app lists the service domains")
        .with_request("GET", "/v1/domains")
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like(
                    {
                        "code": match.like("housing"),
                        "name_zh": match.like("住房公积金"),
                        "name_en": match.like("Housing & provident fund"),
                        "service_count": match.integer(46),
                    },
                    min=5,
                ),
                "total_services": match.integer(238),
            },
            "application/json",
        )
    )
    (
        pact.upon_receiving("the app lists a domain's services")
        .with_request("GET", "/v1/services")
        .with_query_parameter("domain", "housing")
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like(SERVICE_SUMMARY, min=1),
                "total": match.integer(46),
                "page": match.integer(1),
            },
            "application/json",
        )
    )
    (
        pact.upon_receiving("the app opens a service")
        .with_request("GET", f"/v1/services/{QUERY_SERVICE}")
        .will_respond_with(200)
        .with_body(
            SERVICE_SUMMARY | {"code": QUERY_SERVICE, "keywords": match.each_like("公积金", min=1)},
            "application/json",
        )
    )
    with serving(pact, pact_dir) as url:
        api = mock_client(url, None)
        domains = api.domains()
        assert domains["items"][0]["name_zh"] == "住房公积金" and domains["total_services"] == 238
        housing = api.services(domain="housing")
        assert housing["items"][0]["department"]["name_zh"]
        detail = api.service(QUERY_SERVICE)
        assert detail["min_level"] == 2 and detail["kind"] == "query"


def test_search_the_catalog(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the app searches for 公积金")
        .with_request("GET", "/v1/services")
        .with_query_parameter("q", "公积金")
        .will_respond_with(200)
        .with_body({"items": match.each_like(SERVICE_SUMMARY, min=1)}, "application/json")
    )
    with serving(pact, pact_dir) as url:
        found = mock_client(url, None).services(q="公积金")
        assert found["items"][0]["name_zh"] == "住房公积金余额查询"


def test_sign_in_with_an_sms_code(pact: Pact, pact_dir: Path) -> None:
    (
        sends_sms_code(
            pact, "the app asks for a sign-in code", "a phone number that has not asked for a code"
        )
        .will_respond_with(202)
        .with_body(
            {"expires_in": match.integer(300), "resend_after": match.integer(60)},
            "application/json",
        )
    )
    (
        pact.upon_receiving("the app signs in with the code")
        .given("an SMS code was sent to a phone")
        .with_request("POST", "/v1/auth/login/sms")
        .with_body(
            {
                "phone": from_state(EXAMPLE_PHONE, "${phone}"),
                "code": from_state("123456", "${code}"),
                "client": "app",
                "device": "iPhone 15 / 合肥通 3.2",
            },
            "application/json",
        )
        .will_respond_with(200)
        .with_body(TOKEN_PAIR, "application/json")
    )
    with serving(pact, pact_dir) as url:
        api = mock_client(url, None)
        sent = api.send_sms_code(EXAMPLE_PHONE)
        assert sent["resend_after"] == 60
        tokens = api.login_sms(
            "13800138000", "123456", client="app", device="iPhone 15 / 合肥通 3.2"
        )
        assert tokens["token_type"] == "Bearer" and tokens["refresh_token"]


def test_refresh_the_session(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the app refreshes its tokens")
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
        .with_body(TOKEN_PAIR, "application/json")
    )
    with serving(pact, pact_dir) as url:
        tokens = mock_client(url, None).refresh(EXAMPLE_REFRESH_TOKEN)
        assert tokens["access_token"] == EXAMPLE_TOKEN


def _section(data: dict[str, object]) -> dict[str, object]:
    return {
        "status": match.regex("ok", regex=r"^(ok|stale)$"),
        "data": match.like(data),
        "fetched_at": timestamp(),
    }


def test_home_screen_overview(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the app loads the home-screen overview")
        .given("a real-name citizen")
        .with_request("GET", "/v1/me/overview")
        .with_header("Authorization", bearer())
        .will_respond_with(200)
        .with_body(
            {
                "social_security": _section({"pension_balance": "346872.00"}),
                "provident_fund": _section({"balance": "0.00", "status": "封存"}),
                "medical_insurance": _section({"balance": "5116.86"}),
                "traffic_violations": _section({"total": 0}),
                "licence_points": _section({"points": 0}),
                "appointments": {"status": match.regex("ok", regex=r"^(ok|stale|unavailable)$")},
                "generated_at": timestamp(),
            },
            "application/json",
        )
    )
    with serving(pact, pact_dir) as url:
        overview = mock_client(url).overview()
        assert overview["provident_fund"]["data"]["balance"] == "0.00"


def test_invoke_a_query_service(pact: Pact, pact_dir: Path) -> None:
    (
        invokes_query_service(
            pact, "the app checks the provident fund balance", "a real-name citizen"
        )
        .will_respond_with(200)
        .with_body(
            {
                "data": match.like(
                    {"account_no": "34019055660565", "balance": "0.00", "status": "封存"}
                ),
                "source": {"name_zh": match.like("合肥住房公积金管理中心业务系统")},
                "fetched_at": timestamp(),
                "cache": match.regex("miss", regex=r"^(miss|hit|stale)$"),
            },
            "application/json",
        )
    )
    with serving(pact, pact_dir) as url:
        answer = mock_client(url).invoke(QUERY_SERVICE)
        assert answer["data"]["balance"] == "0.00" and answer["cache"] == "miss"


def test_submit_an_application_with_an_e_license(pact: Pact, pact_dir: Path) -> None:
    (
        submits_with_e_license(
            pact,
            "the app submits an application with the ID card from the e-license",
            "submit-0193c0de-2222",
        )
        .will_respond_with(201)
        .with_body(
            {
                "id": match.like(EXAMPLE_APPLICATION_ID),
                "number": match.regex("HF2026112600001", regex=r"^HF\d{13}$"),
                "service_code": APPLICATION_SERVICE,
                "status": "submitted",
                # The ID card is satisfied from the e-license; other materials may be pending.
                "materials": match.array_containing(
                    [
                        {
                            "code": ID_CARD_MATERIAL,
                            "name_zh": match.like("居民身份证"),
                            "satisfied": True,
                            "source": "e_license",
                        }
                    ]
                ),
                "timeline": match.each_like({"at": timestamp(), "to_status": "submitted"}, min=1),
            },
            "application/json",
        )
    )
    with serving(pact, pact_dir) as url:
        materials = [{"code": ID_CARD_MATERIAL, "licence_no": EXAMPLE_LICENCE_NO}]
        created = mock_client(url).submit(
            APPLICATION_SERVICE, FORM, materials, idempotency_key="submit-0193c0de-2222"
        )
        assert created["status"] == "submitted"
        assert created["materials"][0]["source"] == "e_license"


def test_track_an_application(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the app lists my applications")
        .given("an application under review", service_code=APPLICATION_SERVICE)
        .with_request("GET", "/v1/applications")
        .with_header("Authorization", bearer())
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like(
                    {
                        "id": match.like(EXAMPLE_APPLICATION_ID),
                        "number": match.regex("HF2026112600001", regex=r"^HF\d{13}$"),
                        "service_code": match.like(APPLICATION_SERVICE),
                        "status": match.like("in_review"),
                        "light": match.regex("green", regex=r"^(green|yellow|red)$"),
                        "created_at": timestamp(),
                    },
                    min=1,
                )
            },
            "application/json",
        )
    )
    (
        pact.upon_receiving("the app opens an application under review")
        .given("an application under review", service_code=APPLICATION_SERVICE)
        .with_request("GET", application_path())
        .with_header("Authorization", bearer())
        .will_respond_with(200)
        .with_body(
            {
                "id": match.like(EXAMPLE_APPLICATION_ID),
                "number": match.regex("HF2026112600001", regex=r"^HF\d{13}$"),
                "status": "in_review",
                "light": match.regex("green", regex=r"^(green|yellow|red)$"),
                "due_on": match.date("2026-12-03"),
                "paused": False,
                "trips": match.integer(0),
                "reviews": match.each_like(
                    {"department": match.like("hf-health"), "decision": match.like("pending")},
                    min=1,
                ),
                "timeline": match.each_like(
                    {"at": timestamp(), "to_status": match.like("in_review")}, min=1
                ),
            },
            "application/json",
        )
    )
    with serving(pact, pact_dir) as url:
        api = mock_client(url)
        mine = api.applications()
        assert mine["items"][0]["light"] == "green"
        shown = api.application(EXAMPLE_APPLICATION_ID)
        assert shown["status"] == "in_review" and shown["timeline"][-1]["to_status"] == "in_review"


def test_receive_messages(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the app opens the message centre")
        .given("a message about an application", service_code=APPLICATION_SERVICE)
        .with_request("GET", "/v1/me/messages")
        .with_header("Authorization", bearer())
        .will_respond_with(200)
        .with_body(
            {
                "items": match.each_like(
                    {
                        "id": match.like("0193c0de-3333-7cc1-9b1a-2f6e1d7c8a90"),
                        "application_id": match.like(EXAMPLE_APPLICATION_ID),
                        "title": match.like("已受理"),
                        "body": match.like("HF2026112600001 已受理"),
                        "created_at": timestamp(),
                        "read": False,
                    },
                    min=1,
                ),
                "unread": match.integer(1),
            },
            "application/json",
        )
    )
    with serving(pact, pact_dir) as url:
        inbox = mock_client(url).messages()
        assert inbox["unread"] >= 1 and inbox["items"][0]["read"] is False


def test_rate_a_completed_application(pact: Pact, pact_dir: Path) -> None:
    (
        pact.upon_receiving("the app rates a completed application")
        .given("a completed application", service_code=APPLICATION_SERVICE)
        .with_request("POST", application_path("/rating"))
        .with_header("Authorization", bearer())
        .with_body({"score": 5, "comment": "一次都没跑，很方便"}, "application/json")
        .will_respond_with(201)
        .with_body(
            {"score": 5, "comment": "一次都没跑，很方便", "created_at": timestamp()},
            "application/json",
        )
    )
    with serving(pact, pact_dir) as url:
        rating = mock_client(url).rate(EXAMPLE_APPLICATION_ID, 5, "一次都没跑，很方便")
        assert rating["score"] == 5


def test_an_expired_token(pact: Pact, pact_dir: Path) -> None:
    # The app also reads the bearer challenge: it refreshes on error="invalid_token".
    expired_token(pact, "app").with_header(
        "WWW-Authenticate",
        match.regex('Bearer error="invalid_token"', regex=r'^Bearer .*error="invalid_token"'),
    )
    with serving(pact, pact_dir) as url, pytest.raises(ApiProblem) as expired:
        mock_client(url).overview()
    assert expired.value.code == "TOKEN_INVALID"
    assert 'error="invalid_token"' in (expired.value.challenge or "")


def test_an_assurance_level_too_low(pact: Pact, pact_dir: Path) -> None:
    level_too_low(pact, "app")
    with serving(pact, pact_dir) as url, pytest.raises(ApiProblem) as too_low:
        mock_client(url).invoke(QUERY_SERVICE)
    # The app offers the real-name check (L2) instead of an error.
    assert too_low.value.code == "ASSURANCE_LEVEL_TOO_LOW"


def test_a_department_unavailable(pact: Pact, pact_dir: Path) -> None:
    department_down(pact, "app")
    with serving(pact, pact_dir) as url, pytest.raises(ApiProblem) as down:
        mock_client(url).invoke(QUERY_SERVICE)
    assert down.value.status == 503 and down.value.code == "ADAPTER_UNAVAILABLE"


def test_rate_limited(pact: Pact, pact_dir: Path) -> None:
    rate_limited(pact, "the app asks for a second code within the minute")
    with serving(pact, pact_dir) as url, pytest.raises(ApiProblem) as limited:
        mock_client(url, None).send_sms_code(EXAMPLE_PHONE)
    # The app shows a countdown from Retry-After.
    assert limited.value.code == "RATE_LIMITED" and limited.value.retry_after == 60


def test_the_committed_contract_is_what_the_app_declares(pact_dir: Path) -> None:
    """Last in the module: the file the journeys above built equals the committed one."""
    check_committed(pact_dir, COMMITTED, CONSUMER)
