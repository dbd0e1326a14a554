"""Encoding request bodies and decoding department replies into plain Python data.

Every reply format ends up as dicts, lists and strings, so one mapping language
(JMESPath) serves JSON, XML/SOAP and the key=value text of legacy systems alike.
"""

from __future__ import annotations

import json
from collections.abc import Collection, Mapping
from typing import Any
from urllib.parse import urlencode
from xml.etree.ElementTree import Element

import defusedxml.ElementTree as SafeET
import orjson
from defusedxml import DefusedXmlException

from integrations.transport import IncomingResponse


class DecodeError(Exception):
    """The reply cannot be read as the format and charset it should have."""


def _scalar_text(value: Any) -> str:
    if isinstance(value, str):
        return value
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int | float):
        return str(value)
    return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


def encode_body(
    fmt: str, fields: Mapping[str, Any] | None, rendered: str | None
) -> tuple[bytes, str]:
    """(body, content type) for a request body of format ``json``, ``form`` or ``xml``."""
    if fmt == "json":
        return orjson.dumps(fields or {}), "application/json; charset=utf-8"
    if fmt == "form":
        pairs = [(k, _scalar_text(v)) for k, v in (fields or {}).items()]
        return urlencode(pairs).encode(), "application/x-www-form-urlencoded"
    if fmt == "xml":
        return (rendered or "").encode("utf-8"), "text/xml; charset=utf-8"
    raise ValueError(f"unknown request format {fmt!r}")


def decode_response(
    response: IncomingResponse,
    fmt: str,
    *,
    charset: str | None = None,
    list_tags: Collection[str] = (),
    separator: str = "|",
) -> Any:
    """Decode a reply of format ``json``, ``xml``, ``kv_text`` or ``text``."""
    declared = response.charset or charset or "utf-8"
    if fmt == "json" and declared.lower() in ("utf-8", "utf8"):
        # orjson reads the bytes directly and refuses invalid UTF-8 itself: no decode step.
        try:
            return orjson.loads(response.body)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"not JSON: {exc}") from exc
    text = _text(response.body, declared)
    if fmt == "json":
        try:
            return orjson.loads(text)
        except orjson.JSONDecodeError as exc:
            raise DecodeError(f"not JSON: {exc}") from exc
    if fmt == "xml":
        return xml_to_data(text, list_tags=frozenset(list_tags))
    if fmt == "kv_text":
        return kv_text_to_data(text, separator)
    if fmt == "text":
        return text
    raise ValueError(f"unknown response format {fmt!r}")


def _text(body: bytes, charset: str) -> str:
    codec = charset.lower().replace("_", "-")
    if codec in ("gbk", "gb2312", "gb18030", "cp936"):
        # A legacy system that claims GBK but sends UTF-8 would decode into mojibake rather
        # than fail: real GBK Chinese text is almost never valid UTF-8, so treat that as a lie.
        if not body.isascii():
            try:
                body.decode("utf-8")
            except UnicodeDecodeError:
                pass
            else:
                raise DecodeError("declared GBK but the body is UTF-8")
        codec = "gb18030"  # a superset of GBK and GB2312
    try:
        return body.decode(codec)
    except (UnicodeDecodeError, LookupError) as exc:
        raise DecodeError(f"body is not valid {charset}") from exc


def xml_to_data(text: str, *, list_tags: frozenset[str] = frozenset()) -> dict[str, Any]:
    """XML to nested dicts keyed by local names (namespaces dropped); leaves become strings.

    Repeated children become lists; tags named in ``list_tags`` are lists even when
    they occur once, so "one item" and "many items" map the same way.
    """
    try:
        root = SafeET.fromstring(text)
    except (SafeET.ParseError, DefusedXmlException) as exc:
        raise DecodeError(f"not well-formed XML: {exc}") from exc
    return {_local(root.tag): _element_data(root, list_tags)}


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _element_data(element: Element, list_tags: frozenset[str]) -> Any:
    children = list(element)
    if not children:
        return (element.text or "").strip() or None
    data: dict[str, Any] = {}
    for child in children:
        name = _local(child.tag)
        value = _element_data(child, list_tags)
        if name in data:
            existing = data[name]
            # Element values are never lists themselves, so a list here is our own grouping.
            if isinstance(existing, list):
                existing.append(value)
            else:
                data[name] = [existing, value]
        else:
            data[name] = [value] if name in list_tags else value
    return data


def kv_text_to_data(text: str, separator: str) -> dict[str, str]:
    """``A=1|B=2`` to ``{"A": "1", "B": "2"}``; anything else is malformed."""
    data: dict[str, str] = {}
    for part in text.strip().split(separator):
        key, sep, value = part.partition("=")
        if not sep or not key.strip():
            raise DecodeError("not a key=value list")
        data[key.strip()] = value.strip()
    return data
