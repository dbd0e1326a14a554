"""Reading OpenAPI 3.x documents: JSON pointers, local ``$ref``s, operations, and schemas seen
the way a client relies on them (``allOf`` merged, ``anyOf``/``oneOf`` as alternatives)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NamedTuple

Json = Mapping[str, Any]

_COMPONENT_SCHEMA = re.compile(r"#/components/schemas/([^/]+)")
PATH_PARAMETER = re.compile(r"\{([^}]*)\}")


def load_document(path: Path) -> dict[str, Any]:
    """A JSON OpenAPI document from ``path`` (``OSError``/``ValueError`` if unreadable)."""
    document = json.loads(path.read_text(encoding="utf-8"))
    if not isinstance(document, dict):
        raise ValueError(f"{path} is not an OpenAPI document (not a JSON object)")
    return document


# --- JSON pointers ------------------------------------------------------------------


def child(pointer: str, *tokens: str | int) -> str:
    return pointer + "".join("/" + str(t).replace("~", "~0").replace("/", "~1") for t in tokens)


def lookup(document: Json, pointer: str) -> Any:
    node: Any = document
    for raw in pointer[1:].split("/")[1:]:
        token = raw.replace("~1", "/").replace("~0", "~")
        if isinstance(node, Mapping):
            node = node.get(token)
        elif isinstance(node, list) and token.isdigit() and int(token) < len(node):
            node = node[int(token)]
        else:
            return None
    return node


def resolve(document: Json, node: Any, pointer: str) -> tuple[Json, str]:
    """Follow local ``$ref``s; the pointer returned is where the definition really is."""
    followed: set[str] = set()
    while isinstance(node, Mapping) and isinstance(node.get("$ref"), str):
        ref: str = node["$ref"]
        if not ref.startswith("#") or ref in followed:
            break  # external or circular: compare what is written
        followed.add(ref)
        node, pointer = lookup(document, ref), ref
    return (node if isinstance(node, Mapping) else {}), pointer


def as_mapping(value: Any) -> Json:
    return value if isinstance(value, Mapping) else {}


# --- schema views -------------------------------------------------------------------


class Alternative(NamedTuple):
    """One branch of an ``anyOf``/``oneOf`` (or a schema without any, as its only branch)."""

    schema: Json
    pointer: str
    name: str | None  # its component's name: pairs branches across the two documents


@dataclass
class SchemaView:
    """One schema with its ``allOf`` merged: what a client can rely on."""

    properties: dict[str, tuple[Any, str]] = field(default_factory=dict)
    required: set[str] = field(default_factory=set)
    enum: tuple[list[Any], str] | None = None
    items: tuple[Any, str] | None = None
    additional: tuple[Any, str] | None = None
    type: tuple[str, str] | None = None  # the JSON type named, and where


def schema_view(
    document: Json, schema: Json, pointer: str, into: SchemaView | None = None
) -> SchemaView:
    """Properties, required names, enum, items and map values of ``schema`` and of its
    ``allOf`` members, each with the pointer where it is defined (the first definition wins)."""
    view = into if into is not None else SchemaView()
    for name, prop in as_mapping(schema.get("properties")).items():
        view.properties.setdefault(name, (prop, child(pointer, "properties", name)))
    view.required.update(r for r in schema.get("required") or () if isinstance(r, str))
    if view.enum is None and isinstance(schema.get("enum"), list):
        view.enum = (schema["enum"], child(pointer, "enum"))
    elif view.enum is None and "const" in schema:
        view.enum = ([schema["const"]], child(pointer, "const"))
    if view.type is None and isinstance(schema.get("type"), str):
        view.type = (schema["type"], child(pointer, "type"))
    if view.items is None and isinstance(schema.get("items"), Mapping):
        view.items = (schema["items"], child(pointer, "items"))
    if view.additional is None and isinstance(schema.get("additionalProperties"), Mapping):
        view.additional = (schema["additionalProperties"], child(pointer, "additionalProperties"))
    for index, member in enumerate(schema.get("allOf") or ()):
        resolved, member_pointer = resolve(document, member, child(pointer, "allOf", index))
        if member_pointer != pointer:  # an allOf naming itself would never end
            schema_view(document, resolved, member_pointer, view)
    return view


def alternatives(document: Json, schema: Json, pointer: str) -> list[Alternative] | None:
    """The non-null branches of an ``anyOf``/``oneOf``, or None when there is none."""
    for keyword in ("anyOf", "oneOf"):
        branches = schema.get(keyword)
        if isinstance(branches, list) and branches:
            found = []
            for index, raw in enumerate(branches):
                branch, branch_pointer = resolve(document, raw, child(pointer, keyword, index))
                if branch.get("type") != "null":
                    found.append(alternative(branch, branch_pointer))
            return found
    return None


def alternative(schema: Json, pointer: str) -> Alternative:
    match = _COMPONENT_SCHEMA.fullmatch(pointer)
    return Alternative(schema, pointer, match.group(1) if match else None)


def kind_of(schema: Json) -> object:
    kind = schema.get("type")
    if isinstance(kind, list):
        return tuple(sorted(str(k) for k in kind if k != "null"))
    if kind is None and "properties" in schema:
        return "object"
    return kind


def pair_alternatives(
    old: list[Alternative], new: list[Alternative]
) -> list[tuple[Alternative, Alternative]]:
    """Which new branch each old branch became: same component, else same position when as
    many are left on both sides, else the one new branch of the same type. Unpaired old
    branches are not compared (a response variant the server stopped sending breaks no one)."""
    by_name = {alt.name: index for index, alt in enumerate(new) if alt.name}
    pairs: list[tuple[Alternative, Alternative]] = []
    unpaired: list[Alternative] = []
    taken: set[int] = set()
    for alt in old:
        if alt.name in by_name:
            pairs.append((alt, new[by_name[alt.name]]))
            taken.add(by_name[alt.name])
        else:
            unpaired.append(alt)
    rest = [alt for index, alt in enumerate(new) if index not in taken]
    if len(unpaired) == len(rest):
        pairs.extend(zip(unpaired, rest, strict=True))
        return pairs
    for alt in unpaired:
        same_kind = [
            candidate for candidate in rest if kind_of(candidate.schema) == kind_of(alt.schema)
        ]
        if len(same_kind) == 1:
            pairs.append((alt, same_kind[0]))
    return pairs


def canonical(value: Any) -> str:
    return json.dumps(value, sort_keys=True, ensure_ascii=False)


class Operation(NamedTuple):
    """One method of one path item."""

    path: str
    item: Json
    item_pointer: str
    method: str

    @property
    def operation(self) -> Json:
        return as_mapping(self.item.get(self.method))

    @property
    def pointer(self) -> str:
        return child(self.item_pointer, self.method)

    def parameters(self, document: Json) -> dict[tuple[str, str], tuple[Json, str]]:
        """Path-level and operation-level parameters (the latter win), keyed by location and
        name; path parameters by position, so a renamed one is the same parameter."""
        found: dict[tuple[str, str], tuple[Json, str]] = {}
        owners = ((self.item, self.item_pointer), (self.operation, self.pointer))
        for owner, owner_pointer in owners:
            for index, raw in enumerate(owner.get("parameters") or ()):
                param, pointer = resolve(document, raw, child(owner_pointer, "parameters", index))
                found[self._key(param)] = (param, pointer)
        return found

    def _key(self, param: Json) -> tuple[str, str]:
        location, name = str(param.get("in", "")), str(param.get("name", ""))
        names = PATH_PARAMETER.findall(self.path)
        if location == "path" and name in names:
            return location, str(names.index(name))
        return location, name.lower() if location == "header" else name

    def request_body(self, document: Json) -> tuple[Json, str]:
        pointer = child(self.pointer, "requestBody")
        if "requestBody" not in self.operation:
            return {}, self.pointer
        return resolve(document, self.operation["requestBody"], pointer)
