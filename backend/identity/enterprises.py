"""Enterprises (legal persons): who may act for them, proved by the e-license library.

A citizen becomes an enterprise's legal representative by holding its business
licence in the city's e-license library (the licence names the credit code); a
legal representative invites agents by phone number, who become agents by accepting
(``agents.py``). Acting for an enterprise gives a token whose ``act`` claim names it,
so departments see both the person and the enterprise they act for.
"""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.clock import utcnow
from backend.errors import AppError
from backend.identity.models import AuthSession, Citizen, Enterprise, EnterpriseLink
from backend.identity.schemas import TokenPair
from backend.identity.service import Identity
from backend.pagination import PageRequest, fetch_page

LEGAL_REPRESENTATIVE = "legal_representative"
AGENT = "agent"


class EnterpriseNotVerified(AppError):
    status = 422
    code = "ENTERPRISE_NOT_VERIFIED"
    title_zh = "未在电子证照库中找到您名下该企业的营业执照"
    title_en = "No business licence for this enterprise under your name in the e-license library"


class EnterpriseNotLinked(AppError):
    status = 404
    code = "ENTERPRISE_NOT_FOUND"
    title_zh = "您未关联该企业"
    title_en = "You are not linked to this enterprise"


class NotLegalRepresentative(AppError):
    status = 403
    code = "NOT_LEGAL_REPRESENTATIVE"
    title_zh = "只有法定代表人可以授权经办人"
    title_en = "Only the legal representative can authorize agents"


async def link_as_legal_representative(
    identity: Identity, db: AsyncSession, citizen: Citizen, credit_code: str
) -> Enterprise:
    licences = await identity.department(
        "e_license", "licences", {"type": "business_licence"}, identity.caller_of_citizen(citizen)
    )
    held = next((lic for lic in licences if lic.get("credit_code") == credit_code), None)
    if held is None:
        raise EnterpriseNotVerified()
    found = await db.exec(select(Enterprise).where(Enterprise.credit_code == credit_code))
    enterprise = found.first()
    if enterprise is None:
        enterprise = Enterprise(
            credit_code=credit_code, name=str(held["enterprise_name"]), created_at=utcnow()
        )
        db.add(enterprise)
        await db.flush()
    await add_link(db, enterprise, citizen.id, LEGAL_REPRESENTATIVE, granted_by=None)
    return enterprise


async def add_link(
    db: AsyncSession, enterprise: Enterprise, citizen_id: str, role: str, granted_by: str | None
) -> None:
    """Link the citizen to the enterprise in ``role``; a legal representative stays one."""
    existing = await db.exec(
        select(EnterpriseLink).where(
            EnterpriseLink.enterprise_id == enterprise.id, EnterpriseLink.citizen_id == citizen_id
        )
    )
    link = existing.first()
    if link is not None:
        if role == LEGAL_REPRESENTATIVE:
            link.role = role
            db.add(link)
        return
    try:
        async with db.begin_nested():
            db.add(
                EnterpriseLink(
                    enterprise_id=enterprise.id,
                    citizen_id=citizen_id,
                    role=role,
                    granted_by=granted_by,
                    created_at=utcnow(),
                )
            )
    except IntegrityError:
        pass  # linked a moment ago by a concurrent request: the outcome is the same


async def link_page(
    db: AsyncSession, citizen_id: str, page: PageRequest
) -> tuple[list[tuple[EnterpriseLink, Enterprise]], str | None]:
    """One page of the citizen's enterprise links, newest first, each with its enterprise.

    An agent (a bookkeeping firm's clerk, say) may act for hundreds of enterprises.
    """
    query = select(EnterpriseLink).where(EnterpriseLink.citizen_id == citizen_id)
    links, next_cursor = await fetch_page(
        db, query, page, at=EnterpriseLink.created_at, id=EnterpriseLink.id
    )
    found = await db.exec(
        select(Enterprise).where(col(Enterprise.id).in_([link.enterprise_id for link in links]))
    )
    enterprises = {e.id: e for e in found.all()}
    return [(link, enterprises[link.enterprise_id]) for link in links], next_cursor


async def may_act_for(db: AsyncSession, citizen_id: str, enterprise_id: str) -> bool:
    """Whether the citizen is linked to the enterprise (its legal representative or agent)."""
    link = await db.exec(
        select(EnterpriseLink.id).where(
            EnterpriseLink.enterprise_id == enterprise_id, EnterpriseLink.citizen_id == citizen_id
        )
    )
    return link.first() is not None


async def link_for(
    db: AsyncSession, citizen_id: str, credit_code: str
) -> tuple[EnterpriseLink, Enterprise]:
    found = await db.exec(
        select(EnterpriseLink, Enterprise)
        .join(Enterprise, col(Enterprise.id) == col(EnterpriseLink.enterprise_id))
        .where(EnterpriseLink.citizen_id == citizen_id, Enterprise.credit_code == credit_code)
    )
    row = found.first()
    if row is None:
        raise EnterpriseNotLinked()
    return row[0], row[1]


async def act_as(
    identity: Identity,
    db: AsyncSession,
    citizen: Citizen,
    session_id: str,
    credit_code: str | None,
    auth_time: int,
) -> TokenPair:
    """New tokens for the same device, acting for the enterprise (or for oneself: None)."""
    if credit_code is not None:
        await link_for(db, citizen.id, credit_code)
    session = await db.get(AuthSession, session_id)
    assert session is not None  # the token was verified against a live session
    return await identity.issue_for_session(
        db, citizen, session, auth_time=auth_time, acting_for=credit_code
    )
