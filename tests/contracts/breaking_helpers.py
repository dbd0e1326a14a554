"""Small hand-made OpenAPI documents for the breaking-change tests, and the helpers that
compare them with the released one (``api()`` unless told otherwise)."""

from __future__ import annotations

from typing import Any

from backend.contracts.breaking import Break, compare_documents

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
