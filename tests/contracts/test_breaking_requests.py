"""The breaking-change check on what the API accepts: request fields, bodies and
parameters that became required, and enums that lost a value (in requests and responses)."""

from __future__ import annotations

from tests.contracts.breaking_helpers import S, api, breaks, only, schemas

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
