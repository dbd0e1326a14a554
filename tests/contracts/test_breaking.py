"""The breaking-change check: each rule on small hand-made documents, the CLI, and the
committed document against the released one."""

from __future__ import annotations

import copy
import json
from pathlib import Path
from typing import Any

import pytest
import typer
from typer.testing import CliRunner

from backend.cli_contracts import contracts_app
from backend.contracts.breaking import Break, compare_documents, version_is_higher
from backend.contracts.documents import load_document

ROOT = Path(__file__).parent.parent.parent
COMMITTED = ROOT / "openapi" / "openapi.json"
RELEASED = ROOT / "openapi" / "released" / "openapi.json"

S = "#/components/schemas/"


def ref(name: str) -> dict[str, str]:
    return {"$ref": S + name}


def json_body(schema: dict[str, Any]) -> dict[str, Any]:
    return {"content": {"application/json": {"schema": schema}}}


def api(version: str = "1.0.0") -> dict[str, Any]:
    """A small API shaped like ours: components, refs, arrays, allOf, nullable anyOf,
    problem+json errors, parameters, a request body and a recursive schema."""
    problem = {"content": {"application/problem+json": {"schema": ref("Problem")}}}
    one = {"in": "path", "name": "application_id", "required": True, "schema": {"type": "string"}}
    return {
        "openapi": "3.1.0",
        "info": {"title": "test", "version": version},
        "paths": {
            "/v1/applications": {
                "get": {
                    "parameters": [
                        {
                            "in": "query",
                            "name": "status",
                            "required": False,
                            "schema": {"anyOf": [ref("Status"), {"type": "null"}]},
                        },
                        {"in": "query", "name": "limit", "schema": {"type": "integer"}},
                    ],
                    "responses": {"200": json_body(ref("ApplicationList")), "422": problem},
                },
                "post": {
                    "parameters": [
                        {"in": "header", "name": "idempotency-key", "schema": {"type": "string"}}
                    ],
                    "requestBody": {"required": True, **json_body(ref("ApplicationCreate"))},
                    "responses": {"201": json_body(ref("ApplicationOut")), "422": problem},
                },
            },
            "/v1/applications/{application_id}": {
                "parameters": [one],
                "get": {"responses": {"200": json_body(ref("ApplicationOut")), "404": problem}},
                "delete": {"responses": {"204": {"description": "gone"}}},
            },
            "/v1/applications/{application_id}/ratings": {
                "parameters": [one],
                "post": {
                    "requestBody": json_body(
                        {"type": "object", "properties": {"score": {"type": "integer"}}}
                    ),
                    "responses": {"200": json_body(ref("RatingOut"))},
                },
            },
            "/v1/tree": {"get": {"responses": {"200": json_body(ref("Tree"))}}},
        },
        "components": {
            "schemas": {
                "Status": {"type": "string", "enum": ["draft", "submitted", "completed"]},
                "ApplicationOut": {
                    "type": "object",
                    "properties": {
                        "id": {"type": "string"},
                        "number": {"type": "string"},
                        "status": ref("Status"),
                        "light": {
                            "anyOf": [
                                {"type": "string", "enum": ["green", "yellow", "red"]},
                                {"type": "null"},
                            ]
                        },
                        "rating": {"anyOf": [ref("RatingOut"), {"type": "null"}]},
                        "reviews": {"type": "array", "items": ref("ReviewOut")},
                    },
                    "required": ["id", "number", "status"],
                },
                "ApplicationList": {
                    "type": "object",
                    "properties": {
                        "items": {"type": "array", "items": ref("ApplicationOut")},
                        "next_cursor": {"anyOf": [{"type": "string"}, {"type": "null"}]},
                    },
                    "required": ["items"],
                },
                "ApplicationCreate": {
                    "type": "object",
                    "properties": {
                        "service_code": {"type": "string"},
                        "form": {"type": "object", "additionalProperties": True},
                        "contact": {
                            "type": "object",
                            "properties": {
                                "phone": {"type": "string"},
                                "email": {"type": "string"},
                            },
                            "required": ["phone"],
                        },
                    },
                    "required": ["service_code"],
                },
                "RatingOut": {
                    "type": "object",
                    "properties": {"score": {"type": "integer"}, "comment": {"type": "string"}},
                },
                "ReviewBase": {
                    "type": "object",
                    "properties": {
                        "department": {"type": "string"},
                        "decision": {"type": "string", "enum": ["approved", "rejected"]},
                    },
                },
                "ReviewOut": {
                    "allOf": [
                        ref("ReviewBase"),
                        {"type": "object", "properties": {"decided_at": {"type": "string"}}},
                    ]
                },
                "Tree": {
                    "type": "object",
                    "properties": {
                        "name": {"type": "string"},
                        "children": {"type": "array", "items": ref("Tree")},
                    },
                },
                "Problem": {
                    "type": "object",
                    "properties": {
                        "type": {"type": "string"},
                        "title": {"type": "string"},
                        "status": {"type": "integer"},
                        "code": {"type": "string"},
                    },
                },
            }
        },
    }


