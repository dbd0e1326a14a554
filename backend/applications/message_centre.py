"""The citizen's message centre: one message per status change or notice, newest first."""

from __future__ import annotations

from sqlmodel import col, func, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications.exceptions import MessageNotFound
from backend.applications.models import Message
from backend.clock import utcnow
from backend.identity import Notice
from backend.ids import uuid7
from backend.pagination import PageRequest, fetch_page


async def messages_of(
    db: AsyncSession, citizen_id: str, *, unread_only: bool, page: PageRequest
) -> tuple[list[Message], str | None, int]:
    """One page of the citizen's messages, newest first (only unread ones if asked), the next
    page's cursor, and how many of all their messages are unread."""
    query = select(Message).where(Message.citizen_id == citizen_id)
    if unread_only:
        query = query.where(col(Message.read_at).is_(None))
    rows, next_cursor = await fetch_page(db, query, page, at=Message.created_at, id=Message.id)
    return rows, next_cursor, await unread_count(db, citizen_id)


async def unread_count(db: AsyncSession, citizen_id: str) -> int:
    """Counted by the database from the partial index of unread messages, not by loading
    them: a citizen who never reads keeps one row per status change for years."""
    counted = await db.exec(
        select(func.count())
        .select_from(Message)
        .where(Message.citizen_id == citizen_id, col(Message.read_at).is_(None))
    )
    return counted.one()


async def mark_read(db: AsyncSession, citizen_id: str, message_id: str) -> None:
    """Idempotent; another citizen's message is not found (never forbidden)."""
    message = await db.get(Message, message_id)
    if message is None or message.citizen_id != citizen_id:
        raise MessageNotFound()
    if message.read_at is None:
        message.read_at = utcnow()
        db.add(message)


async def post_notice(db: AsyncSession, citizen_id: str, notice: Notice) -> None:
    """A notice from identity, in the caller's transaction: identity's ``CitizenNotices``
    (backend/identity/notices.py), handed to it by the composition root."""
    db.add(
        Message(
            citizen_id=citizen_id,
            event_id=uuid7(),
            kind=notice.kind,
            title=notice.title[:200],
            body=notice.body[:1000],
            created_at=utcnow(),
        )
    )
