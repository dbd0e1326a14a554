"""Calling an adapter operation safely: validation, deadline, breaker, concurrency, retries.

Every outgoing call goes through ``Invoker.call``. It validates the parameters
(before any upstream traffic), fails fast while the department's breaker is open,
waits for a concurrency slot no longer than the deadline allows, and retries
idempotent operations with jittered backoff (stamina) within what is left of it.
How many slots a department has is the adapter's own ``concurrency``.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import fastjsonschema
import jsonschema
import stamina

from integrations.base import (
    Adapter,
    AdapterRegistry,
    AdapterTimeout,
    AdapterUnavailable,
    Caller,
    InvalidParameters,
    OperationalError,
    OperationInfo,
    RequestRejected,
)
from integrations.breaker import (
    REAL_TIME,
    BreakerOpen,
    BreakerPolicy,
    CircuitBreaker,
    Clock,
    SharedState,
)

_log = logging.getLogger("integrations.invoker")

# The formats operation schemas use, checked the same way by both validators.
_FORMATS: dict[str, Callable[[str], bool]] = {"date": lambda v: _is_date(v)}


def _is_date(value: str) -> bool:
    try:
        date.fromisoformat(value)
    except ValueError:
        return False
    return len(value) == 10


# (adapter id, operation, ok, latency in seconds, error class name or None). ``ok`` means
# the department answered: a success, or a refusal of this input (``RequestRejected``).
# Operational failures, and calls the open breaker turned away (error ``"BreakerOpen"``,
# latency ~0), are not ok. It runs inline on the call path: it must be cheap and not raise.
CallObserver = Callable[[str, str, bool, float, str | None], None]
BREAKER_OPEN = "BreakerOpen"


def _notify(
    observer: CallObserver,
    adapter_id: str,
    operation: str,
    ok: bool,
    started: float,
    error: str | None,
) -> None:
    try:
        observer(adapter_id, operation, ok, time.perf_counter() - started, error)
    except Exception:  # health figures must never turn into a failed call
        _log.exception("invoker_observer_failed")


def _generic_error() -> dict[str, Any]:
    return {"location": ["body", "params"], "message": "invalid parameters", "type": "schema"}


@dataclass
class _Department:
    breaker: CircuitBreaker
    # Sized from ``sized_for.concurrency``; rebuilt when another adapter object (a newly
    # published version) with another limit takes the department's id.
    slots: asyncio.Semaphore = field(default_factory=lambda: asyncio.Semaphore(0))
    limit: int = 0
    sized_for: object = None

    def slots_for(self, adapter: Adapter) -> asyncio.Semaphore:
        if adapter is not self.sized_for:  # one identity check per call in the steady state
            limit = adapter.concurrency
            if limit != self.limit:
                # Calls in flight keep (and release) the old semaphore: while they finish,
                # old and new slots together may briefly exceed the new limit.
                self.slots, self.limit = asyncio.Semaphore(limit), limit
            self.sized_for = adapter
        return self.slots


class Invoker:
    def __init__(
        self,
        registry: AdapterRegistry,
        state: SharedState,
        *,
        breaker_policy: BreakerPolicy | None = None,
        observer: CallObserver | None = None,
        clock: Clock = REAL_TIME,
    ) -> None:
        self.registry = registry
        self._observer = observer
        self._state = state
        # The breakers' clock. Deadlines stay on time.monotonic(): they bound real waits.
        self._clock = clock
        self._policy = breaker_policy or BreakerPolicy()
        self._departments: dict[str, _Department] = {}
        self._checks: dict[tuple[str, str], Callable[[Any], Any]] = {}

    def breaker(self, adapter_id: str) -> CircuitBreaker:
        return self._department(adapter_id).breaker

    def _department(self, adapter_id: str) -> _Department:
        department = self._departments.get(adapter_id)
        if department is None:
            breaker = CircuitBreaker(adapter_id, self._state, self._policy, self._clock)
            department = self._departments[adapter_id] = _Department(breaker)
        return department

    def forget(self, adapter_id: str) -> None:
        """A new version of the adapter was published: its parameter schemas may differ."""
        for key in [k for k in self._checks if k[0] == adapter_id]:
            del self._checks[key]

    def validate(self, adapter_id: str, operation: str, params: Mapping[str, Any]) -> OperationInfo:
        """Check parameters against the operation's schema; raises ``InvalidParameters``."""
        _, info = self.registry.operation(adapter_id, operation)
        key = (adapter_id, operation)
        check = self._checks.get(key)
        if check is None:  # compiled once per operation, until a new version is published
            # fastjsonschema compiles the schema to Python: ~1 µs a check instead of tens.
            check = self._checks[key] = fastjsonschema.compile(
                dict(info.params_schema), formats=_FORMATS
            )
        try:
            check(params)
            return info
        except fastjsonschema.JsonSchemaException:
            pass
        # Invalid: jsonschema lists every error with its path, for the problem response.
        cls = jsonschema.validators.validator_for(info.params_schema)
        validator = cls(info.params_schema, format_checker=cls.FORMAT_CHECKER)
        errors = [
            {
                "location": ["body", "params", *[str(p) for p in e.absolute_path]],
                "message": e.message,
                "type": str(e.validator),
            }
            for e in validator.iter_errors(dict(params))
        ]
        raise InvalidParameters(adapter_id, operation, errors or [_generic_error()])

    async def call(
        self,
        adapter_id: str,
        operation: str,
        params: Mapping[str, Any],
        caller: Caller,
        *,
        deadline: float,
    ) -> Any:
        """Call once (or retry within the deadline); ``deadline`` is a ``time.monotonic()``.

        The observer, if any, hears of every outcome after validation: invalid parameters
        never reached the department and say nothing about its health. A cancelled call is
        not reported (neither the department's success nor its failure).
        """
        info = self.validate(adapter_id, operation, params)
        adapter, _ = self.registry.operation(adapter_id, operation)
        department = self._department(adapter_id)
        # This call's own reference: a publish may swap the department's semaphore meanwhile.
        slots = department.slots_for(adapter)
        observer = self._observer
        started = time.perf_counter() if observer is not None else 0.0
        try:
            trial = await department.breaker.before_call()
        except BreakerOpen as exc:
            if observer is not None:
                _notify(observer, adapter_id, operation, False, started, BREAKER_OPEN)
            raise AdapterUnavailable(
                adapter_id, operation, "circuit breaker open", retry_after=exc.retry_after
            ) from exc
        # try costs nothing until something raises (3.11): no price when there is no observer.
        try:
            if slots.locked():  # only wait (with a timeout) when the department is busy
                try:
                    async with asyncio.timeout(max(0.0, deadline - time.monotonic())):
                        await slots.acquire()
                except TimeoutError as exc:
                    raise AdapterTimeout(
                        adapter_id, operation, "no free slot before deadline"
                    ) from exc
            else:
                await slots.acquire()
            try:
                result = await self._attempts(
                    adapter, info, params, caller, deadline, department, trial
                )
            finally:
                slots.release()
        except Exception as exc:
            if observer is not None:
                ok = isinstance(exc, RequestRejected)
                _notify(observer, adapter_id, operation, ok, started, type(exc).__name__)
            raise
        if observer is not None:
            _notify(observer, adapter_id, operation, True, started, None)
        return result

    async def _attempts(
        self,
        adapter: Any,
        info: OperationInfo,
        params: Mapping[str, Any],
        caller: Caller,
        deadline: float,
        department: _Department,
        trial: bool,
    ) -> Any:
        attempts = info.retry_attempts if info.idempotent else 1
        if attempts == 1:
            # One attempt needs no retry machinery (stamina's context costs ~100 µs a call).
            try:
                result = await adapter.call(
                    info.name, params, caller, max(0.001, deadline - time.monotonic())
                )
            except OperationalError:
                await department.breaker.on_failure(trial)
                raise
            await department.breaker.on_success(trial)
            return result
        remaining = deadline - time.monotonic()
        try:
            async for attempt in stamina.retry_context(
                on=OperationalError,
                attempts=attempts,
                timeout=max(0.001, remaining),
                wait_initial=0.05,
                wait_max=0.5,
                wait_jitter=0.1,
            ):
                with attempt:
                    left = deadline - time.monotonic()
                    if left <= 0:
                        raise AdapterTimeout(adapter.id, info.name, "deadline passed")
                    if attempt.num > 1 and department.breaker.state == "open":
                        # Earlier attempts opened the breaker: stop hammering the department.
                        raise BreakerOpen(department.breaker.policy.open_seconds)
                    try:
                        result = await adapter.call(
                            info.name, params, caller, min(info.timeout, left)
                        )
                    except OperationalError:
                        await department.breaker.on_failure(trial)
                        trial = False  # a failed trial reopened the breaker; no second trial
                        raise
        except BreakerOpen as exc:
            raise AdapterUnavailable(
                adapter.id, info.name, "circuit breaker open", retry_after=exc.retry_after
            ) from exc
        await department.breaker.on_success(trial)
        return result
