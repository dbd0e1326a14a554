"""An enterprise's agents: invited by phone, agents only by their own consent, removable.

The legal representative invites a phone. The answer is the same whether or not the phone
has an account (before, "no such L2 account" told anyone with a licence who is registered,
issue 13 finding 8), and nothing is looked up about the phone's owner then. The invitation
waits, for seven days, for the phone's owner: once signed in and real-name verified (L2) they
accept it, which links them as an agent, or decline it. The legal representatives hear of
either answer, and of an agent leaving, by in-app message (``Identity.notices``); an agent the
legal representative removes hears of it the same way. Removing or leaving ends the link at
once, and the tokens that act for the enterprise with it (``TokenService.end_acting``).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col, func, or_, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.clock import utcnow
from backend.errors import AppError
from backend.identity.enterprises import (
    AGENT,
    LEGAL_REPRESENTATIVE,
    NotLegalRepresentative,
    add_link,
    link_for,
)
from backend.identity.exceptions import AssuranceLevelTooLow
from backend.identity.models import AgentInvitation, Citizen, Enterprise, EnterpriseLink
from backend.identity.notices import Notice
from backend.identity.service import Identity
from backend.pagination import PageRequest, fetch_page
from backend.pii import mask_name, mask_phone

INVITATION_DAYS = 7
# Invitations of one enterprise waiting for an answer: enough for any real firm, and a bound
# on what one licence holder can make the platform keep about other people's phones.
MAX_PENDING = 20
PENDING, ACCEPTED = "pending", "accepted"
NOTICE_KIND = "enterprise"


class AgentNotFound(AppError):
    status = 404
    code = "AGENT_NOT_FOUND"
    title_zh = "该企业没有这位经办人或邀请"
    title_en = "No such agent or invitation of this enterprise"


class InvitationNotFound(AppError):
    status = 404
    code = "INVITATION_NOT_FOUND"
    title_zh = "邀请不存在、已答复或已过期"
    title_en = "No such invitation, or it was answered or has expired"


class TooManyInvitations(AppError):
    status = 409
    code = "TOO_MANY_INVITATIONS"
    title_zh = "待答复的经办人邀请过多，请先撤回一些"
    title_en = "Too many agent invitations await an answer; withdraw some first"


@dataclass(frozen=True)
class AgentView:
    """One row of the legal representative's list: an agent, or an invitation still open."""

    invitation: AgentInvitation
    phone: str  # masked
    name: str | None  # masked; None until accepted


@dataclass(frozen=True)
class InvitationView:
    invitation: AgentInvitation
    enterprise: Enterprise


def _as_utc(value: datetime) -> datetime:
    # SQLite hands timezone-aware columns back naive; they were written in UTC.
    return value if value.tzinfo else value.replace(tzinfo=UTC)


async def _as_representative(db: AsyncSession, citizen: Citizen, credit_code: str) -> Enterprise:
    found, enterprise = await link_for(db, citizen.id, credit_code)
    if found.role != LEGAL_REPRESENTATIVE:
        raise NotLegalRepresentative()
    return enterprise


async def invite(
    identity: Identity, db: AsyncSession, citizen: Citizen, credit_code: str, phone: str
) -> None:
    """Invite ``phone`` to act for the enterprise; the same outcome for any phone."""
    enterprise = await _as_representative(db, citizen, credit_code)
    phone_hash = identity.phone_hash(phone)
    if phone_hash == citizen.phone_hash:
        return  # the legal representative acts for it already
    now = utcnow()
    expires_at = now + timedelta(days=INVITATION_DAYS)
    found = await db.exec(
        select(AgentInvitation).where(
            AgentInvitation.enterprise_id == enterprise.id,
            AgentInvitation.phone_hash == phone_hash,
            col(AgentInvitation.status).in_([PENDING, ACCEPTED]),
        )
    )
    existing = found.first()
    if existing is not None:
        if existing.status == PENDING:  # invited again: the invitation starts afresh
            existing.created_at, existing.expires_at = now, expires_at
            existing.invited_by = citizen.id
            db.add(existing)
        return  # accepted: an agent already
    waiting = await db.exec(
        select(func.count())
        .select_from(AgentInvitation)
        .where(
            AgentInvitation.enterprise_id == enterprise.id,
            AgentInvitation.status == PENDING,
            col(AgentInvitation.expires_at) > now,
        )
    )
    if waiting.one() >= MAX_PENDING:
        raise TooManyInvitations()
    try:
        async with db.begin_nested():
            db.add(
                AgentInvitation(
                    enterprise_id=enterprise.id,
                    phone_hash=phone_hash,
                    phone_enc=identity.pii.encrypt(phone, field="phone"),
                    invited_by=citizen.id,
                    status=PENDING,
                    created_at=now,
                    expires_at=expires_at,
                )
            )
    except IntegrityError:
        pass  # invited a moment ago by a concurrent request: the outcome is the same


