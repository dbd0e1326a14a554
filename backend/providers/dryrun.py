"""Dry run: one operation of one version, against the real endpoint, every step shown.

A provider debugging a spec should need nothing but the answer: the request as it was
sent (credentials masked), the reply as it came, the document it decoded to, what the
success check said, and the mapped result, or the step where it went wrong. The call is
made by the spec's own adapter code (the same as in production) over the provider's
guarded transport; the steps after the reply are re-evaluated here from the recorded
exchange for display.

What a trace shows of a reply is bounded, because a dry run is a way to read a host
from inside the platform's network:

* a raw body is an excerpt of at most ``PREVIEW_BYTES``, a decoded document at most
  ``PREVIEW_BYTES`` of its JSON, a mapped value (success, result, the outcome's result)
  at most ``VALUE_BYTES`` of its JSON, an error message at most ``MESSAGE_CHARS``;
* a reply from an internal host the provider is exempted for (``internal_hosts``,
  host:port) shows nothing beyond what the mapping reads: its status, and the values of
  the success and result expressions, never its body, headers or decoded document. An
  internal host is inside the government network, and the exemption is for the
  department's system, not for whatever else the reply carries.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from integrations.base import AdapterError, Caller, InvalidParameters
from integrations.codecs import DecodeError, decode_response
from integrations.expressions import ExpressionError, evaluate, value_depth
from integrations.http_adapter import SpecAdapter
from integrations.spec import AdapterSpec
from integrations.ssrf import HostPolicy
from integrations.transport import IncomingResponse, OutgoingRequest, Transport

PREVIEW_BYTES = 4096
VALUE_BYTES = 16384
MESSAGE_CHARS = 1000
MAX_SHOWN_DEPTH = 64
WITHHELD = (
    "内网主机的应答不显示，只显示映射读取的值。 A reply from an internal host: only what the"
    " mapping reads is shown."
)
_MASKED_HEADERS = {"authorization", "x-api-key", "api-key", "cookie"}
# Who a dry run is made for: a fictitious citizen (the sandbox-style test data of GB
# 11643), so no real person's data is sent while a spec is being debugged.
DRY_RUN_CALLER = Caller(
    subject="dry-run",
    assurance_level=3,
    id_number="340104199003072011",
    name="测试用户",
    phone="13800000000",
)


@dataclass
class RecordingTransport:
    """Passes calls through and keeps each exchange for the report."""

    inner: Transport
    exchanges: list[tuple[OutgoingRequest, IncomingResponse | None]] = field(default_factory=list)

    async def send(
        self, request: OutgoingRequest, *, timeout: float, max_bytes: int
    ) -> IncomingResponse:
        self.exchanges.append((request, None))
        response = await self.inner.send(request, timeout=timeout, max_bytes=max_bytes)
        self.exchanges[-1] = (request, response)
        return response

    async def aclose(self) -> None:
        return None  # the inner transport belongs to its owner


def _text(body: bytes | None) -> str | None:
    if body is None:
        return None
    preview = body[:PREVIEW_BYTES].decode("utf-8", errors="replace")
    return preview + ("…" if len(body) > PREVIEW_BYTES else "")


def bounded(value: Any, limit: int) -> tuple[Any, bool]:
    """``value`` itself when its JSON fits in ``limit`` bytes (and nests at most
    ``MAX_SHOWN_DEPTH`` levels); otherwise the first ``limit`` bytes of that JSON as text,
    and ``True`` (cut)."""
    if value_depth(value) > MAX_SHOWN_DEPTH:
        # Serialising a reply nested thousands deep recurses past Python's limit.
        return "(nested too deeply to show)", True
    text = json.dumps(value, ensure_ascii=False, default=str)
    encoded = text.encode()
    if len(encoded) <= limit:
        return value, False
    return encoded[:limit].decode("utf-8", errors="ignore") + "…", True


def _shown(step: dict[str, Any], key: str, value: Any, limit: int) -> dict[str, Any]:
    step[key], cut = bounded(value, limit)
    if cut:
        step["truncated"] = True
    return step


def _message(text: str) -> str:
    return text if len(text) <= MESSAGE_CHARS else text[:MESSAGE_CHARS] + "…"


def _request_step(request: OutgoingRequest, secrets: set[str]) -> dict[str, Any]:
    url = request.url
    for value in secrets:  # hmac signatures and keys may travel in the query string
        url = url.replace(value, "********")
    headers = {
        k: "********" if k.lower() in _MASKED_HEADERS or v in secrets else v
        for k, v in request.headers.items()
    }
    return {
        "step": "request",
        "method": request.method,
        "url": url,
        "headers": headers,
        "body": _text(request.body),
    }


def _reply_steps(
    spec: AdapterSpec, operation: str, response: IncomingResponse, *, internal: bool
) -> list[dict[str, Any]]:
    op = spec.operations[operation]
    reply: dict[str, Any] = {"step": "response", "status": response.status}
    if internal:
        reply["withheld"] = WITHHELD
    else:
        reply |= {"headers": response.headers, "body": _text(response.body)}
        if len(response.body) > PREVIEW_BYTES:
            reply["truncated"] = True
    steps = [reply]
    try:
        document = decode_response(
            response,
            op.response.format,
            charset=op.response.charset,
            list_tags=op.response.list_tags,
            separator=op.response.separator,
        )
    except DecodeError as exc:
        return [*steps, {"step": "decode", "error": _message(str(exc))}]
    decoded: dict[str, Any] = {"step": "decode", "format": op.response.format}
    if internal:
        decoded["withheld"] = WITHHELD
    else:
        _shown(decoded, "document", document, PREVIEW_BYTES)
    steps.append(decoded)
    for name, expression in (("success", op.success), ("result", op.result)):
        if expression is None:
            continue
        step: dict[str, Any] = {"step": name, "expression": expression.source}
        try:
            steps.append(_shown(step, "value", evaluate(expression, document), VALUE_BYTES))
        except ExpressionError as exc:
            steps.append(step | {"error": _message(str(exc))})
    return steps


async def dry_run(
    spec: AdapterSpec,
    transport: Transport,
    operation: str,
    params: dict[str, Any],
    *,
    timeout: float = 10.0,
    policy: HostPolicy | None = None,
) -> dict[str, Any]:
    """One operation called for real, and the trace of it. ``policy``: the provider's
    hosts; a reply from one of its internal exemptions shows only what the mapping reads
    (``None``: a provider's own machine, the CLI, where nothing is withheld)."""
    if operation not in spec.operations:
        return {
            "ok": False,
            "error": {
                "class": "UnknownOperation",
                "message": f"no operation {operation!r}; the spec has: "
                + ", ".join(sorted(spec.operations)),
            },
            "steps": [],
        }
    recorder = RecordingTransport(transport)
    adapter = SpecAdapter(spec, recorder)
    secrets = {v for v in (*spec.secrets.values(), *spec.auth.values()) if isinstance(v, str)}
    secrets = {v for v in secrets if len(v) >= 4 and not v.startswith("http")}
    started = time.perf_counter()
    outcome: dict[str, Any]
    try:
        _check_params(spec, operation, params)
        outcome = _shown(
            {"ok": True},
            "result",
            await adapter.call(operation, params, DRY_RUN_CALLER, timeout),
            VALUE_BYTES,
        )
    except AdapterError as exc:
        outcome = {
            "ok": False,
            "error": {"class": type(exc).__name__, "message": _message(str(exc)), **_details(exc)},
        }
    outcome["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
    steps: list[dict[str, Any]] = []
    last = len(recorder.exchanges) - 1
    for n, (request, response) in enumerate(recorder.exchanges):
        steps.append(_request_step(request, secrets))
        if response is None:
            continue
        if n == last:  # the operation's own reply (earlier ones: the token request, a retry)
            internal = policy is not None and policy.exempts_url(request.url)
            steps.extend(_reply_steps(spec, operation, response, internal=internal))
        else:
            steps.append({"step": "response", "status": response.status})
    outcome["steps"] = steps
    return outcome


def _check_params(spec: AdapterSpec, operation: str, params: dict[str, Any]) -> None:
    schema = spec.operations[operation].info.params_schema
    errors = [
        {"location": ["params", *[str(p) for p in e.absolute_path]], "message": e.message}
        for e in jsonschema.Draft202012Validator(schema).iter_errors(params)
    ]
    if errors:
        raise InvalidParameters(spec.id, operation, errors)


def _details(exc: AdapterError) -> dict[str, Any]:
    if isinstance(exc, InvalidParameters):
        return {"errors": exc.errors}
    code = getattr(exc, "upstream_code", None)
    return {"upstream_code": _message(code)} if code else {}
