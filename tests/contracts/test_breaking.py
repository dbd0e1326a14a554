"""The breaking-change check as a release gate: version bumps, the CLI, and the
committed document against the released one. The rules themselves are tested on small
documents in test_breaking_responses.py and test_breaking_requests.py."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from backend.cli_contracts import contracts_app
from backend.contracts.breaking import compare_documents, version_is_higher
from backend.contracts.documents import load_document
from tests.contracts.breaking_helpers import S, api, only, schemas

ROOT = Path(__file__).parent.parent.parent
COMMITTED = ROOT / "openapi" / "openapi.json"
RELEASED = ROOT / "openapi" / "released" / "openapi.json"


# --- versions ---------------------------------------------------------------------------


def test_a_version_bump_lets_deliberate_breaks_pass() -> None:
    current = api(version="1.1.0")
    del current["paths"]["/v1/tree"]

    report = compare_documents(api(version="1.0.0"), current)
    assert report.version_bumped and report.passed
    assert [b.rule for b in report.breaks] == ["path-removed"]  # still listed

    report = compare_documents(api(version="1.0.0"), {**current, "info": {"version": "1.0.0"}})
    assert not report.version_bumped and not report.passed


@pytest.mark.parametrize(
    ("current", "released", "higher"),
    [
        ("0.2.0", "0.1.0", True),
        ("0.10.0", "0.9.1", True),
        ("1.0", "1.0.0", False),
        ("0.1.0", "0.2.0", False),
        ("2025-06", "2025-05", True),  # not dotted numbers: any change counts
    ],
)
def test_version_is_higher(current: str, released: str, higher: bool) -> None:
    assert version_is_higher(current, released) is higher


def test_only_openapi_3_documents_are_compared() -> None:
    with pytest.raises(ValueError, match="released document is not OpenAPI 3"):
        compare_documents({"swagger": "2.0"}, api())


# --- the CLI ----------------------------------------------------------------------------


def hefeitong() -> typer.Typer:
    """Mounted the way backend/cli.py mounts it: on the ``openapi`` group, without a name."""
    root = typer.Typer()
    openapi = typer.Typer()
    root.add_typer(openapi, name="openapi")
    openapi.add_typer(contracts_app)
    return root


def write(path: Path, document: dict[str, Any]) -> Path:
    path.write_text(json.dumps(document), encoding="utf-8")
    return path


def check(released: Path, current: Path) -> tuple[int, str]:
    result = CliRunner().invoke(
        hefeitong(),
        ["openapi", "check-breaking", "--released", str(released), "--current", str(current)],
    )
    return result.exit_code, result.output


def test_cli_exits_1_listing_each_break(tmp_path: Path) -> None:
    current = api()
    out = schemas(current)["ApplicationOut"]
    out["properties"]["application_number"] = out["properties"].pop("number")
    code, output = check(write(tmp_path / "r.json", api()), write(tmp_path / "c.json", current))
    assert code == 1, output
    assert "✗ response-field-removed  #/components/schemas/ApplicationOut/properties/number" in (
        output
    )
    assert "    GET /v1/applications → 200 application/json $.items[].number" in output
    assert "1 breaking change. Keep the promise, or release a new API version" in output


def test_cli_passes_without_breaks_or_with_a_bump(tmp_path: Path) -> None:
    released = write(tmp_path / "r.json", api())
    code, output = check(released, write(tmp_path / "same.json", api()))
    assert (code, output.splitlines()[-1]) == (0, "no breaking changes")

    bumped = api(version="2.0.0")
    del bumped["paths"]["/v1/tree"]
    code, output = check(released, write(tmp_path / "bumped.json", bumped))
    assert code == 0, output
    assert "path-removed" in output and "version bump 1.0.0 → 2.0.0: allowed" in output


def test_cli_exits_2_when_a_document_is_missing(tmp_path: Path) -> None:
    code, output = check(tmp_path / "nowhere.json", write(tmp_path / "c.json", api()))
    assert code == 2 and "cannot compare the documents" in output


# --- the real documents -----------------------------------------------------------------


def test_committed_document_keeps_the_released_promises() -> None:
    report = compare_documents(load_document(RELEASED), load_document(COMMITTED))
    assert report.passed, "\n".join(
        f"{b.rule} {b.pointer}: {b.message} ({'; '.join(b.seen_at)})" for b in report.breaks
    ) + (
        "\nKeep the promise, or bump API_VERSION in backend/app.py and re-export "
        "(openapi/README.md)"
    )


def test_renaming_a_field_of_the_real_document_is_caught() -> None:
    released = load_document(COMMITTED)
    current = copy.deepcopy(released)
    out = current["components"]["schemas"]["ApplicationOut"]
    out["properties"]["application_number"] = out["properties"].pop("number")
    found = only(list(compare_documents(released, current).breaks))
    assert found.pointer == S + "ApplicationOut/properties/number"
    assert "GET /v1/applications/{application_id} → 200 application/json $.number" in (
        found.seen_at
    )


def test_the_provider_lists_that_became_pages_are_named_as_breaks() -> None:
    # API 0.2.0 turned four provider and admin lists from arrays into cursor pages: allowed
    # by the version bump, and named by the check (which once could not see a type change).
    report = compare_documents(load_document(RELEASED), load_document(COMMITTED))
    changed = {
        where.split(" → ")[0]
        for b in report.breaks
        if b.rule == "response-type-changed"
        for where in b.seen_at
    }
    assert {
        "GET /v1/provider/rectifications",
        "GET /v1/provider/adapters",
        "GET /v1/provider/services",
        "GET /v1/admin/provider-services",
    } <= changed
    assert report.version_bumped and report.passed
