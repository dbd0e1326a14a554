from __future__ import annotations

from typing import Annotated

from fastapi import Depends, Request

from backend.catalog.service import CatalogSnapshot


async def current_catalog(request: Request) -> CatalogSnapshot:
    snapshot: CatalogSnapshot = request.app.state.catalog.snapshot
    return snapshot


CatalogDep = Annotated[CatalogSnapshot, Depends(current_catalog)]