def schemas(document: dict[str, Any]) -> dict[str, Any]:
    result: dict[str, Any] = document["components"]["schemas"]
    return result


def breaks(current: dict[str, Any], released: dict[str, Any] | None = None) -> list[Break]:
    return list(compare_documents(released or api(), current).breaks)


def only(found: list[Break]) -> Break:
    assert len(found) == 1, found
    return found[0]


def test_an_unchanged_document_has_no_breaks() -> None:
    report = compare_documents(api(), api())
    assert report.breaks == () and report.passed


# --- responses --------------------------------------------------------------------------


def test_a_renamed_response_field_is_a_removal_seen_wherever_it_is_returned() -> None:
    current = api()
    out = schemas(current)["ApplicationOut"]
    out["properties"]["application_number"] = out["properties"].pop("number")
    out["required"] = ["id", "application_number", "status"]

    found = only(breaks(current))
    assert found.rule == "response-field-removed"
    assert found.pointer == S + "ApplicationOut/properties/number"
    assert "`number`" in found.message
    assert found.seen_at == (
        "GET /v1/applications → 200 application/json $.items[].number",
        "POST /v1/applications → 201 application/json $.number",
        "GET /v1/applications/{application_id} → 200 application/json $.number",
    )


def test_added_response_and_optional_request_fields_are_not_breaks() -> None:
    current = api()
    schemas(current)["ApplicationOut"]["properties"]["trips"] = {"type": "integer"}
    schemas(current)["ApplicationCreate"]["properties"]["channel"] = {"type": "string"}
    assert breaks(current) == []


def test_fields_removed_through_nullable_refs_allof_and_recursion() -> None:
    current = api()
    del schemas(current)["RatingOut"]["properties"]["comment"]  # behind anyOf [$ref, null]
    del schemas(current)["ReviewBase"]["properties"]["department"]  # behind allOf
    del schemas(current)["Tree"]["properties"]["name"]  # a schema that contains itself

    found = {b.pointer: b for b in breaks(current)}
    assert set(found) == {
        S + "RatingOut/properties/comment",
        S + "ReviewBase/properties/department",
        S + "Tree/properties/name",
    }
    assert {b.rule for b in found.values()} == {"response-field-removed"}
    comment = found[S + "RatingOut/properties/comment"].seen_at
    assert "GET /v1/applications/{application_id} → 200 application/json $.rating.comment" in (
        comment
    )
    assert "POST /v1/applications/{application_id}/ratings → 200 application/json $.comment" in (
        comment
    )
    assert (
        "GET /v1/applications → 200 application/json $.items[].reviews[].department"
        in found[S + "ReviewBase/properties/department"].seen_at
    )
    assert found[S + "Tree/properties/name"].seen_at == (
        "GET /v1/tree → 200 application/json $.name",
    )


def test_a_field_removed_from_problem_json_breaks_but_a_dropped_error_status_does_not() -> None:
    current = api()
    del schemas(current)["Problem"]["properties"]["code"]
    found = only(breaks(current))
    assert (found.rule, found.pointer) == ("response-field-removed", S + "Problem/properties/code")
    assert "GET /v1/applications/{application_id} → 404 application/problem+json $.code" in (
        found.seen_at
    )

    current = api()
    del current["paths"]["/v1/applications/{application_id}"]["get"]["responses"]["404"]
    assert breaks(current) == []


def test_a_success_status_or_its_media_type_removed() -> None:
    current = api()
    post = current["paths"]["/v1/applications"]["post"]
    post["responses"]["200"] = post["responses"].pop("201")
    get = current["paths"]["/v1/tree"]["get"]
    get["responses"]["200"]["content"] = {"application/x-ndjson": {"schema": ref("Tree")}}

    found = {(b.rule, b.pointer) for b in breaks(current)}
    assert found == {
        ("response-removed", "#/paths/~1v1~1applications/post/responses/201"),
        (
            "response-media-type-removed",
            "#/paths/~1v1~1tree/get/responses/200/content/application~1json",
        ),
    }


def test_a_renamed_component_made_nullable_is_followed_not_flagged() -> None:
    current = json.loads(json.dumps(api()).replace(S + "ApplicationOut", S + "ApplicationDetail"))
    schemas(current)["ApplicationDetail"] = schemas(current).pop("ApplicationOut")
    listing = schemas(current)["ApplicationList"]["properties"]["items"]
    listing["items"] = {"anyOf": [ref("ApplicationDetail"), {"type": "null"}]}
    assert breaks(current) == []

    del schemas(current)["ApplicationDetail"]["properties"]["id"]
    found = only(breaks(current))
    assert found.pointer == S + "ApplicationOut/properties/id"  # where the promise was made
    assert "GET /v1/applications → 200 application/json $.items[].id" in found.seen_at


# --- paths and operations ---------------------------------------------------------------


