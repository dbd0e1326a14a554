"""What the lifespan builds for one app: every shared resource, in one typed dataclass.

The lifespan (backend/app.py) builds it once everything is up and keeps it on the app
(``backend.state.keep_state``); requests reach it through each package's ``Annotated``
dependencies, tests and the CLI through ``state_of(app)``. The packages below the
composition root read it through Protocols of their own (see backend/state.py); the check at
the bottom makes mypy prove that this class provides every one of them.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette

from backend.catalog.store import CatalogStore
from backend.gateway.service import Gateway
from backend.identity.service import Identity
from backend.kv import KV
from backend.observability import Metrics
from backend.pii import PiiCipher
from backend.providers.health import HealthRecorder, OpenBreakers
from backend.providers.sync import AdapterSync
from backend.settings import Settings
from backend.state import lifespan_state
from integrations.base import AdapterRegistry
from integrations.invoker import Invoker


@dataclass(frozen=True)
class AppState:
    settings: Settings
    engine: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    kv: KV
    metrics: Metrics
    pii: PiiCipher
    # Every department's adapter, and the one Invoker (breakers, limits, health observer)
    # that the gateway, identity and the poller all call them through.
    registry: AdapterRegistry
    invoker: Invoker
    gateway: Gateway
    identity: Identity
    catalog: CatalogStore
    adapter_sync: AdapterSync
    open_breakers: OpenBreakers
    health_recorder: HealthRecorder


def state_of(app: Starlette) -> AppState:
    """The state of a running app; raises ``RuntimeError`` before its lifespan started."""
    state = lifespan_state(app)
    assert isinstance(state, AppState)
    return state


if TYPE_CHECKING:
    from backend.catalog.dependencies import CatalogState
    from backend.gateway.dependencies import GatewayState
    from backend.identity.auth import IdentityState
    from backend.providers.dependencies import ProvidersState
    from backend.state import CoreState

    def _provides_what_every_package_reads(
        state: AppState,
    ) -> tuple[CoreState, IdentityState, GatewayState, CatalogState, ProvidersState]:
        return state, state, state, state, state
