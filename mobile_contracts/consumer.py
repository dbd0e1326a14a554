"""Writing the consumer contracts: Pact V4 files the API is verified against.

Each consumer test declares the interactions one journey needs, runs ``client.py`` against
Pact's mock server (so the contract holds only what the client really sends and reads) and
adds them to the consumer's pact file. The committed files under ``<consumer>/pacts/`` are
the contracts; ``tests/contracts/test_pact_verification.py`` replays them against the
running API with the sandbox departments.

Values that only the provider can know (a signed-in citizen's token, an application id, an
SMS code) come from *provider states*: the verifier asks the API's test harness to set the
state up, and the harness answers with those values, which ``from_state`` expressions put
into the replayed request. The examples here are only what the mock server answers with.
"""

from __future__ import annotations

import difflib
import json
import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from pact import Pact, generate, match
from pact.interaction import HttpInteraction
from pact.match.matcher import AbstractMatcher

from mobile_contracts.client import PROBLEM_JSON, HefeiTongClient

PROVIDER = "hefeitong-api"
# Set to rewrite the committed files from the consumer tests instead of comparing.
WRITE_ENV = "HEFEITONG_WRITE_PACTS"

# What the mock server answers when a test does not care: realistic, never real.
EXAMPLE_TOKEN = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.e30.c2lnbmF0dXJl"
EXAMPLE_APPLICATION_ID = "0193c0de-5a1e-7cc1-9b1a-2f6e1d7c8a90"
EXAMPLE_REFRESH_TOKEN = "Zk1wR3h6bE5fY2pVb2RhX3ZyT0p3b2pWd2l4"
EXAMPLE_PHONE = "13800138000"
EXAMPLE_LICENCE_NO = "SFZ0000000000000000001"  # the e-license library's ID card

# The services both clients' journeys use, as their screens know them.
QUERY_SERVICE = "hpf-balance-query"  # 住房公积金余额查询, needs L2
# 母子健康手册建册: an L2 application whose ID card comes from the e-license library.
APPLICATION_SERVICE = "maternal-health-handbook"
ID_CARD_MATERIAL = "id-card"
FORM = {
    "last_menstrual_period": "2026-09-01",
    "community_health_centre": "蜀山区三里庵街道社区卫生服务中心",
    "residence_address": "合肥市蜀山区长江西路100号",
}


def contract(consumer: str) -> Pact:
    return Pact(consumer, PROVIDER).with_specification("V4")


def from_state(example: Any, expression: str) -> AbstractMatcher[Any]:
    """A request value the provider state supplies (``${name}`` in ``expression``)."""
    return match.like(example, generator=generate.provider_state(expression))


def bearer() -> AbstractMatcher[Any]:
    """The Authorization header of the citizen the interaction's provider state signed in."""
    return from_state(f"Bearer {EXAMPLE_TOKEN}", "Bearer ${access_token}")


# The titles the mock server shows for each problem code; the clients show the real one.
EXAMPLE_TITLES = {
    "TOKEN_INVALID": "登录凭证无效或已过期",
    "ASSURANCE_LEVEL_TOO_LOW": "身份认证等级不足",
    "ADAPTER_UNAVAILABLE": "部门系统暂时不可用",
    "RATE_LIMITED": "操作过于频繁，请稍后再试",
}


def problem(status: int, code: str, **extra: Any) -> dict[str, Any]:
    """An RFC 9457 problem as the clients read it: the status and the stable ``code`` exactly,
    a title to show; ``detail`` and the rest may change wording freely."""
    return {
        "type": match.regex(
            "https://api.hefeitong.gov.cn/problems/example", regex=r"^https://\S+$"
        ),
        "title": match.like(EXAMPLE_TITLES[code]),
        "status": status,
        "code": code,
    } | extra


def timestamp(example: str = "2026-11-26T09:30:00.123000Z") -> AbstractMatcher[Any]:
    """An RFC 3339 timestamp with an offset (``Z`` or ``+08:00``), as the clients parse it."""
    return match.regex(
        example, regex=r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?(Z|[+-]\d{2}:\d{2})$"
    )


def pact_file(directory: Path, consumer: str) -> Path:
    return directory / f"{consumer}-{PROVIDER}.json"


def _comparable(path: Path) -> dict[str, Any]:
    document = json.loads(path.read_text(encoding="utf-8"))
    # The library versions that wrote the file are not part of the promise.
    document.pop("metadata", None)
    document["interactions"].sort(key=lambda i: i["description"])
    return dict(document)


def _pretty(document: dict[str, Any]) -> list[str]:
    return json.dumps(document, ensure_ascii=False, indent=2, sort_keys=True).splitlines()


