"""Keeps this worker's adapter registry in step with the published provider adapters.

A publish (or rollback) commits the new active version, bumps one revision row and
announces itself on the KV store (Redis pub/sub in production), so every worker loads
the version within moments, without a restart; the revision is also checked every few
seconds, so a missed announcement only delays. Swapping is one dictionary assignment in
the registry: a call already under way holds the old adapter object and finishes on
the old version; the next call gets the new one.

Every provider's adapters share one transport whose resolver refuses addresses outside
that provider's allowed hosts, at each connection (a name that later points inward
is refused even though it passed at registration).
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable

import structlog
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.background import one_pass
from backend.kv import KV
from backend.pii import PiiCipher
from backend.providers.models import AdaptersRevision, AdapterVersion, Provider, ProviderAdapter
from backend.providers.service import ADAPTERS_CHANNEL, full_document, policy_of
from integrations.base import AdapterRegistry
from integrations.http_adapter import SpecAdapter
from integrations.spec import StrictVariables, parse_spec
from integrations.ssrf import HostPolicy
from integrations.transport import AiohttpTransport

log = structlog.get_logger("hefeitong.providers")

TransportFactory = Callable[[HostPolicy], AiohttpTransport]


class AdapterSync:
    def __init__(
        self,
        sessions: async_sessionmaker[AsyncSession],
        kv: KV,
        registry: AdapterRegistry,
        pii: PiiCipher,
        *,
        on_swap: Callable[[str], None] | None = None,
        transport_factory: TransportFactory | None = None,
    ) -> None:
        self._sessions = sessions
        self._kv = kv
        self._registry = registry
        self._pii = pii
        self._on_swap = on_swap
        self._transport_factory = transport_factory or (lambda p: AiohttpTransport(policy=p))
        self._transports: dict[str, tuple[HostPolicy, AiohttpTransport]] = {}
        self._loaded: dict[str, int] = {}  # adapter id → active version in the registry
        self.revision = -1
        self._lock = asyncio.Lock()
        # Notified after every refresh: whoever waits for a version (a test, say) looks then.
        self.changed = asyncio.Condition()
        self._tasks: list[asyncio.Task[None]] = []

    def transport_for(self, provider: Provider) -> AiohttpTransport:
        """The provider's guarded transport (a new one when its hosts changed)."""
        policy = policy_of(provider)
        current = self._transports.get(provider.code)
        if current is None or current[0] != policy:
            current = (policy, self._transport_factory(policy))
            self._transports[provider.code] = current
        return current[1]

    async def refresh(self) -> int:
        """Load every published version this worker does not have yet; returns how many."""
        async with self._lock, self._sessions() as db:
            row = await db.get(AdaptersRevision, 1)
            revision = row.revision if row else 0
            if revision == self.revision:
                return 0
            published = await db.exec(
                select(ProviderAdapter, Provider)
                .join(Provider, col(Provider.code) == col(ProviderAdapter.provider_code))
                .where(col(ProviderAdapter.active_version).is_not(None))
            )
            swapped = 0
            for adapter, provider in published.all():
                if self._loaded.get(adapter.adapter_id) == adapter.active_version:
                    continue
                assert adapter.active_version is not None
                version = (
                    await db.exec(
                        select(AdapterVersion).where(
                            AdapterVersion.adapter_id == adapter.adapter_id,
                            AdapterVersion.version == adapter.active_version,
                        )
                    )
                ).one()
                try:
                    self._swap(version, provider)
                    swapped += 1
                except Exception:
                    # Validated when stored; a failure here is ours. Keep serving the old one.
                    log.exception("adapter_load_failed", adapter=adapter.adapter_id)
            self.revision = revision
        async with self.changed:
            self.changed.notify_all()
        return swapped

    def active_version(self, adapter_id: str) -> int | None:
        """The published version of the adapter this worker serves, if any."""
        return self._loaded.get(adapter_id)

    def _swap(self, version: AdapterVersion, provider: Provider) -> None:
        spec = parse_spec(full_document(self._pii, version), StrictVariables())
        self._registry.register(SpecAdapter(spec, self.transport_for(provider)), replace=True)
        self._loaded[version.adapter_id] = version.version
        if self._on_swap is not None:
            self._on_swap(version.adapter_id)
        log.info("adapter_published", adapter=version.adapter_id, version=version.version)

    def start(self, interval: float) -> None:
        self._tasks = [
            asyncio.create_task(self._listen(), name="adapters-listen"),
            asyncio.create_task(self._poll(interval), name="adapters-poll"),
        ]

    async def _listen(self) -> None:
        while True:
            with one_pass(log, "adapters_announcement_lost", warning=True):
                async with self._kv.subscribe(ADAPTERS_CHANNEL) as announcements:
                    async for _ in announcements:
                        await self.refresh()
            await asyncio.sleep(1)  # the subscription was lost: try again shortly

    async def _poll(self, interval: float) -> None:
        while True:
            await asyncio.sleep(interval)
            with one_pass(log, "adapters_refresh_failed"):
                await self.refresh()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        for _, transport in self._transports.values():
            await transport.aclose()