async def agent_page(
    identity: Identity, db: AsyncSession, citizen: Citizen, credit_code: str, page: PageRequest
) -> tuple[list[AgentView], str | None]:
    """The enterprise's agents and open invitations, newest first (legal representative)."""
    enterprise = await _as_representative(db, citizen, credit_code)
    query = select(AgentInvitation).where(
        AgentInvitation.enterprise_id == enterprise.id,
        or_(
            col(AgentInvitation.status) == ACCEPTED,
            (col(AgentInvitation.status) == PENDING) & (col(AgentInvitation.expires_at) > utcnow()),
        ),
    )
    rows, next_cursor = await fetch_page(
        db, query, page, at=AgentInvitation.created_at, id=AgentInvitation.id
    )
    agent_ids = [row.citizen_id for row in rows if row.citizen_id is not None]
    found = await db.exec(select(Citizen).where(col(Citizen.id).in_(agent_ids)))
    names = {
        c.id: mask_name(identity.pii.decrypt(c.name_enc, field="name"))
        for c in found.all()
        if c.name_enc is not None
    }
    views = [
        AgentView(
            invitation=row,
            phone=mask_phone(identity.pii.decrypt(row.phone_enc, field="phone")),
            name=names.get(row.citizen_id) if row.citizen_id else None,
        )
        for row in rows
    ]
    return views, next_cursor


async def remove(
    identity: Identity, db: AsyncSession, citizen: Citizen, credit_code: str, agent_id: str
) -> None:
    """End an agent's authority, or withdraw an invitation (legal representative)."""
    enterprise = await _as_representative(db, citizen, credit_code)
    row = await db.get(AgentInvitation, agent_id)
    if row is None or row.enterprise_id != enterprise.id or not _open(row):
        raise AgentNotFound()
    ended = "removed" if row.status == ACCEPTED else "withdrawn"
    if not await _answer(db, row, from_status=row.status, to_status=ended):
        raise AgentNotFound()  # answered or removed a moment ago
    if ended == "removed" and row.citizen_id is not None:
        await _unlink(identity, db, enterprise, row.citizen_id, only_role=AGENT)
        await identity.notices(
            db,
            row.citizen_id,
            Notice(
                kind=NOTICE_KIND,
                title="经办人授权已取消",
                body=f"{enterprise.name}的法定代表人已取消您的经办人授权，"
                "您不能再以该企业身份办事。",
            ),
        )


async def leave(identity: Identity, db: AsyncSession, citizen: Citizen, credit_code: str) -> None:
    """The citizen stops acting for the enterprise (an agent's consent, withdrawn)."""
    found, enterprise = await link_for(db, citizen.id, credit_code)
    await _unlink(identity, db, enterprise, citizen.id)
    if found.role != AGENT:
        return  # a legal representative may link again with the licence
    rows = await db.exec(
        select(AgentInvitation).where(
            AgentInvitation.enterprise_id == enterprise.id,
            AgentInvitation.citizen_id == citizen.id,
            AgentInvitation.status == ACCEPTED,
        )
    )
    for row in rows.all():
        await _answer(db, row, from_status=ACCEPTED, to_status="left")
    await _tell_representatives(
        identity,
        db,
        enterprise,
        Notice(
            kind=NOTICE_KIND,
            title="经办人已退出",
            body=f"{_who(identity, citizen)}已不再担任{enterprise.name}的经办人。",
        ),
    )


# --- the invited phone's side ---------------------------------------------------------------


async def invitation_page(
    db: AsyncSession, citizen: Citizen, page: PageRequest
) -> tuple[list[InvitationView], str | None]:
    """The invitations waiting for the citizen's answer, newest first."""
    query = select(AgentInvitation).where(
        AgentInvitation.phone_hash == citizen.phone_hash,
        AgentInvitation.status == PENDING,
        col(AgentInvitation.expires_at) > utcnow(),
    )
    rows, next_cursor = await fetch_page(
        db, query, page, at=AgentInvitation.created_at, id=AgentInvitation.id
    )
    found = await db.exec(
        select(Enterprise).where(col(Enterprise.id).in_([row.enterprise_id for row in rows]))
    )
    enterprises = {e.id: e for e in found.all()}
    return [InvitationView(row, enterprises[row.enterprise_id]) for row in rows], next_cursor


