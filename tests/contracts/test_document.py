"""The committed OpenAPI document is one the app and mini-program teams can build on.

Every operation says what it does in both languages, and every example in the document is
valid: against its own JSON Schema (so an example can never drift from its schema), and
against the pydantic model behind it, whose validators are stricter than the schema (ID
number check digits, model-level rules such as "exactly one of licence_no or upload_id").
The main request and response bodies carry whole-body examples.

``openapi/openapi.json`` is checked rather than the app's live document: it is what the
client teams read, and ``tests/test_cli.py`` keeps it equal to the live one.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from functools import cache
from pathlib import Path
from typing import Annotated, Any
from urllib.parse import quote

import jsonschema
import pytest
from jsonschema import Draft202012Validator
from pydantic import BaseModel, TypeAdapter, ValidationError
from referencing import Registry
from referencing.jsonschema import DRAFT202012

import backend.app  # noqa: F401  (imports every router, so every model and error is defined)
from backend.errors import _HTTP_CODES, AppError
from tests.gateway.helpers import CATALOG

DOCUMENT_PATH = Path(__file__).parent.parent.parent / "openapi" / "openapi.json"
DOCUMENT_URI = "urn:hefeitong:openapi"
HTTP_METHODS = {"get", "put", "post", "delete", "patch", "options", "head", "trace"}
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")
LATIN = re.compile(r"[A-Za-z]{3,}")

# The main bodies of the API: each carries at least one whole-body example.
MAIN_BODIES = {
    # catalog
    "DomainList",
    "ServicePage",
    "ServiceSummary",
    "ServiceDetail",
    # auth and the account
    "SmsCodeRequest",
    "SmsCodeSent",
    "SmsLogin",
    "TokenPair",
    "RefreshRequest",
    "MiniProgramLoginRequest",
    "MiniProgramLoginResult",
    "MiniProgramBind",
    "Me",
    # gateway
    "Overview",
    "InvokeRequest",
    "InvokeResponse",
    # applications, as the applicant
    "UploadOut",
    "ApplicationCreate",
    "ApplicationOut",
    "SupplementSubmission",
    "RatingCreate",
    "RatingOut",
    "MessageOut",
    "MessageList",
    # applications, as the department
    "SupplementRequest",
    "ReviewDecision",
    "TripRecord",
    "Completion",
    # every error
    "Problem",
}


@cache
def document() -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(DOCUMENT_PATH.read_text(encoding="utf-8"))
    return loaded


def operations() -> Iterator[tuple[str, dict[str, Any]]]:
    for path, item in document()["paths"].items():
        for method, operation in item.items():
            if method in HTTP_METHODS:
                yield f"{method.upper()} {path}", operation


def _bilingual(text: str) -> bool:
    return bool(CJK.search(text)) and bool(LATIN.search(text))


# --- wording ----------------------------------------------------------------------------


def test_every_operation_has_a_bilingual_summary_and_description() -> None:
    problems = []
    for label, operation in operations():
        summary = operation.get("summary", "").strip()
        description = operation.get("description", "").strip()
        if not summary:
            problems.append(f"{label}: no summary")
        elif not _bilingual(summary):
            problems.append(f"{label}: the summary is not in both Chinese and English")
        if not description:
            problems.append(f"{label}: no description")
        else:
            if not CJK.search(description):
                problems.append(f"{label}: the description has no Chinese")
            if not LATIN.search(description):
                problems.append(f"{label}: the description has no English")
    assert not problems, "\n".join(problems)


def test_declared_tags_are_described_in_both_languages() -> None:
    declared = {tag["name"]: tag.get("description", "") for tag in document().get("tags", [])}
    if not declared:
        return  # the app declares no openapi_tags: nothing promises a description
    used = {tag for _, operation in operations() for tag in operation.get("tags", [])}
    assert used <= set(declared), f"tags used but not declared: {sorted(used - set(declared))}"
    undescribed = [name for name, text in declared.items() if not _bilingual(text)]
    assert not undescribed, f"tags without a bilingual description: {undescribed}"


# --- examples against their schemas ----------------------------------------------------

_SUBSCHEMA_LISTS = ("allOf", "anyOf", "oneOf", "prefixItems")
_SUBSCHEMA_MAPS = ("properties", "patternProperties", "$defs", "dependentSchemas")
_SUBSCHEMAS = ("items", "additionalProperties", "not", "if", "then", "else", "contains")


def _pointer(*parts: str | int) -> str:
    return "".join("/" + str(p).replace("~", "~0").replace("/", "~1") for p in parts)


def _walk(schema: Any, pointer: str) -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema object under ``schema`` (itself included), by JSON pointer.

    Only schema keywords are followed, never ``examples`` or ``default``: a value is not a
    schema even when it looks like one (a service's ``form_schema`` example does)."""
    if not isinstance(schema, dict):
        return
    yield pointer, schema
    for key in _SUBSCHEMA_LISTS:
        for index, sub in enumerate(schema.get(key, [])):
            yield from _walk(sub, pointer + _pointer(key, index))
    for key in _SUBSCHEMA_MAPS:
        for name, sub in schema.get(key, {}).items():
            yield from _walk(sub, pointer + _pointer(key, name))
    for key in _SUBSCHEMAS:
        if key in schema:
            yield from _walk(schema[key], pointer + _pointer(key))