def test_removed_path_and_operation() -> None:
    current = api()
    del current["paths"]["/v1/tree"]
    del current["paths"]["/v1/applications/{application_id}"]["delete"]
    found = {(b.rule, b.pointer, b.seen_at) for b in breaks(current)}
    assert found == {
        ("path-removed", "#/paths/~1v1~1tree", ("/v1/tree",)),
        (
            "operation-removed",
            "#/paths/~1v1~1applications~1{application_id}/delete",
            ("DELETE /v1/applications/{application_id}",),
        ),
    }


def test_renamed_path_parameter_and_added_operation_are_not_breaks() -> None:
    current = api()
    item = current["paths"].pop("/v1/applications/{application_id}")
    item["parameters"] = [{**item["parameters"][0], "name": "id"}]
    item["patch"] = {"responses": {"200": json_body(ref("ApplicationOut"))}}
    current["paths"]["/v1/applications/{id}"] = item
    assert breaks(current) == []


# --- requests ---------------------------------------------------------------------------


def test_request_fields_that_became_required() -> None:
    current = api()
    create = schemas(current)["ApplicationCreate"]
    create["properties"]["channel"] = {"type": "string"}
    create["required"] = ["service_code", "form", "channel"]  # optional form, new channel
    create["properties"]["contact"]["required"] = ["phone", "email"]  # deeper down

    found = {(b.pointer, b.message, b.seen_at) for b in breaks(current)}
    body = "POST /v1/applications → request body application/json"
    assert found == {
        (
            S + "ApplicationCreate",
            "new required request field `channel`",
            (f"{body} $.channel",),
        ),
        (
            S + "ApplicationCreate/properties/form",
            "request field `form` is now required",
            (f"{body} $.form",),
        ),
        (
            S + "ApplicationCreate/properties/contact/properties/email",
            "request field `email` is now required",
            (f"{body} $.contact.email",),
        ),
    }
    assert {b.rule for b in breaks(current)} == {"request-field-now-required"}


def test_a_request_body_that_became_required() -> None:
    current = api()
    ratings = current["paths"]["/v1/applications/{application_id}/ratings"]["post"]
    ratings["requestBody"]["required"] = True
    found = only(breaks(current))
    assert found.rule == "request-body-now-required"
    assert found.pointer == "#/paths/~1v1~1applications~1{application_id}~1ratings/post/requestBody"


def test_parameters_that_became_required() -> None:
    current = api()
    listing = current["paths"]["/v1/applications"]["get"]
    listing["parameters"][1]["required"] = True  # limit: optional → required
    listing["parameters"].append({"in": "query", "name": "domain", "required": True})
    post = current["paths"]["/v1/applications"]["post"]
    post["parameters"][0] = {**post["parameters"][0], "name": "Idempotency-Key", "required": True}

    found = {(b.rule, b.pointer, b.message) for b in breaks(current)}
    assert found == {
        (
            "parameter-now-required",
            "#/paths/~1v1~1applications/get/parameters/1",
            "query parameter `limit` is now required",
        ),
        (
            "new-required-parameter",
            "#/paths/~1v1~1applications/get",
            "new required query parameter `domain`",
        ),
        (
            "parameter-now-required",
            "#/paths/~1v1~1applications/post/parameters/0",
            "header parameter `Idempotency-Key` is now required",
        ),
    }


def test_a_new_optional_query_parameter_is_not_a_break() -> None:
    current = api()
    current["paths"]["/v1/applications"]["get"]["parameters"].append(
        {"in": "query", "name": "cursor", "required": False, "schema": {"type": "string"}}
    )
    del current["paths"]["/v1/applications"]["get"]["parameters"][1]  # limit: ignored now
    assert breaks(current) == []


# --- enums ------------------------------------------------------------------------------


def test_a_narrowed_enum_breaks_requests_and_responses_alike() -> None:
    current = api()
    schemas(current)["Status"]["enum"] = ["submitted", "completed"]  # "draft" is gone

    found = {(b.rule, b.pointer, b.message): b.seen_at for b in breaks(current)}
    assert set(found) == {
        ("enum-value-removed", S + "Status/enum", 'request enum lost "draft"'),
        ("enum-value-removed", S + "Status/enum", 'response enum lost "draft"'),
    }
    request = found[("enum-value-removed", S + "Status/enum", 'request enum lost "draft"')]
    assert request == ("GET /v1/applications → query parameter `status`",)


def test_a_narrowed_inline_enum_inside_a_nullable() -> None:
    current = api()
    light = schemas(current)["ApplicationOut"]["properties"]["light"]["anyOf"][0]
    light["enum"] = ["green", "red"]
    found = only(breaks(current))
    assert found.pointer == S + "ApplicationOut/properties/light/anyOf/0/enum"
    assert found.message == 'response enum lost "yellow"'


def test_a_widened_enum_is_not_a_break() -> None:
    current = api()
    schemas(current)["Status"]["enum"].append("withdrawn")
    schemas(current)["ReviewBase"]["properties"]["decision"]["enum"].append("returned")
    assert breaks(current) == []


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
