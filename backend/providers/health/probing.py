"""Watching and probing: which breakers are open, and the periodic call of probe-safe operations."""

from __future__ import annotations

import asyncio

import structlog

from backend.background import one_pass
from backend.gateway import ProbeResult, probe
from backend.kv import KV, claim_round
from integrations.base import AdapterRegistry
from integrations.invoker import Invoker

log = structlog.get_logger("hefeitong.providers.health")


class OpenBreakers:
    """Which adapters' breakers are open, as this process last looked.

    The catalog marks those adapters' services ``degraded``. Catalog reads are served from
    memory in well under a millisecond, so they read this set instead of the KV store; a
    refresh every couple of seconds keeps it close. Two KV reads per adapter, one after
    another: a few milliseconds in the background, and no burst of pool connections.
    """

    def __init__(self, invoker: Invoker) -> None:
        self._invoker = invoker
        self.adapter_ids: frozenset[str] = frozenset()

    async def refresh(self) -> frozenset[str]:
        found = frozenset(
            [
                a
                for a in self._invoker.registry.ids()
                if await self._invoker.breaker(a).sync() == "open"
            ]
        )
        if found != self.adapter_ids:
            log.info("open_breakers_changed", adapters=sorted(found))
            self.adapter_ids = found
        return found

    async def refresh_forever(self, interval: float) -> None:
        while True:
            # A failure keeps the last known set; the next round tries again.
            with one_pass(log, "open_breakers_refresh_failed"):
                await self.refresh()
            await asyncio.sleep(interval)


def probe_targets(registry: AdapterRegistry) -> list[tuple[str, str]]:
    """Every operation whose spec marks it ``probe_safe``, sorted."""
    targets = []
    for adapter_id in registry.ids():
        adapter = registry.get(adapter_id)
        if adapter is not None:
            targets += [(adapter_id, op) for op, i in adapter.operations.items() if i.probe_safe]
    return sorted(targets)


async def probe_once(
    invoker: Invoker, registry: AdapterRegistry, *, timeout: float = 5.0
) -> list[ProbeResult]:
    """One round: departments in parallel, each one's operations one after another.

    A department whose breaker is open is skipped: the call would fail at once and count as
    a turned-away citizen. Half-open, the probe is the trial call that can close it.
    """
    by_adapter: dict[str, list[tuple[str, str]]] = {}
    for target in probe_targets(registry):
        by_adapter.setdefault(target[0], []).append(target)
    due = [t for a, t in by_adapter.items() if await invoker.breaker(a).sync() != "open"]
    rounds = [probe(invoker, targets, timeout=timeout) for targets in due]
    results = [r for reports in await asyncio.gather(*rounds) for d in reports for r in d.results]
    for r in results:
        if r.status == "failed":
            # The probe citizen is synthetic, and the error is a class name: nothing personal.
            log.warning(
                "adapter_probe_failed",
                adapter=r.adapter,
                operation=r.operation,
                error=r.error,
                latency_ms=round(r.latency_ms or 0.0, 1),
            )
    return results


async def probe_forever(
    invoker: Invoker,
    registry: AdapterRegistry,
    interval: float,
    *,
    timeout: float = 5.0,
    kv: KV | None = None,
) -> None:
    """Probe every ``interval`` seconds; never raises (failures are logged).

    With ``kv``, one process in the whole deployment probes per interval (the first to take
    the round's key), so departments see one probe however many workers run.
    """
    while True:
        await asyncio.sleep(interval)
        with one_pass(log, "adapter_probe_round_failed"):
            if kv is None or await claim_round(kv, "adapter-probe", interval):
                await probe_once(invoker, registry, timeout=timeout)
