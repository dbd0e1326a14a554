"""The citizen's message centre: one message per status change, newest first, read or not."""

from __future__ import annotations

from collections.abc import Sequence

from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications.exceptions import MessageNotFound
from backend.applications.models import Message
from backend.clock import utcnow


async def messages_of(
    db: AsyncSession, citizen_id: str, *, unread_only: bool, limit: int
) -> tuple[Sequence[Message], int]:
    """The citizen's latest ``limit`` messages (only unread ones if asked), and how many of
    all their messages are unread."""
    query = select(Message).where(Message.citizen_id == citizen_id)
    if unread_only:
        query = query.where(col(Message.read_at).is_(None))
    rows = (await db.exec(query.order_by(col(Message.id).desc()).limit(limit))).all()
    unread = (
        await db.exec(
            select(Message.id).where(
                Message.citizen_id == citizen_id, col(Message.read_at).is_(None)
            )
        )
    ).all()
    return rows, len(unread)


async def mark_read(db: AsyncSession, citizen_id: str, message_id: str) -> None:
    """Idempotent; another citizen's message is not found (never forbidden)."""
    message = await db.get(Message, message_id)
    if message is None or message.citizen_id != citizen_id:
        raise MessageNotFound()
    if message.read_at is None:
        message.read_at = utcnow()
        db.add(message)
