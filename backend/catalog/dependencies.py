"""How a request reaches the catalog snapshot it is served from."""

from __future__ import annotations

from typing import Annotated, Protocol, cast

from fastapi import Depends, Request

from backend.catalog.service import CatalogSnapshot
from backend.catalog.store import CatalogStore
from backend.state import lifespan_state


class OpenAdapters(Protocol):
    """Which adapters' breakers are open (providers' ``OpenBreakers`` keeps it fresh)."""

    @property
    def adapter_ids(self) -> frozenset[str]: ...


class CatalogState(Protocol):
    """What the catalog reads of the app's state (see backend/state.py)."""

    @property
    def catalog(self) -> CatalogStore: ...
    @property
    def open_breakers(self) -> OpenAdapters: ...


def catalog_state(request: Request) -> CatalogState:
    return cast(CatalogState, lifespan_state(request.app))


def snapshot_of(request: Request) -> CatalogSnapshot:
    """The current snapshot (plain function: the invoke fast path calls it directly)."""
    return catalog_state(request).catalog.snapshot


async def current_catalog(request: Request) -> CatalogSnapshot:
    return snapshot_of(request)


CatalogDep = Annotated[CatalogSnapshot, Depends(current_catalog)]
