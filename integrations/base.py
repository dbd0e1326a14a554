"""The adapter protocol, its typed errors, and the registry adapters are looked up in.

An adapter wraps one department's system: named operations that take validated
parameters plus the caller's identity and return normalized data. Failures come
in two families, because callers must treat them differently:

* ``OperationalError`` — the department could not answer properly (timeout,
  connection refused, 5xx, malformed reply). Retryable where the operation allows,
  counted by the circuit breaker, shown to citizens as "department unavailable".
* ``RequestRejected`` — the department answered and refused this input (slot
  full, amount over balance). Never retried, never counted, shown to the citizen.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable


@dataclass(frozen=True)
class Caller:
    """Who the call is made for; adapters map these onto the department's fields."""

    subject: str
    assurance_level: int
    id_number: str | None = None
    name: str | None = None
    phone: str | None = None
    acting_for: str | None = None  # unified social credit code of an enterprise

    def as_mapping(self) -> dict[str, Any]:
        return {
            "subject": self.subject,
            "assurance_level": self.assurance_level,
            "id_number": self.id_number,
            "name": self.name,
            "phone": self.phone,
            "acting_for": self.acting_for,
        }


@dataclass(frozen=True)
class OperationInfo:
    name: str
    summary_zh: str
    summary_en: str
    params_schema: Mapping[str, Any]
    idempotent: bool
    retry_attempts: int = 1
    timeout: float = 5.0
    cache_ttl: float = 0.0
    probe_safe: bool = False
    probe_params: Mapping[str, Any] = field(default_factory=dict)
    # Changes whenever the operation's definition does (a published adapter version that maps
    # the answer differently), so answers cached under the old definition are not served.
    revision: str = ""


# Calls one worker may have in flight to a department whose adapter says nothing else.
DEFAULT_CONCURRENCY = 64


@runtime_checkable
class Adapter(Protocol):
    """A department system. ``call`` makes one attempt; retries and breakers are the caller's."""

    @property
    def id(self) -> str: ...

    @property
    def concurrency(self) -> int:
        """How many calls this worker may have in flight to the department at once.

        Part of the adapter, not of the code that wires it up, so a new adapter version
        (a provider's publish) brings its own limit; the invoker enforces it.
        """
        ...

    @property
    def operations(self) -> Mapping[str, OperationInfo]: ...

    async def call(
        self, operation: str, params: Mapping[str, Any], caller: Caller, timeout: float
    ) -> Any: ...

    async def aclose(self) -> None: ...


# --- errors --------------------------------------------------------------------------------


class AdapterError(Exception):
    """Base of adapter failures. Messages never contain upstream bodies or personal data."""

    def __init__(self, adapter_id: str, operation: str, message: str) -> None:
        super().__init__(f"{adapter_id}.{operation}: {message}")
        self.adapter_id = adapter_id
        self.operation = operation
        self.message = message


class OperationalError(AdapterError):
    """The department did not answer properly; retryable and counted by the breaker."""

    retryable = True


class AdapterTimeout(OperationalError):
    pass


class AdapterUnavailable(OperationalError):
    """Connection refused, 5xx, credentials refused, or the breaker is open."""

    def __init__(
        self, adapter_id: str, operation: str, message: str, *, retry_after: float | None = None
    ) -> None:
        super().__init__(adapter_id, operation, message)
        self.retry_after = retry_after


class AdapterBadResponse(OperationalError):
    """A reply we cannot use: malformed, wrong charset, a redirect, too large, or unmappable."""


class RequestRejected(AdapterError):
    """The department refused this input. Not retried; its message may be shown to the user."""

    def __init__(
        self,
        adapter_id: str,
        operation: str,
        message: str,
        *,
        upstream_code: str | None = None,
    ) -> None:
        super().__init__(adapter_id, operation, message)
        self.upstream_code = upstream_code


class InvalidParameters(AdapterError):
    """Parameters fail the operation's schema; raised before any upstream call."""

    def __init__(self, adapter_id: str, operation: str, errors: list[dict[str, Any]]) -> None:
        super().__init__(adapter_id, operation, "invalid parameters")
        self.errors = errors


class UnknownOperation(AdapterError):
    pass


# --- registry -----------------------------------------------------------------------------


class AdapterRegistry:
    """Every adapter by id: declarative specs and Python adapters alike."""

    def __init__(self) -> None:
        self._adapters: dict[str, Adapter] = {}

    def register(self, adapter: Adapter, *, replace: bool = False) -> None:
        if adapter.id in self._adapters and not replace:
            raise ValueError(f"adapter {adapter.id!r} is registered twice")
        # Refused here, at start-up or publish, rather than when the first call needs a slot.
        limit = getattr(adapter, "concurrency", None)
        if not isinstance(limit, int) or isinstance(limit, bool) or limit < 1:
            raise ValueError(
                f"adapter {adapter.id!r} must declare its concurrency (a positive integer),"
                f" got {limit!r}"
            )
        self._adapters[adapter.id] = adapter

    def get(self, adapter_id: str) -> Adapter | None:
        return self._adapters.get(adapter_id)

    def __contains__(self, adapter_id: object) -> bool:
        return adapter_id in self._adapters

    def ids(self) -> list[str]:
        return sorted(self._adapters)

    def operation(self, adapter_id: str, operation: str) -> tuple[Adapter, OperationInfo]:
        adapter = self._adapters.get(adapter_id)
        if adapter is None:
            raise UnknownOperation(adapter_id, operation, "no such adapter")
        info = adapter.operations.get(operation)
        if info is None:
            raise UnknownOperation(adapter_id, operation, "no such operation")
        return adapter, info

    async def aclose(self) -> None:
        for adapter in self._adapters.values():
            await adapter.aclose()