async def accept(
    identity: Identity, db: AsyncSession, citizen: Citizen, invitation_id: str
) -> Enterprise:
    """Become the enterprise's agent; needs a real-name verified account (L2)."""
    row, enterprise = await _waiting_for(db, citizen, invitation_id)
    if citizen.assurance_level < 2:
        raise AssuranceLevelTooLow("Agents need a real-name verified account", required_level=2)
    if not await _answer(db, row, from_status=PENDING, to_status=ACCEPTED, agent=citizen.id):
        raise InvitationNotFound()  # answered a moment ago by a concurrent request
    await add_link(db, enterprise, citizen.id, AGENT, granted_by=row.invited_by)
    await _tell_representatives(
        identity,
        db,
        enterprise,
        Notice(
            kind=NOTICE_KIND,
            title="经办人邀请已接受",
            body=f"{_who(identity, citizen)}已接受邀请，成为{enterprise.name}的经办人。",
        ),
    )
    return enterprise


async def decline(
    identity: Identity, db: AsyncSession, citizen: Citizen, invitation_id: str
) -> None:
    row, enterprise = await _waiting_for(db, citizen, invitation_id)
    if not await _answer(db, row, from_status=PENDING, to_status="declined"):
        raise InvitationNotFound()
    phone = mask_phone(identity.pii.decrypt(row.phone_enc, field="phone"))
    await _tell_representatives(
        identity,
        db,
        enterprise,
        Notice(
            kind=NOTICE_KIND,
            title="经办人邀请被谢绝",
            body=f"手机号{phone}的用户谢绝了成为{enterprise.name}经办人的邀请。",
        ),
    )


# --- shared -------------------------------------------------------------------------------


def _open(row: AgentInvitation) -> bool:
    if row.status == ACCEPTED:
        return True
    return row.status == PENDING and _as_utc(row.expires_at) > utcnow()


async def _waiting_for(
    db: AsyncSession, citizen: Citizen, invitation_id: str
) -> tuple[AgentInvitation, Enterprise]:
    """The invitation, if it is to the citizen's phone and waits for an answer."""
    row = await db.get(AgentInvitation, invitation_id)
    if row is None or row.phone_hash != citizen.phone_hash or row.status != PENDING:
        raise InvitationNotFound()
    if not _open(row):  # expired
        raise InvitationNotFound()
    enterprise = await db.get(Enterprise, row.enterprise_id)
    assert enterprise is not None  # a foreign key
    return row, enterprise


async def _answer(
    db: AsyncSession,
    row: AgentInvitation,
    *,
    from_status: str,
    to_status: str,
    agent: str | None = None,
) -> bool:
    """Move the row on only if it is still ``from_status``: of two concurrent answers (an
    accept and a withdrawal, say) exactly one wins."""
    values: dict[str, object] = {"status": to_status, "answered_at": utcnow()}
    if agent is not None:
        values["citizen_id"] = agent
    moved = await db.exec(
        update(AgentInvitation)
        .where(col(AgentInvitation.id) == row.id, col(AgentInvitation.status) == from_status)
        .values(**values)
        .execution_options(synchronize_session="fetch")
    )
    return bool(moved.rowcount == 1)


async def _unlink(
    identity: Identity,
    db: AsyncSession,
    enterprise: Enterprise,
    citizen_id: str,
    only_role: str | None = None,
) -> None:
    """End the citizen's link (``only_role``: if it is that role; a legal representative who
    once accepted an invitation stays one) and their tokens that act for the enterprise."""
    query = select(EnterpriseLink).where(
        EnterpriseLink.enterprise_id == enterprise.id, EnterpriseLink.citizen_id == citizen_id
    )
    if only_role is not None:
        query = query.where(EnterpriseLink.role == only_role)
    found = (await db.exec(query)).all()
    for row in found:
        await db.delete(row)
    if found:
        await identity.tokens.end_acting(citizen_id, enterprise.credit_code)


async def _tell_representatives(
    identity: Identity, db: AsyncSession, enterprise: Enterprise, notice: Notice
) -> None:
    found = await db.exec(
        select(EnterpriseLink.citizen_id).where(
            EnterpriseLink.enterprise_id == enterprise.id,
            EnterpriseLink.role == LEGAL_REPRESENTATIVE,
        )
    )
    for citizen_id in found.all():
        await identity.notices(db, citizen_id, notice)


def _who(identity: Identity, citizen: Citizen) -> str:
    """The citizen as a legal representative may see them: masked name and phone."""
    phone = mask_phone(identity.pii.decrypt(citizen.phone_enc, field="phone"))
    if citizen.name_enc is None:
        return f"手机号{phone}的用户"
    return f"{mask_name(identity.pii.decrypt(citizen.name_enc, field='name'))}（{phone}）"
