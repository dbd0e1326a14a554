"""Holds the current catalog snapshot of this worker and keeps it in step with the database."""

from __future__ import annotations

import asyncio
import contextlib

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.background import one_pass
from backend.catalog.service import CatalogSnapshot, read_snapshot, stored_revision

log = structlog.get_logger("hefeitong.catalog")


class CatalogStore:
    def __init__(self, sessions: async_sessionmaker[AsyncSession]) -> None:
        self._sessions = sessions
        self._snapshot: CatalogSnapshot | None = None
        self._task: asyncio.Task[None] | None = None

    @property
    def snapshot(self) -> CatalogSnapshot:
        if self._snapshot is None:
            raise RuntimeError("catalog not loaded yet")
        return self._snapshot

    async def load(self) -> CatalogSnapshot:
        async with self._sessions() as session:
            self._snapshot = await read_snapshot(session)
        log.info(
            "catalog_loaded",
            revision=self._snapshot.revision,
            services=self._snapshot.total_services,
        )
        return self._snapshot

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
        # Polling one tiny row works for every deployment (SQLite file, several
        # workers, no Redis); a change is visible within ``interval`` seconds.
        self._task = asyncio.create_task(self._watch(interval), name="catalog-watch")

    async def _watch(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            with one_pass(log, "catalog_refresh_failed"):
                await self.refresh_if_changed()

    async def stop(self) -> None:
        if self._task:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