def _document_schemas() -> Iterator[tuple[str, dict[str, Any]]]:
    """Every schema of the document: components, parameters, request and response bodies."""
    doc = document()
    for name, schema in doc["components"]["schemas"].items():
        yield from _walk(schema, _pointer("components", "schemas", name))
    for path, item in doc["paths"].items():
        for method, operation in item.items():
            if method not in HTTP_METHODS:
                continue
            base = ("paths", path, method)
            for index, parameter in enumerate(operation.get("parameters", [])):
                if "schema" in parameter:
                    where = _pointer(*base, "parameters", index, "schema")
                    yield from _walk(parameter["schema"], where)
            bodies = [(("requestBody",), operation.get("requestBody", {}))] + [
                (("responses", status), response)
                for status, response in operation.get("responses", {}).items()
            ]
            for prefix, body in bodies:
                for media, content in body.get("content", {}).items():
                    if "schema" in content:
                        where = _pointer(*base, *prefix, "content", media, "schema")
                        yield from _walk(content["schema"], where)


def _examples_of(schema: dict[str, Any]) -> list[Any]:
    found = list(schema.get("examples", []))
    if "example" in schema:
        found.append(schema["example"])
    return found


def document_examples() -> list[tuple[str, int, Any]]:
    """Every example in the document, with the pointer of its schema."""
    return [
        (pointer, index, example)
        for pointer, schema in _document_schemas()
        for index, example in enumerate(_examples_of(schema))
    ]


@cache
def registry() -> Registry[Any]:
    loaded: Registry[Any] = Registry().with_resource(
        DOCUMENT_URI, DRAFT202012.create_resource(document())
    )
    return loaded


def test_the_document_has_examples_to_check() -> None:
    assert len(document_examples()) > len(MAIN_BODIES)


def _schema_problems(examples: list[tuple[str, int, Any]]) -> list[str]:
    problems = []
    for pointer, index, example in examples:
        validator = Draft202012Validator(
            {"$ref": f"{DOCUMENT_URI}#{quote(pointer)}"},
            registry=registry(),
            format_checker=Draft202012Validator.FORMAT_CHECKER,
        )
        for error in validator.iter_errors(example):
            where = "/".join(str(p) for p in error.absolute_path) or "(the example)"
            problems.append(f"#{pointer} example {index}, at {where}: {error.message}")
    return problems


def test_every_example_matches_its_schema() -> None:
    problems = _schema_problems(document_examples())
    assert not problems, "\n".join(problems)


def test_examples_keep_their_nulls() -> None:
    """FastAPI's encoder drops nulls; ``restore_example_nulls`` puts them back in examples."""
    (completed,) = _whole_examples("ApplicationOut")
    assert completed["timeline"][0]["from_status"] is None


def test_the_example_check_catches_a_wrong_example() -> None:
    """The check above resolves $refs into the document, so nested schemas are checked too."""
    pointer = _pointer("components", "schemas", "ServicePage")
    validator = Draft202012Validator(
        {"$ref": f"{DOCUMENT_URI}#{quote(pointer)}"}, registry=registry()
    )
    (good,) = _whole_examples("ServicePage")
    validator.validate(good)
    item = good["items"][0]
    wrong = good | {"items": [item | {"department": item["department"] | {"code": None}}]}
    with pytest.raises(jsonschema.ValidationError, match="None is not of type 'string'"):
        validator.validate(wrong)


# --- examples against the pydantic models ------------------------------------------------


def _subclasses(cls: type[Any]) -> Iterator[type[Any]]:
    for sub in cls.__subclasses__():
        yield sub
        yield from _subclasses(sub)


