"""Breaking changes between two OpenAPI 3.x documents.

The app and the mini-programs ship on their own release trains: a build in users' hands
keeps calling the API it was written against. ``compare_documents(released, current)``
compares the last released document (``openapi/released/openapi.json``) with the current
one and names every change that would break such a build, each with *where the broken
promise was made* (a JSON pointer into the released document) and *where clients meet it*
(the operation, the status and media type or the parameter, and the field path).

The rules (their names appear in the report):

``path-removed``, ``operation-removed``
    A path or one of its methods is gone. Paths are matched by template, so renaming a
    path parameter (``{id}`` → ``{application_id}``) changes nothing for a client.
``response-removed``, ``response-media-type-removed``
    A 2xx status, or a media type of one, is no longer documented.
``response-field-removed``
    A property of a response body is gone; a rename is a removal. Bodies are followed
    through ``$ref`` (``components/schemas``, ``/responses``, ``/requestBodies``,
    ``/parameters``), nested objects, arrays, maps (``additionalProperties``), ``allOf``
    (merged) and ``anyOf``/``oneOf`` (branches paired by component name, else by position,
    else by type; ``null`` branches ignored). Every 2xx body is compared, whatever its
    media type, and so are error bodies (``application/problem+json``: clients branch on
    its ``code``) as long as their status is still documented.
``request-field-now-required``, ``request-body-now-required``, ``request-media-type-removed``
    A request body property became required (a new required property, or an optional one
    made required, at any depth the client already sends), the body itself became
    required, or a media type the client sends is no longer accepted.
``parameter-now-required``, ``new-required-parameter``
    A query, header, path or cookie parameter that was optional, or absent, is required.
``enum-value-removed``
    An ``enum`` (or ``const``) lost a value, in a request or in a response.
``response-type-changed``
    A response body, or a field of one, names another JSON ``type`` than before (a list
    that became a page object, a number that became a string).

Not breaks: anything added that a client may ignore (paths, operations, optional fields
and parameters, enum values, error statuses), removed optional parameters and request
fields (the server ignores what it no longer reads), summaries, descriptions, examples.
Deliberately out of scope for now: request type changes, format changes, tightened
constraints (length, pattern, range), a response field made optional or nullable, a
``oneOf`` variant removed from a request, response headers, security requirements.

A current document whose ``info.version`` is higher than the released one passes whatever
its breaks: that is a deliberate break, announced by the version (see openapi/README.md).

Why hand-written rather than a library: none that is well kept fits. ``oasdiff``, the
reference tool, is a Go binary published on neither PyPI nor npm; ``@pb33f/openapi-changes``
on npm is a wrapper whose postinstall script downloads a Go binary from outside the registry
(so the lock file pins nothing, and it cannot install on our machines); Yelp's
``swagger-spec-compatibility`` reads Swagger 2.0 only and has had no release since 2021; the
PyPI packages that claim OpenAPI 3 breaking-change detection (``api-schema-diff``,
``api-diff-sentinel``, ``breakwatch``, ``openapispecdiff``…) are recent or abandoned and little
used (none is among PyPI's 15,000 most downloaded). The rules above take this module and
``documents.py`` (reading the documents), with a test for each rule.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal, NamedTuple

from backend.contracts.documents import (
    PATH_PARAMETER,
    Json,
    Operation,
    SchemaView,
    alternative,
    alternatives,
    as_mapping,
    canonical,
    child,
    pair_alternatives,
    resolve,
    schema_view,
)

Direction = Literal["request", "response"]

METHODS = ("get", "put", "post", "delete", "options", "head", "patch", "trace")


@dataclass(frozen=True)
class Break:
    """One broken promise: ``pointer`` is where the released document made it (a JSON
    pointer such as ``#/components/schemas/ApplicationOut/properties/number``) and
    ``seen_at`` every place a client meets it (``GET /v1/x → 200 application/json $.a``)."""

    rule: str
    pointer: str
    message: str
    seen_at: tuple[str, ...]


@dataclass(frozen=True)
class Report:
    released_version: str
    current_version: str
    breaks: tuple[Break, ...]

    @property
    def version_bumped(self) -> bool:
        return version_is_higher(self.current_version, self.released_version)

    @property
    def passed(self) -> bool:
        """No break, or breaks announced by a higher ``info.version``."""
        return not self.breaks or self.version_bumped


def compare_documents(released: Json, current: Json) -> Report:
    """Every break of ``released``'s promises in ``current``; raises ``ValueError`` if either
    is not an OpenAPI 3.x document."""
    for name, document in (("released", released), ("current", current)):
        if not str(document.get("openapi", "")).startswith("3."):
            raise ValueError(f"the {name} document is not OpenAPI 3.x")
    comparer = _Comparer(released, current)
    comparer.compare_paths()
    return Report(
        released_version=_version(released),
        current_version=_version(current),
        breaks=comparer.breaks(),
    )


def version_is_higher(current: str, released: str) -> bool:
    """``current`` > ``released`` for dotted numbers (``0.10.0`` > ``0.9.1``); any other
    spelling counts as bumped when it differs."""

    def key(version: str) -> tuple[int, ...] | None:
        match = re.fullmatch(r"v?(\d+(?:\.\d+)*)", version.strip())
        if match is None:
            return None
        numbers = [int(part) for part in match.group(1).split(".")]
        while len(numbers) > 1 and numbers[-1] == 0:
            numbers.pop()  # 1.0.0 == 1.0 == 1
        return tuple(numbers)

    ours, theirs = key(current), key(released)
    if ours is None or theirs is None:
        return current != released
    return ours > theirs


def _version(document: Json) -> str:
    info = document.get("info")
    return str(info.get("version", "")) if isinstance(info, Mapping) else ""


# --- the walk -------------------------------------------------------------------------


class _Comparer:
    """Walks the released document and looks each promise up in the current one. Breaks are
    grouped by (rule, pointer, message): a field removed from a shared component is one break
    listing every operation that returns it."""

    def __init__(self, old: Json, new: Json) -> None:
        self.old = old
        self.new = new
        self._found: dict[tuple[str, str, str], list[str]] = {}

    def report(self, rule: str, pointer: str, message: str, seen_at: str) -> None:
        places = self._found.setdefault((rule, pointer, message), [])
        if seen_at not in places:
            places.append(seen_at)

    def breaks(self) -> tuple[Break, ...]:
        return tuple(
            Break(rule, pointer, message, tuple(places))
            for (rule, pointer, message), places in self._found.items()
        )

    def compare_paths(self) -> None:
        old_paths, new_paths = as_mapping(self.old.get("paths")), as_mapping(self.new.get("paths"))
        new_by_template = {PATH_PARAMETER.sub("{}", path): path for path in new_paths}
        for path in sorted(old_paths):
            old_item, item_pointer = resolve(self.old, old_paths[path], child("#/paths", path))
            new_path = new_by_template.get(PATH_PARAMETER.sub("{}", path))
            if new_path is None:
                self.report("path-removed", item_pointer, f"path {path} was removed", path)
                continue
            new_item, new_pointer = resolve(
                self.new, new_paths[new_path], child("#/paths", new_path)
            )
            for method in METHODS:
                if not isinstance(old_item.get(method), Mapping):
                    continue
                label = f"{method.upper()} {path}"
                if not isinstance(new_item.get(method), Mapping):
                    pointer = child(item_pointer, method)
                    self.report("operation-removed", pointer, f"{label} was removed", label)
                    continue
                old_op = Operation(path, old_item, item_pointer, method)
                new_op = Operation(new_path, new_item, new_pointer, method)
                self.compare_parameters(label, old_op, new_op)
                self.compare_request_body(label, old_op, new_op)
                self.compare_responses(label, old_op, new_op)

    def compare_parameters(self, label: str, old_op: Operation, new_op: Operation) -> None:
        old_params, new_params = old_op.parameters(self.old), new_op.parameters(self.new)
        for key, (new_param, _) in new_params.items():
            if not _required(new_param):
                continue
            what = _describe(new_param)
            if key not in old_params:
                self.report("new-required-parameter", old_op.pointer, f"new required {what}", label)
            elif not _required(old_params[key][0]):
                pointer = old_params[key][1]
                self.report("parameter-now-required", pointer, f"{what} is now required", label)
        for key, (old_param, old_pointer) in old_params.items():
            if key in new_params and "schema" in old_param and "schema" in new_param:
                new_param, new_pointer = new_params[key]
                self.compare_schema(
                    _Side(old_param["schema"], child(old_pointer, "schema")),
                    _Side(new_param["schema"], child(new_pointer, "schema")),
                    _Place("request", f"{label} → {_describe(old_param)}", ""),
                )

    def compare_request_body(self, label: str, old_op: Operation, new_op: Operation) -> None:
        old_body, old_pointer = old_op.request_body(self.old)
        new_body, new_pointer = new_op.request_body(self.new)
        if new_body.get("required") and not old_body.get("required"):
            self.report("request-body-now-required", old_pointer, "the body is now required", label)
        if not new_body:
            return  # the server no longer reads a body: what clients send is ignored
        old_content = as_mapping(old_body.get("content"))
        new_content = as_mapping(new_body.get("content"))
        for media_type in sorted(old_content):
            pointer = child(old_pointer, "content", media_type)
            if media_type not in new_content:
                message = f"a {media_type} body is no longer accepted"
                self.report("request-media-type-removed", pointer, message, label)
                continue
            self.compare_media(
                _Side(old_content[media_type], pointer),
                _Side(new_content[media_type], child(new_pointer, "content", media_type)),
                _Place("request", f"{label} → request body {media_type}", "$"),
            )

    def compare_responses(self, label: str, old_op: Operation, new_op: Operation) -> None:
        old_responses = as_mapping(old_op.operation.get("responses"))
        new_responses = as_mapping(new_op.operation.get("responses"))
        for status in sorted(old_responses):
            success = str(status).startswith("2")
            raw_pointer = child(old_op.pointer, "responses", status)
            if status not in new_responses:
                if success:
                    message = f"response {status} is no longer documented"
                    self.report("response-removed", raw_pointer, message, label)
                continue
            old_response, old_pointer = resolve(self.old, old_responses[status], raw_pointer)
            new_response, new_pointer = resolve(
                self.new, new_responses[status], child(new_op.pointer, "responses", status)
            )
            old_content = as_mapping(old_response.get("content"))
            new_content = as_mapping(new_response.get("content"))
            for media_type in sorted(old_content):
                pointer = child(old_pointer, "content", media_type)
                if media_type not in new_content:
                    if success:
                        message = f"response {status} no longer comes as {media_type}"
                        self.report("response-media-type-removed", pointer, message, label)
                    continue
                self.compare_media(
                    _Side(old_content[media_type], pointer),
                    _Side(new_content[media_type], child(new_pointer, "content", media_type)),
                    _Place("response", f"{label} → {status} {media_type}", "$"),
                )

    def compare_media(self, old: _Side, new: _Side, place: _Place) -> None:
        old_schema = as_mapping(old.node).get("schema")
        new_schema = as_mapping(new.node).get("schema")
        if isinstance(old_schema, Mapping) and isinstance(new_schema, Mapping):
            self.compare_schema(
                _Side(old_schema, child(old.pointer, "schema")),
                _Side(new_schema, child(new.pointer, "schema")),
                place,
            )

    def compare_schema(
        self, old: _Side, new: _Side, place: _Place, stack: frozenset[tuple[str, str]] = frozenset()
    ) -> None:
        old_schema, old_pointer = resolve(self.old, old.node, old.pointer)
        new_schema, new_pointer = resolve(self.new, new.node, new.pointer)
        if (old_pointer, new_pointer) in stack:
            return  # a recursive schema: this pair is already being compared further up
        stack = stack | {(old_pointer, new_pointer)}
        old_alternatives = alternatives(self.old, old_schema, old_pointer)
        new_alternatives = alternatives(self.new, new_schema, new_pointer)
        if old_alternatives is None and new_alternatives is None:
            old_view = schema_view(self.old, old_schema, old_pointer)
            new_view = schema_view(self.new, new_schema, new_pointer)
            self._compare_one(old_view, new_view, old_pointer, place, stack)
            return
        pairs = pair_alternatives(
            old_alternatives or [alternative(old_schema, old_pointer)],
            new_alternatives or [alternative(new_schema, new_pointer)],
        )
        for old_alt, new_alt in pairs:
            self.compare_schema(
                _Side(old_alt.schema, old_alt.pointer),
                _Side(new_alt.schema, new_alt.pointer),
                place,
                stack,
            )

    def _compare_one(
        self,
        old: SchemaView,
        new: SchemaView,
        old_pointer: str,
        place: _Place,
        stack: frozenset[Any],
    ) -> None:
        if old.enum is not None and new.enum is not None:
            kept = {canonical(value) for value in new.enum[0]}
            lost = [canonical(value) for value in old.enum[0] if canonical(value) not in kept]
            if lost:
                message = f"{place.direction} enum lost {', '.join(lost)}"
                self.report("enum-value-removed", old.enum[1], message, place.seen_at)
        if place.direction == "response":
            if old.type and new.type and old.type[0] != new.type[0]:
                message = f"response is now {new.type[0]}, was {old.type[0]}"
                self.report("response-type-changed", old.type[1], message, place.seen_at)
            for name, (_, pointer) in old.properties.items():
                if name not in new.properties:
                    message = f"response field `{name}` was removed (a rename is a removal)"
                    self.report("response-field-removed", pointer, message, place.at(name).seen_at)
        else:
            for name in sorted(new.required - old.required):
                if name in old.properties:  # optional before: point at the property
                    pointer = old.properties[name][1]
                    message = f"request field `{name}` is now required"
                else:  # new: point at the object that gained it
                    pointer = old_pointer
                    message = f"new required request field `{name}`"
                self.report("request-field-now-required", pointer, message, place.at(name).seen_at)
        for name, (old_prop, old_prop_pointer) in old.properties.items():
            if name in new.properties:
                new_prop, new_prop_pointer = new.properties[name]
                self.compare_schema(
                    _Side(old_prop, old_prop_pointer),
                    _Side(new_prop, new_prop_pointer),
                    place.at(name),
                    stack,
                )
        nested = ((old.items, new.items, "[]"), (old.additional, new.additional, ".*"))
        for old_sub, new_sub, step in nested:
            if old_sub is not None and new_sub is not None:
                self.compare_schema(_Side(*old_sub), _Side(*new_sub), place.step(step), stack)


class _Side(NamedTuple):
    node: Any
    pointer: str


class _Place(NamedTuple):
    """Where in an operation the walk is: request or response, a label, a field path."""

    direction: Direction
    where: str
    field: str

    @property
    def seen_at(self) -> str:
        return f"{self.where} {self.field}" if self.field else self.where

    def at(self, name: str) -> _Place:
        return self._replace(field=f"{self.field}.{name}" if self.field else name)

    def step(self, suffix: str) -> _Place:
        return self._replace(field=self.field + suffix)


def _describe(param: Json) -> str:
    return f"{param.get('in')} parameter `{param.get('name')}`"


def _required(param: Json) -> bool:
    return param.get("in") == "path" or bool(param.get("required"))
