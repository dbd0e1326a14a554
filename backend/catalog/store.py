"""Holds the current catalog snapshot of this worker and keeps it in step with the database."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.background import one_pass
from backend.catalog.models import CATALOG_CHANNEL
from backend.catalog.service import CatalogSnapshot, read_snapshot, stored_revision
from backend.kv import KV

log = structlog.get_logger("hefeitong.catalog")


class CatalogStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession], kv: KV | None = None) -> None:
        self._sessions = sessions
        self._kv = kv
        self._snapshot: CatalogSnapshot | None = None
        self._tasks: list[asyncio.Task[None]] = []
        # Notified after every load: whoever waits for a change (a test, say) looks then.
        self.changed = asyncio.Condition()

    @property
    def snapshot(self) -> CatalogSnapshot:
        if self._snapshot is None:
            raise RuntimeError("catalog not loaded yet")
        return self._snapshot

    async def load(self) -> CatalogSnapshot:
        async with self._sessions() as session:
            snapshot = await read_snapshot(session)
        async with self.changed:
            self._snapshot = snapshot
            self.changed.notify_all()
        log.info("catalog_loaded", revision=snapshot.revision, services=snapshot.total_services)
        return snapshot

    async def refresh_if_changed(self) -> bool:
        """Reload when another process (``catalog load``, a new release) changed the catalog."""
        async with self._sessions() as session:
            row = await stored_revision(session)
        current = self._snapshot.revision if self._snapshot else -1
        if (row.revision if row else 0) != current:
            await self.load()
            return True
        return False

    def start_watching(self, interval: float) -> None:
        # Polling one tiny row works for every deployment (SQLite file, several workers, no
        # Redis, a `catalog load` from another process); a change is visible within
        # ``interval`` seconds. A change made through the API is also announced on the KV
        # store, and every worker listening reloads at once.
        self._tasks = [asyncio.create_task(self._watch(interval), name="catalog-watch")]
        if self._kv is not None:
            self._tasks.append(asyncio.create_task(self._listen(self._kv), name="catalog-listen"))

    async def _watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            with one_pass(log, "catalog_refresh_failed"):
                await self.refresh_if_changed()

    async def _listen(self, kv: KV) -> None:
        while True:
            with one_pass(log, "catalog_announcement_lost", warning=True):
                async with kv.subscribe(CATALOG_CHANNEL) as announcements:
                    async for _ in announcements:
                        await self.refresh_if_changed()
            await asyncio.sleep(1)  # the subscription was lost: try again shortly

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
