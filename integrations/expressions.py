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


def compile_expression(source: str) -> ParsedResult:
    try:
        return jmespath.compile(source)
    except jmespath.exceptions.JMESPathError as exc:
        raise ExpressionError(f"invalid JMESPath {source!r}: {exc}") from exc


# ``ParsedResult.search`` builds a new interpreter (and its method cache) on every call;
# one shared, stateless interpreter makes mapping several times cheaper on the hot path.
_INTERPRETER = TreeInterpreter()


def evaluate(expression: ParsedResult, data: Any) -> Any:
    try:
        return _INTERPRETER.visit(expression.parsed, data)
    except jmespath.exceptions.JMESPathError as exc:
        raise ExpressionError(str(exc)) from exc


@dataclass(frozen=True)
class CompiledMapping:
    """``name: expression`` pairs; fields whose expression yields null are left out."""

    fields: tuple[tuple[str, ParsedResult], ...]

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

    parts: tuple[str | ParsedResult, ...]

    @classmethod
    def compile(cls, source: str) -> Template:
        parts: list[str | ParsedResult] = []
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
