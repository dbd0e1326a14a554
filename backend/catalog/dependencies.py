"""How a request reaches the catalog snapshot it is served from."""

from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.catalog.service import CatalogSnapshot


def snapshot_of(request: Request) -> CatalogSnapshot:
    """The current snapshot (plain function: the invoke fast path calls it directly)."""
    snapshot: CatalogSnapshot = request.app.state.catalog.snapshot
    return snapshot


async def current_catalog(request: Request) -> CatalogSnapshot:
    return snapshot_of(request)


CatalogDep = Annotated[CatalogSnapshot, Depends(current_catalog)]
