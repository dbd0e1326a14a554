"""``SpecAdapter``: one attempt at one operation of a declaratively described system."""

from __future__ import annotations

import asyncio
import math
import time
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlencode

from integrations.auth import AuthFailed, OAuth2ClientCredentials, PreparedCall, build_auth
from integrations.base import (
    AdapterBadResponse,
    AdapterTimeout,
    AdapterUnavailable,
    OperationInfo,
    RequestRejected,
)
from integrations.codecs import DecodeError, decode_response, encode_body
from integrations.expressions import ExpressionError, evaluate, url_segment, xml_text
from integrations.spec import AdapterSpec, OperationSpec
from integrations.transport import IncomingResponse, OutgoingRequest, Transport, TransportError

_IDENTITY_FIELDS_ZH = {"id_number": "身份证号码", "name": "姓名", "phone": "手机号码"}


class SpecAdapter:
    def __init__(self, spec: AdapterSpec, transport: Transport) -> None:
        self.spec = spec
        self._transport = transport
        self._auth = build_auth(spec.auth)
        self._operations = {name: op.info for name, op in spec.operations.items()}

    @property
    def id(self) -> str:
        return self.spec.id

    @property
    def operations(self) -> Mapping[str, OperationInfo]:
        return self._operations

    @property
    def concurrency(self) -> int:
        return self.spec.concurrency

    @property
    def transport(self) -> Transport:
        return self._transport

    async def aclose(self) -> None:
        return None  # the transport is shared and closed by its owner

    async def call(
        self, operation: str, params: Mapping[str, Any], caller: Any, timeout: float
    ) -> Any:
        op = self.spec.operations[operation]
        caller_data = caller.as_mapping()
        missing = [f for f in op.requires if not caller_data.get(f)]
        if missing:
            names = "、".join(_IDENTITY_FIELDS_ZH.get(f, f) for f in missing)
            raise RequestRejected(
                self.id,
                operation,
                f"需要先完成实名信息：{names}",
                upstream_code="IDENTITY_INCOMPLETE",
            )
        context = {"params": dict(params), "caller": caller_data, "secrets": self.spec.secrets}
        deadline = time.monotonic() + timeout
        if op.paginate is None:
            document = await self._fetch(op, operation, context, deadline, extra_query={})
            return self._map(op, operation, document)
        return await self._fetch_pages(op, operation, context, deadline)

    async def _fetch_pages(
        self, op: OperationSpec, operation: str, context: dict[str, Any], deadline: float
    ) -> Any:
        pages = op.paginate
        assert pages is not None

        def page_query(number: int) -> dict[str, Any]:
            query: dict[str, Any] = {pages.page_param: number}
            if pages.size_param:
                query[pages.size_param] = pages.size
            return query

        first = await self._fetch(op, operation, context, deadline, page_query(pages.first_page))
        try:
            items = list(evaluate(pages.items, first) or [])
            total = int(evaluate(pages.total, first) or 0)
        except (ExpressionError, TypeError, ValueError) as exc:
            raise AdapterBadResponse(self.id, operation, "pagination fields missing") from exc
        wanted = min(pages.max_pages, math.ceil(total / pages.size)) if total else 1
        rest = await asyncio.gather(
            *(
                self._fetch(op, operation, context, deadline, page_query(pages.first_page + n))
                for n in range(1, wanted)
            )
        )
        for document in rest:
            items.extend(evaluate(pages.items, document) or [])
        return self._map(op, operation, {"items": items, "total": total})

    async def _fetch(
        self,
        op: OperationSpec,
        operation: str,
        context: dict[str, Any],
        deadline: float,
        extra_query: dict[str, Any],
    ) -> Any:
        for attempt in (1, 2):
            call = self._prepare(op, context, extra_query)
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise AdapterTimeout(self.id, operation, "deadline passed")
            try:
                if not op.skip_auth:
                    await self._auth.apply(call, self._transport, remaining)
            except AuthFailed as exc:
                raise AdapterUnavailable(self.id, operation, f"authentication: {exc}") from exc
            request = self._encode(op, call)
            try:
                response = await self._transport.send(
                    request,
                    timeout=max(0.001, deadline - time.monotonic()),
                    max_bytes=self.spec.max_response_bytes,
                )
            except TransportError as exc:
                if exc.kind == "timeout":
                    raise AdapterTimeout(self.id, operation, str(exc)) from exc
                if exc.kind == "too_large":
                    raise AdapterBadResponse(
                        self.id, operation, f"reply too large ({exc})"
                    ) from exc
                raise AdapterUnavailable(self.id, operation, f"{exc.kind}: {exc}") from exc
            if (
                response.status == 401
                and attempt == 1
                and isinstance(self._auth, OAuth2ClientCredentials)
            ):
                self._auth.invalidate()  # the cached token expired early: fetch one and retry once
                continue
            return self._check(op, operation, response)
        raise AdapterUnavailable(self.id, operation, "credentials refused")

    def _prepare(
        self, op: OperationSpec, context: dict[str, Any], extra_query: dict[str, Any]
    ) -> PreparedCall:
        try:
            call = PreparedCall(
                method=op.method,
                path=op.path.render(context, url_segment),
                query=op.query.render(context) | extra_query,
                headers={k: str(v) for k, v in op.headers.render(context).items()},
            )
            if op.body is not None:
                call.body_fields = op.body.render(context)
            if op.body_template is not None:
                call.body_text = op.body_template.render(context, xml_text)
        except ExpressionError as exc:
            raise AdapterBadResponse(self.id, op.info.name, f"request mapping: {exc}") from exc
        return call

    def _encode(self, op: OperationSpec, call: PreparedCall) -> OutgoingRequest:
        url = self.spec.base_url + call.path
        if call.query:
            url += "?" + urlencode([(k, _query_text(v)) for k, v in call.query.items()])
        headers = dict(call.headers)
        body = None
        if call.body_fields is not None or call.body_text is not None:
            body, content_type = encode_body(op.request_format, call.body_fields, call.body_text)
            headers["Content-Type"] = content_type
        return OutgoingRequest(op.method, url, headers, body)

    def _check(self, op: OperationSpec, operation: str, response: IncomingResponse) -> Any:
        status = response.status
        if 300 <= status < 400:
            raise AdapterBadResponse(self.id, operation, f"redirect {status} not followed")
        if status in (401, 403):
            raise AdapterUnavailable(self.id, operation, f"credentials refused ({status})")
        if status == 429 or status >= 500:
            retry_after = _retry_after(response.headers.get("retry-after"))
            raise AdapterUnavailable(
                self.id, operation, f"department answered {status}", retry_after=retry_after
            )
        fmt = op.response
        try:
            document = decode_response(
                response,
                fmt.format,
                charset=fmt.charset,
                list_tags=fmt.list_tags,
                separator=fmt.separator,
            )
        except DecodeError as exc:
            raise AdapterBadResponse(self.id, operation, f"undecodable reply: {exc}") from exc
        ok = status < 400
        try:
            if ok and op.success is not None:
                ok = bool(evaluate(op.success, document))
            if ok:
                return document
            code = evaluate(op.error_code, document) if op.error_code else None
            message = evaluate(op.error_message, document) if op.error_message else None
        except ExpressionError as exc:
            raise AdapterBadResponse(self.id, operation, f"reply mapping: {exc}") from exc
        code_text = None if code is None else str(code)
        if code_text in op.operational_codes:
            raise AdapterUnavailable(self.id, operation, f"department error code {code_text}")
        raise RequestRejected(
            self.id,
            operation,
            str(message) if message else f"部门拒绝了请求（{code_text or status}）",
            upstream_code=code_text,
        )

    def _map(self, op: OperationSpec, operation: str, document: Any) -> Any:
        try:
            result = evaluate(op.result, document)
        except ExpressionError as exc:
            raise AdapterBadResponse(self.id, operation, f"result mapping: {exc}") from exc
        if result is None:
            raise AdapterBadResponse(self.id, operation, "result mapping produced nothing")
        return result


def _query_text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def _retry_after(value: str | None) -> float | None:
    try:
        return float(value) if value else None
    except ValueError:
        return None
