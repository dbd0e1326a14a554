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


def compile_expression(source: str) -> Expression:
    try:
        return Expression(source, jmespath.compile(source))
    except jmespath.exceptions.JMESPathError as exc:
        raise ExpressionError(f"invalid JMESPath {source!r}: {exc}") from exc


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
