"""The lifespan's part: start flushing, watching and probing; stop them and flush what is left."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass

import structlog

from backend.kv import KV
from backend.providers.health.probing import OpenBreakers, probe_forever
from backend.providers.health.recorder import HealthRecorder
from integrations.invoker import Invoker

log = structlog.get_logger("hefeitong.providers.health")


@dataclass
class HealthTasks:
    """What ``start_health`` started; ``stop`` ends it and flushes what is left."""

    recorder: HealthRecorder | None
    open_breakers: OpenBreakers
    tasks: list[asyncio.Task[None]]

    async def stop(self, timeout: float = 10.0) -> None:
        for task in self.tasks:
            task.cancel()
        # Bounded: a probe stuck on a hung department must not hold up shutdown.
        _, stuck = await asyncio.wait(self.tasks, timeout=timeout) if self.tasks else ((), ())
        if stuck:
            log.warning("health_tasks_did_not_stop", tasks=sorted(t.get_name() for t in stuck))
        if self.recorder is not None:
            try:
                await self.recorder.flush()
            except Exception:
                log.warning("health_final_flush_failed", exc_info=True)


def start_health(
    *,
    kv: KV,
    invoker: Invoker,
    recorder: HealthRecorder | None,
    flush_interval: float = 5.0,
    breaker_interval: float = 2.0,
    probe_interval: float | None = None,
    probe_timeout: float = 5.0,
) -> HealthTasks:
    """Start flushing, watching breakers and (with ``probe_interval``) probing.

    The tasks' ``open_breakers`` is what the catalog reads (the lifespan puts it in the app's
    state). The recorder must be the one given to the ``Invoker`` as its observer.
    """
    open_breakers = OpenBreakers(invoker)
    tasks = [
        asyncio.create_task(open_breakers.refresh_forever(breaker_interval), name="open-breakers")
    ]
    if recorder is not None:
        tasks.append(
            asyncio.create_task(recorder.flush_forever(flush_interval), name="health-flush")
        )
    if probe_interval:
        tasks.append(
            asyncio.create_task(
                probe_forever(
                    invoker, invoker.registry, probe_interval, timeout=probe_timeout, kv=kv
                ),
                name="adapter-probe",
            )
        )
    return HealthTasks(recorder, open_breakers, tasks)
