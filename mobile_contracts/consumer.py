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
from pact.match.matcher import AbstractMatcher

PROVIDER = "hefeitong-api"
# Set to rewrite the committed files from the consumer tests instead of comparing.
WRITE_ENV = "HEFEITONG_WRITE_PACTS"

# What the mock server answers when a test does not care: realistic, never real.
EXAMPLE_TOKEN = "eyJhbGciOiJFUzI1NiIsImtpZCI6ImsxIiwidHlwIjoiSldUIn0.e30.c2lnbmF0dXJl"
EXAMPLE_APPLICATION_ID = "0193c0de-5a1e-7cc1-9b1a-2f6e1d7c8a90"

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


def problem(status: int, code: str, **extra: Any) -> dict[str, Any]:
    """An RFC 9457 problem as the clients read it: the status and the stable ``code`` exactly,
    a title to show; ``detail`` and the rest may change wording freely."""
    return {
        "type": match.regex(
            "https://api.hefeitong.gov.cn/problems/example", regex=r"^https://\S+$"
        ),
        "title": match.like("登录凭证无效或已过期"),
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
