"""The breaking-change check on what the API offers and returns: response fields (through
refs, allOf, nullable anyOf and recursion), statuses and media types, paths and operations."""

from __future__ import annotations

import json

from backend.contracts.breaking import compare_documents
from tests.contracts.breaking_helpers import S, api, breaks, json_body, only, ref, schemas


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


def test_a_response_of_another_type_is_a_break() -> None:
    current = api()
    # The list that became a page object, and a number that became a string inside it.
    schemas(current)["ApplicationList"] = {"type": "array", "items": ref("ApplicationOut")}
    schemas(current)["ApplicationOut"]["properties"]["trips"] = {"type": "string"}
    released = api()
    schemas(released)["ApplicationOut"]["properties"]["trips"] = {"type": "integer"}

    found = {b.pointer: b for b in breaks(current, released)}
    assert found[S + "ApplicationList/type"].rule == "response-type-changed"
    assert "now array, was object" in found[S + "ApplicationList/type"].message
    assert found[S + "ApplicationOut/properties/trips/type"].seen_at[0] == (
        "POST /v1/applications → 201 application/json $.trips"
    )


def test_the_same_type_spelt_through_a_ref_or_allof_is_not_a_break() -> None:
    current = api()
    schemas(current)["ApplicationList"] = {
        "allOf": [{"type": "object"}, schemas(current)["ApplicationList"]]
    }
    assert breaks(current) == []
