"""JMESPath expressions and ``{expression}`` templates, compiled once when a spec loads."""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote
from xml.sax.saxutils import escape as xml_escape

import jmespath
import jmespath.exceptions
from jmespath.parser import ParsedResult
from jmespath.visitor import TreeInterpreter

_PLACEHOLDER = re.compile(r"\{([^{}]+)\}")

# Expressions come from provider specs over the API, and both jmespath's parser and its
# interpreter recurse once per level of nesting: 5,000 nested brackets in a ``result``
# was a RecursionError (a 500) at registration. The bundled specs' longest expression
# is under 500 characters and their deepest 12 levels, so these leave ample room.
MAX_EXPRESSION_CHARS = 2000
MAX_EXPRESSION_DEPTH = 40


class ExpressionError(Exception):
    """An expression that does not compile, or fails on the data it is applied to."""


# ``ParsedResult.search`` builds a new interpreter (and its method cache) on every call;
# one shared, stateless interpreter makes mapping several times cheaper on the hot path.
_INTERPRETER = TreeInterpreter()

Evaluator = Callable[[Any], Any]


class Expression:
    """A compiled JMESPath expression.

    Most spec expressions are plain paths (``caller.id_number``), literals or a
    projection into an object (``data.{a: b}``); those are turned into direct dict
    lookups once, which makes them several times cheaper than walking the AST with
    JMESPath's interpreter on every call. Anything else is interpreted as usual.
    The fast forms follow JMESPath's semantics exactly (a missing key or a non-object
    gives null; an object projection of null is null).
    """

    __slots__ = ("_fast", "parsed", "source")

    def __init__(self, source: str, parsed: ParsedResult) -> None:
        self.source = source
        self.parsed = parsed
        self._fast = _fast_evaluator(parsed.parsed)

    def search(self, data: Any) -> Any:
        if self._fast is not None:
            return self._fast(data)
        return _INTERPRETER.visit(self.parsed.parsed, data)


def _fast_evaluator(node: Any) -> Evaluator | None:  # a jmespath AST node
    kind = node["type"]
    if kind == "field":
        key = node["value"]
        return lambda value: value.get(key) if isinstance(value, dict) else None
    if kind == "literal":
        constant = node["value"]
        return lambda _value: constant
    if kind == "subexpression":
        steps = [_fast_evaluator(child) for child in node["children"]]
        if any(step is None for step in steps):
            return None
        chain: list[Evaluator] = [step for step in steps if step is not None]

        def walk(value: Any) -> Any:
            for step in chain:
                value = step(value)
            return value

        return walk
    if kind == "multi_select_dict":
        pairs = [
            (child["value"], _fast_evaluator(child["children"][0])) for child in node["children"]
        ]
        if any(evaluator is None for _, evaluator in pairs):
            return None
        compiled: list[tuple[str, Evaluator]] = [(k, e) for k, e in pairs if e is not None]
        return lambda value: None if value is None else {k: e(value) for k, e in compiled}
    return None


def value_depth(value: Any) -> int:
    """Levels of nesting of a JSON-like value (a scalar is 1), counted without recursing."""
    deepest, stack = 0, [(value, 1)]
    while stack:
        current, level = stack.pop()
        deepest = max(deepest, level)
        if isinstance(current, dict):
            stack.extend((child, level + 1) for child in current.values())
        elif isinstance(current, list):
            stack.extend((child, level + 1) for child in current)
    return deepest


def _depth(node: Any) -> int:
    """Levels of the AST, a literal's own nesting included (`[[[…]]]` in backticks is one
    node holding a deep value that later steps would walk recursively)."""
    deepest, stack = 0, [(node, 1)]
    while stack:
        current, level = stack.pop()
        if not isinstance(current, dict):
            continue  # a slice's bounds are plain numbers
        if current.get("type") == "literal":
            level += value_depth(current.get("value")) - 1
        deepest = max(deepest, level)
        stack.extend((child, level + 1) for child in current.get("children", ()))
    return deepest


def _excerpt(source: str) -> str:
    return repr(source if len(source) <= 60 else source[:60] + "…")


def compile_expression(source: str) -> Expression:
    """Compile ``source``; ``ExpressionError`` when it is not JMESPath, is longer than
    ``MAX_EXPRESSION_CHARS`` or nests deeper than ``MAX_EXPRESSION_DEPTH``."""
    if len(source) > MAX_EXPRESSION_CHARS:
        raise ExpressionError(
            f"expression {_excerpt(source)} is {len(source)} characters long;"
            f" at most {MAX_EXPRESSION_CHARS} are allowed"
        )
    try:
        parsed = jmespath.compile(source)
    except jmespath.exceptions.JMESPathError as exc:
        raise ExpressionError(f"invalid JMESPath {_excerpt(source)}: {exc}") from exc
    except RecursionError:
        # The parser gave up before the depth could be counted; the bound below is lower.
        raise ExpressionError(
            f"expression {_excerpt(source)} nests too deeply;"
            f" at most {MAX_EXPRESSION_DEPTH} levels are allowed"
        ) from None
    depth = _depth(parsed.parsed)
    if depth > MAX_EXPRESSION_DEPTH:
        raise ExpressionError(
            f"expression {_excerpt(source)} nests {depth} levels deep;"
            f" at most {MAX_EXPRESSION_DEPTH} are allowed"
        )
    return Expression(source, parsed)


def evaluate(expression: Expression, data: Any) -> Any:
    try:
        return expression.search(data)
    except jmespath.exceptions.JMESPathError as exc:
        raise ExpressionError(str(exc)) from exc


@dataclass(frozen=True)
class CompiledMapping:
    """``name: expression`` pairs; fields whose expression yields null are left out."""

    fields: tuple[tuple[str, Expression], ...]

    @classmethod
    def compile(cls, mapping: Mapping[str, str] | None) -> CompiledMapping:
        return cls(tuple((name, compile_expression(src)) for name, src in (mapping or {}).items()))

    def render(self, context: Any) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for name, expression in self.fields:
            value = evaluate(expression, context)
            if value is not None:
                out[name] = value
        return out


def _text(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def url_segment(value: Any) -> str:
    return quote(_text(value), safe="")


def xml_text(value: Any) -> str:
    return xml_escape(_text(value), {'"': "&quot;", "'": "&apos;"})


@dataclass(frozen=True)
class Template:
    """Text with ``{expression}`` placeholders; each value is escaped for where it goes."""

    parts: tuple[str | Expression, ...]

    @classmethod
    def compile(cls, source: str) -> Template:
        parts: list[str | Expression] = []
        position = 0
        for match in _PLACEHOLDER.finditer(source):
            parts.append(source[position : match.start()])
            parts.append(compile_expression(match.group(1).strip()))
            position = match.end()
        parts.append(source[position:])
        return cls(tuple(p for p in parts if p != ""))

    def render(self, context: Any, escape: Callable[[Any], str]) -> str:
        return "".join(
            part if isinstance(part, str) else escape(evaluate(part, context))
            for part in self.parts
        )
