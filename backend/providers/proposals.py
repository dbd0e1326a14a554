"""Services providers propose, and handing the approved ones to the catalog.

The catalog owns its tables: an approved proposal goes to it as a ``ContributedService``
(``publish_contributed`` writes it and bumps the revision, so every worker loads it within
seconds). A ``catalog load`` replaces the catalog from a file and merges back
``approved_services`` (the composition root passes them, see backend/migrate.py), so a data
release never silently drops what providers brought.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.catalog import (
    ContributedService,
    domain_exists,
    publish_contributed,
    service_code_taken,
)
from backend.clock import utcnow
from backend.errors import AppError, NotFound
from backend.pagination import PageRequest, fetch_page
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


async def listed(
    db: AsyncSession, status: str, page: PageRequest
) -> tuple[list[ProviderService], str | None]:
    """One page of the proposals with ``status``, oldest first: a queue worked through in
    the order it arrived, where proposals added while paging come at the end of the pass."""
    query = select(ProviderService).where(ProviderService.status == status)
    return await fetch_page(
        db, query, page, at=ProviderService.created_at, id=ProviderService.id, oldest_first=True
    )


async def of_provider(
    db: AsyncSession, provider_code: str, page: PageRequest
) -> tuple[list[ProviderService], str | None]:
    """One page of one provider's proposals, oldest first (as the list was before it paged)."""
    query = select(ProviderService).where(ProviderService.provider_code == provider_code)
    return await fetch_page(
        db, query, page, at=ProviderService.created_at, id=ProviderService.id, oldest_first=True
    )


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
    if not await domain_exists(db, entry["domain"]):
        raise ProposalInvalid(f"no domain {entry['domain']!r}")
    pending = await db.exec(
        select(ProviderService.id).where(
            ProviderService.code == code, col(ProviderService.status).in_(["proposed", "approved"])
        )
    )
    if await service_code_taken(db, code) or pending.first() is not None:
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
        if await service_code_taken(db, proposal.code):
            raise ServiceCodeTaken()
        provider = await db.get(Provider, proposal.provider_code)
        assert provider is not None
        await publish_contributed(db, _contributed(provider, proposal))
    proposal.status = "approved" if approve else "rejected"
    proposal.note, proposal.decided_at = note, utcnow()
    db.add(proposal)
    return proposal


def _contributed(provider: Provider, proposal: ProviderService) -> ContributedService:
    e = proposal.entry
    return ContributedService(
        code=proposal.code,
        domain=e["domain"],
        department_code=provider.code,
        department_name_zh=provider.name_zh,
        department_name_en=provider.name_en,
        name_zh=e["name_zh"],
        name_en=e["name_en"],
        summary_zh=e["summary_zh"],
        summary_en=e["summary_en"],
        min_level=e["min_level"],
        keywords=tuple(e.get("keywords", [])),
        adapter_id=proposal.adapter_id,
        operation=proposal.operation,
    )


async def approved_services(db: AsyncSession) -> list[ContributedService]:
    """Every approved proposal as the catalog takes it, in the order they were approved."""
    approved = await db.exec(
        select(ProviderService, Provider)
        .join(Provider, col(Provider.code) == col(ProviderService.provider_code))
        .where(ProviderService.status == "approved")
        .order_by(col(ProviderService.decided_at))
    )
    return [_contributed(provider, proposal) for proposal, provider in approved.all()]
