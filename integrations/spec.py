"""Declarative HTTP adapters: a spec file (YAML or JSON) describes a department system.

Loading a spec expands ``${VAR}`` / ``${VAR:-default}`` from the given variables,
validates it against ``spec_schema.json`` (every error reported with its path and
rule), compiles every expression, and returns a ``SpecAdapter``. A spec that fails
any of that is refused whole with a ``SpecError``.
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path
from typing import Any

import jsonschema
import yaml

from integrations.base import DEFAULT_CONCURRENCY, OperationInfo
from integrations.expressions import (
    CompiledMapping,
    Expression,
    ExpressionError,
    Template,
    compile_expression,
    value_depth,
)

SCHEMA_PATH = Path(__file__).parent / "spec_schema.json"
# Specs arrive from providers over the API, and copying, validating and storing a document
# recurses once per level: 300 nested objects anywhere in it were a RecursionError (a 500).
# The bundled specs nest 8 levels at most (a parameter schema included).
MAX_SPEC_DEPTH = 32
_VARIABLE = re.compile(r"\$\{([A-Z][A-Z0-9_]*)(?::-([^}]*))?\}")
_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@dataclass(frozen=True)
class SpecProblem:
    path: str
    rule: str
    message: str

    def __str__(self) -> str:
        return f"{self.path}: [{self.rule}] {self.message}"


class SpecError(Exception):
    def __init__(self, source: str, problems: list[SpecProblem]) -> None:
        self.source = source
        self.problems = problems
        listed = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"{source}: {len(problems)} problem(s) in the adapter spec\n{listed}")


@cache
def spec_schema() -> dict[str, Any]:
    schema: dict[str, Any] = json.loads(SCHEMA_PATH.read_text(encoding="utf-8"))
    return schema


@dataclass(frozen=True)
class ResponseFormat:
    format: str = "json"
    charset: str | None = None
    separator: str = "|"
    list_tags: tuple[str, ...] = ()


@dataclass(frozen=True)
class Pagination:
    page_param: str
    size_param: str | None
    first_page: int
    size: int
    items: Expression
    total: Expression
    max_pages: int


@dataclass(frozen=True)
class OperationSpec:
    info: OperationInfo
    method: str
    path: Template
    query: CompiledMapping
    headers: CompiledMapping
    body: CompiledMapping | None
    body_template: Template | None
    request_format: str
    response: ResponseFormat
    success: Expression | None
    error_code: Expression | None
    error_message: Expression | None
    operational_codes: frozenset[str]
    result: Expression
    requires: tuple[str, ...]
    paginate: Pagination | None
    skip_auth: bool = False


@dataclass(frozen=True)
class AdapterSpec:
    id: str
    name_zh: str
    name_en: str
    base_url: str
    secrets: Mapping[str, str]
    auth: Mapping[str, Any]
    concurrency: int
    max_response_bytes: int
    operations: Mapping[str, OperationSpec]
    raw: Mapping[str, Any]  # the validated document, secrets included: never return it to users


class StrictVariables(dict[str, str]):
    """Variables for production: a spec's ``${VAR:-default}`` defaults (sandbox URLs and
    development keys) are refused, so every department must be configured explicitly."""


def expand_variables(value: Any, variables: Mapping[str, str], path: str = "") -> Any:
    """Replace ``${VAR}`` and ``${VAR:-default}`` in every string of a parsed document."""
    if isinstance(value, str):

        def substitute(match: re.Match[str]) -> str:
            name, default = match.group(1), match.group(2)
            if name in variables:
                return variables[name]
            if default is not None and not isinstance(variables, StrictVariables):
                return default
            raise SpecError("<spec>", [SpecProblem(path or "/", "variable", f"${{{name}}} unset")])

        return _VARIABLE.sub(substitute, value)
    if isinstance(value, dict):
        return {k: expand_variables(v, variables, f"{path}/{k}") for k, v in value.items()}
    if isinstance(value, list):
        return [expand_variables(v, variables, f"{path}/{i}") for i, v in enumerate(value)]
    return value


def load_spec_file(path: Path, variables: Mapping[str, str]) -> AdapterSpec:
    try:
        document = yaml.load(path.read_bytes(), Loader=_LOADER)
    except (OSError, yaml.YAMLError) as exc:
        raise SpecError(str(path), [SpecProblem("/", "syntax", str(exc))]) from exc
    try:
        return parse_spec(document, variables)
    except SpecError as exc:
        raise SpecError(str(path), exc.problems) from None


def depth_problem(document: Any) -> SpecProblem | None:
    """The spec nests deeper than ``MAX_SPEC_DEPTH``: refuse it before anything walks it."""
    depth = value_depth(document)
    if depth <= MAX_SPEC_DEPTH:
        return None
    return SpecProblem(
        "/", "depth", f"the spec nests {depth} levels deep; at most {MAX_SPEC_DEPTH} are allowed"
    )


def parse_spec(document: Any, variables: Mapping[str, str]) -> AdapterSpec:
    """Validate and compile one spec document, reporting every problem at once."""
    if (too_deep := depth_problem(document)) is not None:
        raise SpecError("<spec>", [too_deep])
    document = expand_variables(document, variables)
    validator = jsonschema.Draft202012Validator(spec_schema())
    problems = [
        SpecProblem(
            "/" + "/".join(str(p) for p in error.absolute_path),
            str(error.validator),
            error.message,
        )
        for error in sorted(validator.iter_errors(document), key=lambda e: list(e.absolute_path))
    ]
    if problems:
        raise SpecError("<spec>", problems)
    operations: dict[str, OperationSpec] = {}
    for name, op in document["operations"].items():
        try:
            operations[name] = _compile_operation(name, op, document.get("defaults", {}))
        except ExpressionError as exc:
            problems.append(SpecProblem(f"/operations/{name}", "expression", str(exc)))
        except ValueError as exc:
            problems.append(SpecProblem(f"/operations/{name}", "operation", str(exc)))
    auth = dict(document.get("auth", {"scheme": "none"}))
    if "token_url" in auth and auth["token_url"].startswith("/"):
        auth["token_url"] = document["base_url"].rstrip("/") + auth["token_url"]
    if problems:
        raise SpecError("<spec>", problems)
    return AdapterSpec(
        id=document["id"],
        name_zh=document["name_zh"],
        name_en=document["name_en"],
        base_url=document["base_url"].rstrip("/"),
        secrets=dict(document.get("secrets", {})),
        auth=auth,
        concurrency=document.get("concurrency", DEFAULT_CONCURRENCY),
        max_response_bytes=document.get("max_response_bytes", 2 * 1024 * 1024),
        operations=operations,
        raw=document,
    )


def _optional(source: str | None) -> Expression | None:
    return compile_expression(source) if source else None


def _revision(definition: Mapping[str, Any]) -> str:
    """A digest of the operation's whole definition (defaults applied): the same in every
    worker that loaded the same spec, different once anything about the call changes."""
    canonical = json.dumps(definition, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]


def _compile_operation(
    name: str, op: Mapping[str, Any], defaults: Mapping[str, Any]
) -> OperationSpec:
    merged = {**defaults, **op}
    response = {**defaults.get("response", {}), **op.get("response", {})}
    method = op["method"]
    fmt = op.get("request_format", "xml" if "body_template" in op else "json")
    if "body" in op and "body_template" in op:
        raise ValueError("give either body or body_template, not both")
    if fmt == "xml" and "body_template" not in op:
        raise ValueError("request_format xml needs a body_template")
    idempotent = op.get("idempotent", method in ("GET", "DELETE"))
    attempts = op.get("retry", {}).get("attempts", 1)
    if attempts > 1 and not idempotent:
        raise ValueError("only idempotent operations may be retried")
    paginate = op.get("paginate")
    has_body = method in ("POST", "PUT", "PATCH") or "body" in op or "body_template" in op
    info = OperationInfo(
        name=name,
        summary_zh=op["summary_zh"],
        summary_en=op["summary_en"],
        params_schema=op.get("params", {"type": "object", "properties": {}}),
        idempotent=idempotent,
        retry_attempts=attempts,
        timeout=float(merged.get("timeout", 5.0)),
        cache_ttl=float(op.get("cache_ttl", 0)),
        probe_safe=bool(op.get("probe_safe", False)),
        probe_params=op.get("probe_params", {}),
        revision=_revision(merged | {"response": response}),
    )
    return OperationSpec(
        info=info,
        method=method,
        path=Template.compile(op["path"]),
        query=CompiledMapping.compile(op.get("query")),
        headers=CompiledMapping.compile(op.get("headers")),
        body=CompiledMapping.compile(op.get("body")) if has_body and fmt != "xml" else None,
        body_template=Template.compile(op["body_template"]) if "body_template" in op else None,
        request_format=fmt,
        response=ResponseFormat(
            format=response.get("format", "json"),
            charset=response.get("charset"),
            separator=response.get("separator", "|"),
            list_tags=tuple(response.get("list_tags", ())),
        ),
        success=_optional(merged.get("success")),
        error_code=_optional(merged.get("error_code")),
        error_message=_optional(merged.get("error_message")),
        operational_codes=frozenset(str(c) for c in merged.get("operational_codes", ())),
        result=compile_expression(op["result"]),
        requires=tuple(op.get("requires", ())),
        skip_auth=bool(op.get("skip_auth", False)),
        paginate=Pagination(
            page_param=paginate["page_param"],
            size_param=paginate.get("size_param"),
            first_page=paginate.get("first_page", 1),
            size=paginate.get("size", 20),
            items=compile_expression(paginate["items"]),
            total=compile_expression(paginate["total"]),
            max_pages=paginate.get("max_pages", 10),
        )
        if paginate
        else None,
    )