def check_committed(written_dir: Path, committed_dir: Path, consumer: str) -> None:
    """The committed contract must be what the consumer tests produce: fail with the diff
    (or, with ``HEFEITONG_WRITE_PACTS=1``, replace the committed file)."""
    written, committed = pact_file(written_dir, consumer), pact_file(committed_dir, consumer)
    if os.environ.get(WRITE_ENV):
        committed.write_text(written.read_text(encoding="utf-8"), encoding="utf-8")
        return
    assert committed.exists(), (
        f"{committed} is missing: run `{WRITE_ENV}=1 pytest mobile_contracts`"
    )
    new, old = _comparable(written), _comparable(committed)
    if new != old:
        diff = "\n".join(
            difflib.unified_diff(
                _pretty(old), _pretty(new), "committed", "consumer tests", lineterm=""
            )
        )
        raise AssertionError(
            f"{committed} differs from what the consumer tests declare. If the change is "
            f"meant, rewrite it with `{WRITE_ENV}=1 .venv/bin/pytest mobile_contracts` and "
            f"let the provider verification prove the API keeps it.\n{diff}"
        )


@contextmanager
def serving(pact: Pact, directory: Path) -> Iterator[str]:
    """Pact's mock server for the interactions declared so far; on a clean exit (every
    interaction called as declared) they are added to the consumer's file in ``directory``."""
    with pact.serve() as server:
        yield str(server.url).rstrip("/")
    pact.write_file(directory, overwrite=False)


def mock_client(url: str, token: str | None = EXAMPLE_TOKEN) -> HefeiTongClient:
    """The client pointed at the mock server, signed in with the example token (or not)."""
    return HefeiTongClient(url, token)


# --- requests both clients make ------------------------------------------------------------
# Each returns the interaction with its state and request set; the caller declares the
# answer it reads.


def refreshes(pact: Pact, description: str) -> HttpInteraction:
    return (
        pact.upon_receiving(description)
        .given("a signed-in citizen", level=1)
        .with_request("POST", "/v1/auth/refresh")
        .with_body(
            {"refresh_token": from_state(EXAMPLE_REFRESH_TOKEN, "${refresh_token}")},
            "application/json",
        )
    )


def invokes_query_service(
    pact: Pact, description: str, state: str, **params: object
) -> HttpInteraction:
    return (
        pact.upon_receiving(description)
        .given(state, **params)
        .with_request("POST", f"/v1/services/{QUERY_SERVICE}/invoke")
        .with_header("Authorization", bearer())
        .with_body({"params": {}}, "application/json")
    )


def submits_with_e_license(pact: Pact, description: str, idempotency_key: str) -> HttpInteraction:
    """A real-name citizen submits the application, the ID card by e-license reference."""
    return (
        pact.upon_receiving(description)
        .given("a real-name citizen")
        .with_request("POST", "/v1/applications")
        .with_header("Authorization", bearer())
        .with_header(
            "Idempotency-Key", match.regex(idempotency_key, regex=r"^[A-Za-z0-9._:-]{8,128}$")
        )
        .with_body(
            {
                "service_code": APPLICATION_SERVICE,
                "form": FORM,
                "materials": [
                    {
                        "code": ID_CARD_MATERIAL,
                        "licence_no": from_state(EXAMPLE_LICENCE_NO, "${licence_no}"),
                    }
                ],
            },
            "application/json",
        )
    )


def application_path(suffix: str = "") -> AbstractMatcher[Any]:
    """The path of the application the provider state created."""
    return from_state(
        f"/v1/applications/{EXAMPLE_APPLICATION_ID}{suffix}",
        "/v1/applications/${application_id}" + suffix,
    )


def sends_sms_code(pact: Pact, description: str, state: str) -> HttpInteraction:
    return (
        pact.upon_receiving(description)
        .given(state)
        .with_request("POST", "/v1/auth/sms-codes")
        .with_body({"phone": from_state(EXAMPLE_PHONE, "${phone}")}, "application/json")
    )


# --- the error shapes both clients handle ---------------------------------------------------


def expired_token(pact: Pact, who: str) -> HttpInteraction:
    return (
        pact.upon_receiving(f"the {who} calls with an expired access token")
        .given("an expired access token")
        .with_request("GET", "/v1/me/overview")
        .with_header("Authorization", bearer())
        .will_respond_with(401)
        .with_body(problem(401, "TOKEN_INVALID"), PROBLEM_JSON)
    )


def level_too_low(pact: Pact, who: str) -> HttpInteraction:
    return (
        invokes_query_service(
            pact, f"the {who} invokes an L2 service at L1", "a signed-in citizen", level=1
        )
        .will_respond_with(403)
        .with_body(problem(403, "ASSURANCE_LEVEL_TOO_LOW", required_level=2), PROBLEM_JSON)
    )


def department_down(pact: Pact, who: str) -> HttpInteraction:
    description = f"the {who} invokes a service whose department is down"
    return (
        invokes_query_service(pact, description, "the provident fund system is down")
        .will_respond_with(503)
        .with_body(problem(503, "ADAPTER_UNAVAILABLE"), PROBLEM_JSON)
    )


def rate_limited(pact: Pact, description: str) -> HttpInteraction:
    return (
        sends_sms_code(pact, description, "a code was just sent to a phone")
        .will_respond_with(429)
        .with_header("Retry-After", match.regex("60", regex=r"^\d+$"))
        .with_body(problem(429, "RATE_LIMITED"), PROBLEM_JSON)
    )
