"""The catalog data file: its shape, its rules, and the errors that name what broke.

``parse_catalog`` either returns a fully checked ``CatalogFile`` or raises
``CatalogFileError`` listing every broken rule with the entry it was found in, so a
reviewer fixing the file sees all problems at once rather than one per run.
"""

from __future__ import annotations

import hashlib
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Any, Literal

import jsonschema
import yaml
from pydantic import BaseModel, ConfigDict, Field, StringConstraints, ValidationError

BUNDLED_CATALOG = Path(__file__).parent / "data" / "catalog.yaml"

# libyaml's loader when available: the catalog file parses ~10× faster than in pure Python.
_SAFE_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)

EXPECTED_SERVICE_COUNT = 238
EXPECTED_DOMAINS = {"healthcare", "social_security", "housing", "transport", "education"}

ServiceKind = Literal["query", "appointment", "application", "payment", "guide"]
Code = Annotated[str, StringConstraints(pattern=r"^[a-z][a-z0-9_-]{1,63}$")]
RegionCode = Annotated[str, StringConstraints(pattern=r"^\d{6}$")]
Text = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=500)]


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class RegionEntry(_Strict):
    code: RegionCode
    name_zh: Text
    name_en: Text


class DomainEntry(_Strict):
    code: Code
    name_zh: Text
    name_en: Text
    sort: int


class DepartmentEntry(_Strict):
    code: Code
    name_zh: Text
    name_en: Text


class AdapterRef(_Strict):
    id: Code
    operation: Code


class MaterialEntry(_Strict):
    code: Code
    name_zh: Text
    name_en: Text
    e_license: Code | None = None


class ServiceEntry(_Strict):
    code: Code
    domain: Code
    kind: ServiceKind
    name_zh: Text
    name_en: Text
    summary_zh: Text
    summary_en: Text
    department: Code
    min_level: int = Field(ge=0, le=3)
    regions: Literal["all"] | list[RegionCode]
    keywords: list[Text] = Field(default_factory=list)
    adapter: AdapterRef | None
    trips: int | None = None
    promised_days: int | None = None
    statutory_days: int | None = None
    materials: list[MaterialEntry] | None = None
    form_schema: dict[str, Any] | None = None
    review_departments: list[Code] | None = None


class LifeEventEntry(_Strict):
    code: Code
    name_zh: Text
    name_en: Text
    summary_zh: Text
    summary_en: Text
    services: list[Code] = Field(min_length=1)


class CatalogFile(_Strict):
    version: Literal[1]
    regions: list[RegionEntry]
    domains: list[DomainEntry]
    departments: list[DepartmentEntry]
    services: list[ServiceEntry]
    life_events: list[LifeEventEntry]


@dataclass(frozen=True)
class CatalogProblem:
    entry: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.entry}: [{self.rule}] {self.message}"


class CatalogFileError(Exception):
    def __init__(self, source: str, problems: list[CatalogProblem]) -> None:
        self.source = source
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the catalog file\n{listed}")


def load_catalog_file(path: Path) -> tuple[CatalogFile, str]:
    """Read, parse and check a catalog file; returns it with the SHA-256 of its bytes."""
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise CatalogFileError(str(path), [CatalogProblem("file", "readable", str(exc))]) from exc
    return parse_catalog(raw, source=str(path)), hashlib.sha256(raw).hexdigest()


def parse_catalog(raw: bytes | str, *, source: str = "<catalog>") -> CatalogFile:
    try:
        document: Any = yaml.load(raw, Loader=_SAFE_LOADER)
    except yaml.YAMLError as exc:
        raise CatalogFileError(source, [CatalogProblem("file", "yaml-syntax", str(exc))]) from exc
    try:
        catalog = CatalogFile.model_validate(document)
    except ValidationError as exc:
        problems = [
            CatalogProblem(_entry_name(document, err["loc"]), f"schema:{err['type']}", err["msg"])
            for err in exc.errors()
        ]
        raise CatalogFileError(source, problems) from exc
    problems = check_rules(catalog)
    if problems:
        raise CatalogFileError(source, problems)
    return catalog


def _entry_name(document: Any, loc: tuple[int | str, ...]) -> str:
    """``services[12] (hpf-balance-query).promised_days`` from a pydantic error location."""
    parts: list[str] = []
    node = document
    for item in loc:
        if isinstance(item, int):
            label = f"[{item}]"
            try:
                node = node[item]
                if isinstance(node, dict) and "code" in node:
                    label += f" ({node['code']})"
            except (IndexError, KeyError, TypeError):
                node = None
            parts.append(label)
        else:
            parts.append(("." if parts else "") + item)
            node = node.get(item) if isinstance(node, dict) else None
    return "".join(parts) or "file"


