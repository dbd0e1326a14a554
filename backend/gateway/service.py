"""Invoking catalog services through their adapters, with cache, coalescing and stale-if-error."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import orjson
import structlog

from backend.catalog import ServiceDetail
from backend.department_problems import ADAPTER_PROBLEMS, problem_for
from backend.gateway.cache import AnswerCache, Coalescer, cache_key, encode_data, now_iso
from backend.gateway.schemas import CacheState, Source
from backend.identity import require_level
from integrations.base import AdapterError, Caller, RequestRejected
from integrations.invoker import Invoker

log = structlog.get_logger("hefeitong.gateway")

# Guides are answered from the catalog itself.
_CATALOG_SOURCE = (
    Source(
        adapter="catalog", operation="guide", name_zh="合肥通服务目录", name_en="Hefei Tong catalog"
    )
    .model_dump_json()
    .encode()
)


@dataclass(frozen=True)
class Answer:
    data_json: bytes
    fetched_at: str  # ISO 8601, UTC
    cache: CacheState

    @property
    def data(self) -> Any:
        return orjson.loads(self.data_json)

    def render(self, source_json: bytes) -> bytes:
        """The ``InvokeResponse`` JSON, composed from the stored bytes (no re-serializing)."""
        return b"".join(
            (
                b'{"data":',
                self.data_json,
                b',"source":',
                source_json,
                b',"fetched_at":"',
                self.fetched_at.encode(),
                b'","cache":"',
                self.cache.encode(),
                b'"}',
            )
        )


class Gateway:
    def __init__(self, invoker: Invoker, cache: AnswerCache) -> None:
        self.invoker = invoker
        self.cache = cache
        self._coalescer = Coalescer()
        self._sources: dict[tuple[str, str], bytes] = {}

    def source_json(self, adapter_id: str, operation: str) -> bytes:
        key = (adapter_id, operation)
        cached = self._sources.get(key)
        if cached is None:
            adapter = self.invoker.registry.get(adapter_id)
            spec = getattr(adapter, "spec", None)
            source = Source(
                adapter=adapter_id,
                operation=operation,
                name_zh=getattr(spec, "name_zh", adapter_id),
                name_en=getattr(spec, "name_en", adapter_id),
            )
            cached = self._sources[key] = source.model_dump_json().encode()
        return cached

    async def invoke(
        self,
        service: ServiceDetail,
        params: Mapping[str, Any],
        caller: Caller,
        deadline: float,
    ) -> bytes:
        """The ``InvokeResponse`` JSON for one call of a catalog service."""
        require_level(caller, service.min_level)
        if service.adapter is None:  # a guide: the catalog itself is the answer
            guide = {
                "name_zh": service.name_zh,
                "summary_zh": service.summary_zh,
                "name_en": service.name_en,
                "summary_en": service.summary_en,
            }
            return Answer(encode_data(guide), now_iso(self.cache.clock), "hit").render(
                _CATALOG_SOURCE
            )
        adapter_id, operation = service.adapter.id, service.adapter.operation
        if self._takes_application_type(adapter_id, operation):
            # Shared intake operations learn which matter this is from the catalog code.
            params = {"application_type": service.code, **params}
        answer = await self.fetch(adapter_id, operation, params, caller, deadline)
        return answer.render(self.source_json(adapter_id, operation))

    def _takes_application_type(self, adapter_id: str, operation: str) -> bool:
        try:
            _, info = self.invoker.registry.operation(adapter_id, operation)
        except AdapterError:
            return False
        return "application_type" in info.params_schema.get("properties", {})

    async def fetch(
        self,
        adapter_id: str,
        operation: str,
        params: Mapping[str, Any],
        caller: Caller,
        deadline: float,
    ) -> Answer:
        """Call an operation through the cache; raises the client-facing problem on failure."""
        try:
            info = self.invoker.validate(adapter_id, operation, params)
        except AdapterError as exc:
            raise problem_for(exc) from exc
        if not (info.idempotent and info.cache_ttl > 0):
            data = await self._call(adapter_id, operation, params, caller, deadline)
            return Answer(encode_data(data), now_iso(self.cache.clock), "miss")
        subject = f"{caller.subject}|{caller.acting_for or ''}"
        key = cache_key(subject, adapter_id, operation, info.revision, params)
        cached = await self.cache.get(key)
        if cached is not None and cached.is_fresh(info.cache_ttl, self.cache.clock.time()):
            return Answer(cached.data_json, cached.fetched_at, "hit")

        async def refresh() -> Answer:
            data = await self._call(adapter_id, operation, params, caller, deadline)
            stored = await self.cache.put(key, encode_data(data), info.cache_ttl)
            return Answer(stored.data_json, stored.fetched_at, "miss")

        try:
            return await self._coalescer.run(key, refresh)
        except ADAPTER_PROBLEMS:
            if cached is not None:
                log.info("gateway_served_stale", adapter=adapter_id, operation=operation)
                return Answer(cached.data_json, cached.fetched_at, "stale")
            raise

    async def _call(
        self,
        adapter_id: str,
        operation: str,
        params: Mapping[str, Any],
        caller: Caller,
        deadline: float,
    ) -> Any:
        try:
            return await self.invoker.call(adapter_id, operation, params, caller, deadline=deadline)
        except AdapterError as exc:
            # Adapter id, operation and error class only: never the body or the caller's data.
            log.warning(
                "adapter_call_failed",
                adapter=adapter_id,
                operation=operation,
                error=type(exc).__name__,
                reason=exc.message if not isinstance(exc, RequestRejected) else None,
            )
            raise problem_for(exc) from exc
