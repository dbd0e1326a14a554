"""Dry run: one operation of one version, against the real endpoint, every step shown.

A provider debugging a spec should need nothing but the answer: the request as it was
sent (credentials masked), the reply as it came (cut at a few KB), the document it
decoded to, what the success check said, and the mapped result, or the step where it
went wrong. The call is made by the spec's own adapter code (the same as in
production) over the provider's guarded transport; the steps after the reply are
re-evaluated here from the recorded exchange for display.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

import jsonschema

from integrations.base import AdapterError, Caller, InvalidParameters
from integrations.codecs import DecodeError, decode_response
from integrations.expressions import ExpressionError, evaluate
from integrations.http_adapter import SpecAdapter
from integrations.spec import AdapterSpec
from integrations.transport import IncomingResponse, OutgoingRequest, Transport

PREVIEW_BYTES = 4096
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
    spec: AdapterSpec, operation: str, response: IncomingResponse
) -> list[dict[str, Any]]:
    op = spec.operations[operation]
    steps: list[dict[str, Any]] = [
        {
            "step": "response",
            "status": response.status,
            "headers": response.headers,
            "body": _text(response.body),
        }
    ]
    try:
        document = decode_response(
            response,
            op.response.format,
            charset=op.response.charset,
            list_tags=op.response.list_tags,
            separator=op.response.separator,
        )
    except DecodeError as exc:
        return [*steps, {"step": "decode", "error": str(exc)}]
    steps.append({"step": "decode", "format": op.response.format, "document": document})
    for name, expression in (("success", op.success), ("result", op.result)):
        if expression is None:
            continue
        try:
            steps.append(
                {
                    "step": name,
                    "expression": expression.source,
                    "value": evaluate(expression, document),
                }
            )
        except ExpressionError as exc:
            steps.append({"step": name, "expression": expression.source, "error": str(exc)})
    return steps


async def dry_run(
    spec: AdapterSpec,
    transport: Transport,
    operation: str,
    params: dict[str, Any],
    *,
    timeout: float = 10.0,
) -> dict[str, Any]:
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
        outcome = {
            "ok": True,
            "result": await adapter.call(operation, params, DRY_RUN_CALLER, timeout),
        }
    except AdapterError as exc:
        outcome = {
            "ok": False,
            "error": {"class": type(exc).__name__, "message": str(exc), **_details(exc)},
        }
    outcome["elapsed_ms"] = round((time.perf_counter() - started) * 1000, 1)
    steps: list[dict[str, Any]] = []
    last = len(recorder.exchanges) - 1
    for n, (request, response) in enumerate(recorder.exchanges):
        steps.append(_request_step(request, secrets))
        if response is None:
            continue
        if n == last:  # the operation's own reply (earlier ones: the token request, a retry)
            steps.extend(_reply_steps(spec, operation, response))
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
    return {"upstream_code": code} if code else {}