def _duplicates(codes: list[str]) -> list[str]:
    return sorted(code for code, n in Counter(codes).items() if n > 1)


def check_rules(catalog: CatalogFile) -> list[CatalogProblem]:
    """The rules a reviewed catalog must keep beyond its shape."""
    problems: list[CatalogProblem] = []

    def fail(entry: str, rule: str, message: str) -> None:
        problems.append(CatalogProblem(entry, rule, message))

    if len(catalog.services) != EXPECTED_SERVICE_COUNT:
        fail(
            "services",
            "service-count",
            f"expected {EXPECTED_SERVICE_COUNT} services, found {len(catalog.services)}",
        )
    domain_codes = {d.code for d in catalog.domains}
    if domain_codes != EXPECTED_DOMAINS or len(catalog.domains) != len(EXPECTED_DOMAINS):
        fail("domains", "domain-set", f"expected exactly {sorted(EXPECTED_DOMAINS)}")
    for section, codes in (
        ("regions", [r.code for r in catalog.regions]),
        ("domains", [d.code for d in catalog.domains]),
        ("departments", [d.code for d in catalog.departments]),
        ("services", [s.code for s in catalog.services]),
        ("life_events", [e.code for e in catalog.life_events]),
    ):
        for dup in _duplicates(codes):
            fail(f"{section} ({dup})", "unique-code", f"code {dup!r} appears more than once")
    for dup in _duplicates([s.name_zh for s in catalog.services]):
        fail(f"services ({dup})", "unique-name", f"name_zh {dup!r} appears more than once")

    regions = {r.code for r in catalog.regions}
    departments = {d.code for d in catalog.departments}
    services = {s.code for s in catalog.services}
    for i, s in enumerate(catalog.services):
        entry = f"services[{i}] ({s.code})"
        if s.domain not in domain_codes:
            fail(entry, "domain-exists", f"unknown domain {s.domain!r}")
        if s.department not in departments:
            fail(entry, "department-exists", f"unknown department {s.department!r}")
        for code in s.review_departments or ():
            if code not in departments:
                fail(entry, "department-exists", f"unknown review department {code!r}")
        if s.regions != "all":
            if not s.regions:
                fail(entry, "regions-non-empty", "regions must be 'all' or a non-empty list")
            for code in s.regions:
                if code not in regions:
                    fail(entry, "region-exists", f"unknown region {code!r}")
        if (s.kind == "guide") != (s.adapter is None):
            fail(entry, "adapter-binding", "guides have adapter null; every other kind needs one")
        _check_application_fields(s, entry, fail)
    for i, event in enumerate(catalog.life_events):
        for code in event.services:
            if code not in services:
                fail(f"life_events[{i}] ({event.code})", "service-exists", f"unknown {code!r}")
    return problems


def _check_application_fields(s: ServiceEntry, entry: str, fail: Any) -> None:
    fields = (
        s.trips,
        s.promised_days,
        s.statutory_days,
        s.materials,
        s.form_schema,
        s.review_departments,
    )
    if s.kind != "application":
        if any(f is not None for f in fields):
            fail(entry, "application-fields", "only applications have trips, days and materials")
        return
    if s.trips is None or s.trips not in (0, 1):
        fail(entry, "trips-at-most-one", f"trips must be 0 or 1, found {s.trips!r}")
    if s.promised_days is None or s.statutory_days is None:
        fail(entry, "days-required", "applications need promised_days and statutory_days")
    elif not 0 <= s.promised_days <= s.statutory_days:
        fail(
            entry,
            "promised-within-statutory",
            f"promised_days {s.promised_days} must be within 0..statutory_days {s.statutory_days}",
        )
    if not s.materials:
        fail(entry, "materials-required", "applications list at least one required material")
    if s.form_schema is None:
        fail(entry, "form-schema-required", "applications need a form_schema")
    else:
        try:
            jsonschema.Draft202012Validator.check_schema(s.form_schema)
        except jsonschema.SchemaError as exc:
            fail(entry, "form-schema-valid", f"form_schema is not a JSON Schema: {exc.message}")
    if s.review_departments is not None and s.department not in s.review_departments:
        fail(entry, "owner-reviews", "review_departments must include the owning department")
