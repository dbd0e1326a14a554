"""Probing every adapter operation behind the catalog (``hefeitong adapters check``)."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

from integrations.base import AdapterError, AdapterRegistry, Caller
from integrations.identifiers import id_number_check_digit
from integrations.invoker import Invoker

_PROBE_ID = "34010419900307201"
PROBE_CALLER = Caller(
    subject="probe",
    assurance_level=3,
    id_number=_PROBE_ID + id_number_check_digit(_PROBE_ID),
    name="探针",
    phone="13800000000",
)


@dataclass
class ProbeResult:
    adapter: str
    operation: str
    status: str  # ok | failed | skipped
    latency_ms: float | None = None
    error: str | None = None


@dataclass
class DepartmentReport:
    adapter: str
    results: list[ProbeResult] = field(default_factory=list)

    @property
    def status(self) -> str:
        probed = [r for r in self.results if r.status != "skipped"]
        if not probed:
            return "skipped"
        failed = sum(r.status == "failed" for r in probed)
        return "ok" if not failed else ("down" if failed == len(probed) else "degraded")

    @property
    def median_latency_ms(self) -> float | None:
        values = sorted(r.latency_ms for r in self.results if r.latency_ms is not None)
        return values[len(values) // 2] if values else None


def operations_to_probe(
    registry: AdapterRegistry, bound: Iterable[tuple[str, str]]
) -> list[tuple[str, str]]:
    return sorted({(a, o) for a, o in bound if a in registry})


async def probe(
    invoker: Invoker,
    targets: list[tuple[str, str]],
    *,
    timeout: float = 5.0,
    on_done: Callable[[ProbeResult], None] = lambda _: None,
) -> list[DepartmentReport]:
    """Read operations are called for a synthetic citizen; writes are never probed."""
    reports: dict[str, DepartmentReport] = {}
    for adapter_id, operation in targets:
        _, info = invoker.registry.operation(adapter_id, operation)
        required = set(info.params_schema.get("required", ()))
        if not info.idempotent or not required <= set(info.probe_params):
            result = ProbeResult(adapter_id, operation, "skipped", error="writes or needs input")
        else:
            started = time.perf_counter()
            try:
                await invoker.call(
                    adapter_id,
                    operation,
                    info.probe_params,
                    PROBE_CALLER,
                    deadline=time.monotonic() + timeout,
                )
                result = ProbeResult(
                    adapter_id, operation, "ok", (time.perf_counter() - started) * 1000
                )
            except AdapterError as exc:
                result = ProbeResult(
                    adapter_id,
                    operation,
                    "failed",
                    (time.perf_counter() - started) * 1000,
                    type(exc).__name__,
                )
        reports.setdefault(adapter_id, DepartmentReport(adapter_id)).results.append(result)
        on_done(result)
    return list(reports.values())
