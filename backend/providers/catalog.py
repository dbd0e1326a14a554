"""Services providers propose, and putting the approved ones into the catalog.

An approved service is written into the catalog tables and the catalog revision is
bumped, so every worker's catalog watcher loads it (search index included) within
seconds, without a restart. A ``catalog load`` replaces the catalog from a file; the
approved provider services are written back after it (``restore_approved``), so a
data release never silently drops what providers brought.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import func
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.catalog.models import CatalogRevision, Department, Domain, Service
from backend.clock import utcnow
from backend.errors import AppError, NotFound
from backend.providers.models import AdapterVersion, Provider, ProviderAdapter, ProviderService


class ServiceCodeTaken(AppError):
    status = 409
    code = "SERVICE_CODE_TAKEN"
    title_zh = "事项编码已被占用"
    title_en = "This service code is taken"


class ProposalInvalid(AppError):
    status = 422
    code = "SERVICE_PROPOSAL_INVALID"
    title_zh = "事项申请有误"
    title_en = "The service proposal is not valid"


class ProposalNotFound(NotFound):
    code = "SERVICE_PROPOSAL_NOT_FOUND"
    title_zh = "事项申请不存在"
    title_en = "Service proposal not found"


class ProposalDecided(AppError):
    status = 409
    code = "SERVICE_PROPOSAL_DECIDED"
    title_zh = "该事项申请已处理"
    title_en = "This proposal has been decided already"


async def _operations(db: AsyncSession, adapter_id: str, version: int | None) -> set[str]:
    if version is None:
        return set()
    row = (
        await db.exec(
            select(AdapterVersion).where(
                AdapterVersion.adapter_id == adapter_id, AdapterVersion.version == version
            )
        )
    ).first()
    return set(row.spec.get("operations", {})) if row else set()


async def propose(db: AsyncSession, provider: Provider, entry: dict[str, Any]) -> ProviderService:
    """``entry``: code, domain, names, summaries, min_level, keywords, adapter_id, operation."""
    code = entry["code"]
    adapter = await db.get(ProviderAdapter, entry["adapter_id"])
    if adapter is None or adapter.provider_code != provider.code:
        raise ProposalInvalid(f"adapter {entry['adapter_id']!r} is not one of yours")
    if entry["operation"] not in await _operations(db, adapter.adapter_id, adapter.latest_version):
        raise ProposalInvalid(f"adapter {adapter.adapter_id!r} has no {entry['operation']!r}")
    if await db.get(Domain, entry["domain"]) is None:
        raise ProposalInvalid(f"no domain {entry['domain']!r}")
    pending = await db.exec(
        select(ProviderService.id).where(
            ProviderService.code == code, col(ProviderService.status).in_(["proposed", "approved"])
        )
    )
    if await db.get(Service, code) is not None or pending.first() is not None:
        raise ServiceCodeTaken()
    proposal = ProviderService(
        code=code,
        provider_code=provider.code,
        adapter_id=adapter.adapter_id,
        operation=entry["operation"],
        entry=entry,
        created_at=utcnow(),
    )
    db.add(proposal)
    await db.flush()
    return proposal


async def decide(
    db: AsyncSession, proposal_id: str, approve: bool, note: str | None
) -> ProviderService:
    proposal = await db.get(ProviderService, proposal_id)
    if proposal is None:
        raise ProposalNotFound()
    if proposal.status != "proposed":
        raise ProposalDecided()
    if approve:
        adapter = await db.get(ProviderAdapter, proposal.adapter_id)
        published = await _operations(
            db, proposal.adapter_id, adapter.active_version if adapter else None
        )
        if proposal.operation not in published:
            raise ProposalDecided(
                f"publish a version of {proposal.adapter_id!r} with {proposal.operation!r} first"
            )
        if await db.get(Service, proposal.code) is not None:
            raise ServiceCodeTaken()
        provider = await db.get(Provider, proposal.provider_code)
        assert provider is not None
        await _add_to_catalog(db, provider, proposal)
        await _bump_catalog_revision(db)
    proposal.status = "approved" if approve else "rejected"
    proposal.note, proposal.decided_at = note, utcnow()
    db.add(proposal)
    return proposal


async def _add_to_catalog(db: AsyncSession, provider: Provider, proposal: ProviderService) -> None:
    if await db.get(Department, provider.code) is None:
        db.add(Department(code=provider.code, name_zh=provider.name_zh, name_en=provider.name_en))
    last = (await db.exec(select(func.max(Service.position)))).one()
    e = proposal.entry
    db.add(
        Service(
            code=proposal.code,
            position=(last or 0) + 1,
            domain_code=e["domain"],
            department_code=provider.code,
            kind="query",
            name_zh=e["name_zh"],
            name_en=e["name_en"],
            summary_zh=e["summary_zh"],
            summary_en=e["summary_en"],
            min_level=e["min_level"],
            keywords=list(e.get("keywords", [])),
            adapter_id=proposal.adapter_id,
            adapter_operation=proposal.operation,
        )
    )
    await db.flush()


async def _bump_catalog_revision(db: AsyncSession) -> None:
    current = await db.get(CatalogRevision, 1)
    if current is not None:
        current.revision += 1
        db.add(current)


async def restore_approved(db: AsyncSession) -> None:
    """After a catalog load from a file: put the approved provider services back."""
    approved = await db.exec(
        select(ProviderService, Provider)
        .join(Provider, col(Provider.code) == col(ProviderService.provider_code))
        .where(ProviderService.status == "approved")
        .order_by(col(ProviderService.decided_at))
    )
    for proposal, provider in approved.all():
        if await db.get(Service, proposal.code) is None:
            await _add_to_catalog(db, provider, proposal)
