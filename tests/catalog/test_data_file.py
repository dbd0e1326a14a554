"""The reviewed catalog file keeps its rules; each broken rule is reported by entry and name."""

from __future__ import annotations

import copy
from collections.abc import Callable
from typing import Any

import pytest
import yaml

from backend.catalog.data_file import (
    BUNDLED_CATALOG,
    CatalogFileError,
    load_catalog_file,
    parse_catalog,
)

Doc = dict[str, Any]
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
_DUMPER: Any = getattr(yaml, "CSafeDumper", yaml.SafeDumper)


@pytest.fixture(scope="module")
def bundled_document() -> Doc:
    return yaml.load(BUNDLED_CATALOG.read_bytes(), Loader=_LOADER)  # type: ignore[no-any-return]


@pytest.fixture
def document(bundled_document: Doc) -> Doc:
    return copy.deepcopy(bundled_document)


def _dump(doc: Doc) -> str:
    return yaml.dump(doc, Dumper=_DUMPER, allow_unicode=True)


def test_bundled_catalog_keeps_every_rule() -> None:
    catalog, sha = load_catalog_file(BUNDLED_CATALOG)
    assert len(catalog.services) == 238
    assert {d.code for d in catalog.domains} == {
        "healthcare",
        "social_security",
        "housing",
        "transport",
        "education",
    }
    assert len(sha) == 64
    applications = [s for s in catalog.services if s.kind == "application"]
    assert applications and all(s.trips in (0, 1) for s in applications)
    assert {r.code for r in catalog.regions} == {
        "340102",
        "340103",
        "340104",
        "340111",
        "340121",
        "340122",
        "340123",
        "340124",
        "340181",
    }


def _first(kind: str) -> Callable[[Doc], Doc]:
    return lambda doc: next(s for s in doc["services"] if s["kind"] == kind)


BROKEN: dict[str, Callable[[Doc], None]] = {
    "service-count": lambda doc: doc["services"].pop(),
    "domain-set": lambda doc: doc["domains"].append(
        {"code": "tourism", "name_zh": "文旅", "name_en": "Tourism", "sort": 6}
    ),
    "unique-code": lambda doc: doc["services"][1].update(code=doc["services"][0]["code"]),
    "unique-name": lambda doc: doc["services"][1].update(name_zh=doc["services"][0]["name_zh"]),
    "trips-at-most-one": lambda doc: _first("application")(doc).update(trips=2),
    "promised-within-statutory": lambda doc: _first("application")(doc).update(
        promised_days=99, statutory_days=5
    ),
    "materials-required": lambda doc: _first("application")(doc).update(materials=[]),
    "form-schema-required": lambda doc: _first("application")(doc).pop("form_schema"),
    "form-schema-valid": lambda doc: _first("application")(doc).update(
        form_schema={"type": "objekt"}
    ),
    "owner-reviews": lambda doc: _first("application")(doc).update(review_departments=["hf-tax"]),
    "application-fields": lambda doc: _first("query")(doc).update(trips=0),
    "region-exists": lambda doc: doc["services"][0].update(regions=["999999"]),
    "department-exists": lambda doc: doc["services"][0].update(department="hf-nobody"),
    "domain-exists": lambda doc: doc["services"][0].update(domain="tourism"),
    "adapter-binding": lambda doc: _first("guide")(doc).update(
        adapter={"id": "hospital", "operation": "slots"}
    ),
    "service-exists": lambda doc: doc["life_events"][0]["services"].append("no-such-service"),
    "schema:missing": lambda doc: doc["services"][0].pop("name_en"),
    "schema:extra_forbidden": lambda doc: doc["services"][0].update(colour="red"),
    "schema:literal_error": lambda doc: doc["services"][0].update(kind="teleport"),
}


@pytest.mark.parametrize("rule", sorted(BROKEN))
def test_each_broken_rule_is_named(rule: str, document: Doc) -> None:
    BROKEN[rule](document)
    with pytest.raises(CatalogFileError) as refused:
        parse_catalog(_dump(document), source="edited.yaml")
    rules = [p.rule for p in refused.value.problems]
    assert rule in rules, refused.value
    assert str(refused.value).startswith("edited.yaml: ")


def test_problem_names_the_entry_by_index_and_code(document: Doc) -> None:
    code = document["services"][5]["code"]
    document["services"][5]["min_level"] = 7
    with pytest.raises(CatalogFileError) as refused:
        parse_catalog(_dump(document))
    (problem,) = refused.value.problems
    assert problem.entry == f"services[5] ({code}).min_level"
    assert problem.rule == "schema:less_than_equal"
