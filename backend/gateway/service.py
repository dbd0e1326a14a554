"""Invoking catalog services through their adapters, with cache, coalescing and stale-if-error."""

from __future__ import annotations

import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import structlog

from backend.catalog.schemas import ServiceDetail
from backend.errors import AppError, ValidationFailed
from backend.gateway.cache import AnswerCache, Coalescer, cache_key
from backend.gateway.exceptions import (
    AdapterBadResponseProblem,
    AdapterTimeoutProblem,
    AdapterUnavailableProblem,
    DepartmentRejected,
)
from backend.gateway.schemas import CacheState, InvokeResponse, Source
from backend.identity.exceptions import AssuranceLevelTooLow
from integrations.base import (
    AdapterBadResponse,
    AdapterError,
    AdapterTimeout,
    AdapterUnavailable,
    Caller,
    InvalidParameters,
    RequestRejected,
    UnknownOperation,
)
from integrations.invoker import Invoker

log = structlog.get_logger("hefeitong.gateway")

_LEVEL_NAMES = {0: "匿名", 1: "L1 手机号验证", 2: "L2 实名认证", 3: "L3 人脸认证"}


@dataclass(frozen=True)
class Answer:
    data: Any
    fetched_at: datetime
    cache: CacheState


def require_level(caller: Caller, needed: int) -> None:
    if caller.assurance_level < needed:
        raise AssuranceLevelTooLow(
            f"This service needs assurance level L{needed} ({_LEVEL_NAMES[needed]}); "
            f"the caller has L{caller.assurance_level}",
            required_level=needed,
            current_level=caller.assurance_level,
        )


def problem_for(exc: AdapterError) -> AppError:
    """The client-facing problem for an adapter failure (no upstream body ever included)."""
    if isinstance(exc, AdapterTimeout):
        return AdapterTimeoutProblem(f"{exc.adapter_id} did not answer in time")
    if isinstance(exc, AdapterUnavailable):
        headers = {}
        if exc.retry_after is not None:
            headers["Retry-After"] = str(max(1, round(exc.retry_after)))
        return AdapterUnavailableProblem(f"{exc.adapter_id} is unavailable", headers=headers)
    if isinstance(exc, AdapterBadResponse):
        return AdapterBadResponseProblem(f"{exc.adapter_id} sent an unusable reply")
    if isinstance(exc, RequestRejected):
        return DepartmentRejected(exc.message, upstream_code=exc.upstream_code)
    if isinstance(exc, InvalidParameters):
        return ValidationFailed("Invalid parameters for this service", errors=exc.errors)
    if isinstance(exc, UnknownOperation):
        return AdapterUnavailableProblem(f"{exc.adapter_id}.{exc.operation} is not configured")
    return AdapterUnavailableProblem(str(exc))


class Gateway:
    def __init__(self, invoker: Invoker, cache: AnswerCache, default_timeout: float) -> None:
        self.invoker = invoker
        self.cache = cache
        self.default_timeout = default_timeout
        self._coalescer = Coalescer()

    def source(self, adapter_id: str, operation: str) -> Source:
        adapter = self.invoker.registry.get(adapter_id)
        spec = getattr(adapter, "spec", None)
        return Source(
            adapter=adapter_id,
            operation=operation,
            name_zh=getattr(spec, "name_zh", adapter_id),
            name_en=getattr(spec, "name_en", adapter_id),
        )

    async def invoke(
        self,
        service: ServiceDetail,
        params: Mapping[str, Any],
        caller: Caller,
        deadline: float,
    ) -> InvokeResponse:
        require_level(caller, service.min_level)
        if service.adapter is None:  # a guide: the catalog itself is the answer
            return InvokeResponse(
                data={
                    "name_zh": service.name_zh,
                    "summary_zh": service.summary_zh,
                    "name_en": service.name_en,
                    "summary_en": service.summary_en,
                },
                source=Source(
                    adapter="catalog",
                    operation="guide",
                    name_zh="合肥通服务目录",
                    name_en="Hefei Tong catalog",
                ),
                fetched_at=datetime.now(UTC),
                cache="hit",
            )
        params = dict(params)
        if service.kind == "application":
            params.setdefault("application_type", service.code)
        answer = await self.fetch(
            service.adapter.id, service.adapter.operation, params, caller, deadline
        )
        return InvokeResponse(
            data=answer.data,
            source=self.source(service.adapter.id, service.adapter.operation),
            fetched_at=answer.fetched_at,
            cache=answer.cache,
        )

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
            return Answer(
                await self._call(adapter_id, operation, params, caller, deadline),
                datetime.now(UTC),
                "miss",
            )
        key = cache_key(
            f"{caller.subject}|{caller.acting_for or ''}", adapter_id, operation, params
        )
        cached = await self.cache.get(key)
        if cached is not None and cached.is_fresh(info.cache_ttl, time.time()):
            return Answer(cached.data, cached.fetched_at, "hit")

        async def refresh() -> Answer:
            data = await self._call(adapter_id, operation, params, caller, deadline)
            stored = await self.cache.put(key, data, info.cache_ttl)
            return Answer(stored.data, stored.fetched_at, "miss")

        try:
            return await self._coalescer.run(key, refresh)
        except (AdapterTimeoutProblem, AdapterUnavailableProblem, AdapterBadResponseProblem):
            if cached is not None:
                log.info("gateway_served_stale", adapter=adapter_id, operation=operation)
                return Answer(cached.data, cached.fetched_at, "stale")
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