@cache
def models_by_name() -> dict[str, list[type[BaseModel]]]:
    found: dict[str, list[type[BaseModel]]] = {}
    for model in set(_subclasses(BaseModel)):
        if model.__module__.startswith("backend."):
            found.setdefault(model.__name__, []).append(model)
    return found


def _model_for(name: str) -> type[BaseModel] | None:
    candidates = models_by_name().get(name, [])
    assert len(candidates) <= 1, f"{name} names several models: {candidates}"
    return candidates[0] if candidates else None


def test_every_component_example_passes_its_models_validators() -> None:
    problems = []
    checked = 0
    for name, schema in document()["components"]["schemas"].items():
        examples = _examples_of(schema)
        properties = {
            prop: _examples_of(sub)
            for prop, sub in schema.get("properties", {}).items()
            if _examples_of(sub)
        }
        if not examples and not properties:
            continue
        model = _model_for(name)
        assert model is not None, f"component {name} has examples but no pydantic model"
        for index, example in enumerate(examples):
            checked += 1
            try:
                # From JSON, as a client sends it (dates as strings, no Python objects).
                model.model_validate_json(json.dumps(example))
            except ValidationError as exc:
                problems.append(f"{name} example {index}: {exc}")
        by_alias = {(f.alias or field): f for field, f in model.model_fields.items()}
        for prop, values in properties.items():
            field = by_alias[prop]
            annotation: Any = field.annotation
            if field.metadata:  # the field's constraints and validators (an ID number's checksum)
                annotation = Annotated[(annotation, *field.metadata)]
            adapter: TypeAdapter[Any] = TypeAdapter(annotation)
            for value in values:
                checked += 1
                try:
                    adapter.validate_json(json.dumps(value))
                except ValidationError as exc:
                    problems.append(f"{name}.{prop} example {value!r}: {exc}")
    assert checked > len(MAIN_BODIES)
    assert not problems, "\n".join(problems)


# --- the main bodies -------------------------------------------------------------------


def _whole_examples(name: str) -> list[Any]:
    return _examples_of(document()["components"]["schemas"][name])


@pytest.mark.parametrize("name", sorted(MAIN_BODIES))
def test_main_bodies_carry_whole_body_examples(name: str) -> None:
    assert name in document()["components"]["schemas"], f"{name} is not in the document"
    assert _whole_examples(name), f"{name} has no example of its own"


def test_mini_program_login_shows_both_answers() -> None:
    assert {e["bound"] for e in _whole_examples("MiniProgramLoginResult")} == {True, False}


def test_application_examples_are_a_real_service_and_show_the_timeline() -> None:
    (submitted,) = _whole_examples("ApplicationCreate")
    service = next(s for s in CATALOG.services if s.code == submitted["service_code"])
    assert service.kind == "application" and service.form_schema is not None
    jsonschema.validate(
        submitted["form"], service.form_schema, format_checker=Draft202012Validator.FORMAT_CHECKER
    )
    materials = {m.code: m for m in service.materials or []}
    by_licence = [m for m in submitted["materials"] if m.get("licence_no")]
    assert by_licence, "no material given as an e-license reference"
    for material in by_licence:
        assert materials[material["code"]].e_license is not None
    assert {m["code"] for m in submitted["materials"]} <= set(materials)
    for application in _whole_examples("ApplicationOut"):
        assert application["service_code"] == service.code
        assert application["timeline"], "ApplicationOut example without a timeline"


def test_problem_examples_use_real_codes() -> None:
    codes = {cls.code for cls in _subclasses(AppError)} | {AppError.code}
    codes |= {code for code, _ in _HTTP_CODES.values()}
    problem = document()["components"]["schemas"]["Problem"]
    used = [e["code"] for e in _examples_of(problem)]
    used += _examples_of(problem["properties"]["code"])
    assert used and set(used) <= codes, sorted(set(used) - codes)


# --- headers the clients act on ----------------------------------------------------------


def test_the_headers_clients_act_on_are_declared() -> None:
    """A 429 says when to retry; a 401 for a bearer token carries the challenge that tells
    the app to refresh. Both are in the document wherever those answers are."""
    missing = []
    for label, operation in operations():
        for status, response in operation.get("responses", {}).items():
            declared = response.get("headers", {})
            description = response.get("description", "")
            if status == "429" and "Retry-After" not in declared:
                missing.append(f"{label} → 429 without Retry-After")
            if "`TOKEN_INVALID`" in description and "WWW-Authenticate" not in declared:
                missing.append(f"{label} → {status} without WWW-Authenticate")
    assert not missing, "\n".join(missing)
    assert any("429" in op.get("responses", {}) for _, op in operations())
