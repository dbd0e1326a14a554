"""Services departments bring through the provider API, written into the catalog by the catalog.

The catalog owns its tables: a feature that adds to it (providers, on approving a proposal)
hands over a ``ContributedService`` and the catalog writes the rows and bumps its revision,
so every worker's catalog watcher loads it (search index included) within seconds. A
``catalog load`` replaces the catalog from a data file and is given the contributed services
to merge back (``replace_catalog(..., contributed=…)``), so a data release never silently
drops what departments brought.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import func
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.catalog.models import CATALOG_CHANNEL, CatalogRevision, Department, Domain, Service
from backend.db import publish_after_commit


@dataclass(frozen=True)
class ContributedService:
    """A query service bound to a department's adapter operation, in the catalog's terms."""

    code: str
    domain: str
    department_code: str
    department_name_zh: str
    department_name_en: str
    name_zh: str
    name_en: str
    summary_zh: str
    summary_en: str
    min_level: int
    keywords: tuple[str, ...]
    adapter_id: str
    operation: str


async def service_code_taken(db: AsyncSession, code: str) -> bool:
    return await db.get(Service, code) is not None


async def domain_exists(db: AsyncSession, code: str) -> bool:
    return await db.get(Domain, code) is not None


async def add_contributed(db: AsyncSession, service: ContributedService) -> None:
    """Add the service (and its department, if new) after the catalog's last service."""
    if await db.get(Department, service.department_code) is None:
        db.add(
            Department(
                code=service.department_code,
                name_zh=service.department_name_zh,
                name_en=service.department_name_en,
            )
        )
    last = (await db.exec(select(func.max(Service.position)))).one()
    db.add(
        Service(
            code=service.code,
            position=(last or 0) + 1,
            domain_code=service.domain,
            department_code=service.department_code,
            kind="query",
            name_zh=service.name_zh,
            name_en=service.name_en,
            summary_zh=service.summary_zh,
            summary_en=service.summary_en,
            min_level=service.min_level,
            keywords=list(service.keywords),
            adapter_id=service.adapter_id,
            adapter_operation=service.operation,
        )
    )
    await db.flush()


async def publish_contributed(db: AsyncSession, service: ContributedService) -> None:
    """Add the service and bump the revision, so every worker loads it within seconds."""
    await add_contributed(db, service)
    current = await db.get(CatalogRevision, 1)
    if current is not None:
        current.revision += 1
        db.add(current)
    publish_after_commit(db, CATALOG_CHANNEL)
