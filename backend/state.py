"""What the lifespan builds, as the code below the composition root reads it.

The composition root builds one ``AppState`` dataclass per app (backend/app_state.py) and
keeps it on the app. Features and core cannot import that class: it names every feature's
objects, and they sit below it. So each package declares, as a Protocol, the part it
reads (``CoreState`` here, ``IdentityState`` in identity, ``GatewayState``, ``CatalogState``,
``ProvidersState``), reads the state through it, and offers ``Annotated`` dependencies over
it; backend/app_state.py has mypy check that ``AppState`` provides every one of those
Protocols, so a renamed or retyped field fails type checking instead of a request.
"""

from __future__ import annotations

from typing import Annotated, Protocol, cast

from fastapi import Depends, Request
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession
from starlette.applications import Starlette

from backend.kv import KV
from backend.observability import Metrics
from backend.settings import Settings

# The attribute of ``app.state`` holding the one state object; nothing else goes there.
_ATTRIBUTE = "built"


class CoreState(Protocol):
    """What every part of the app may read: settings, the database, the KV store, metrics."""

    @property
    def settings(self) -> Settings: ...
    @property
    def engine(self) -> AsyncEngine: ...
    @property
    def sessions(self) -> async_sessionmaker[AsyncSession]: ...
    @property
    def kv(self) -> KV: ...
    @property
    def metrics(self) -> Metrics: ...


def keep_state(app: Starlette, state: CoreState) -> None:
    """Called by the lifespan once everything is built, before the first request."""
    setattr(app.state, _ATTRIBUTE, state)


def lifespan_state(app: Starlette) -> CoreState:
    """The state the lifespan built; a package casts it to the Protocol of what it reads."""
    try:
        return cast(CoreState, getattr(app.state, _ATTRIBUTE))
    except AttributeError:
        raise RuntimeError("the app's state exists only while its lifespan runs") from None


def core_state(request: Request) -> CoreState:
    return lifespan_state(request.app)


def settings_of(request: Request) -> Settings:
    return lifespan_state(request.app).settings


async def _core_state(request: Request) -> CoreState:
    return lifespan_state(request.app)


async def _settings(request: Request) -> Settings:
    return lifespan_state(request.app).settings


# async: FastAPI runs a plain-function dependency on a worker thread.
CoreStateDep = Annotated[CoreState, Depends(_core_state)]
SettingsDep = Annotated[Settings, Depends(_settings)]
