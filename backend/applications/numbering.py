"""Human-readable application numbers: HF + the day in Beijing time + a 5-digit sequence."""

from __future__ import annotations

from datetime import datetime
from zoneinfo import ZoneInfo

from sqlalchemy import update
from sqlalchemy.exc import IntegrityError
from sqlmodel import col
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications.models import DailyCounter

BEIJING = ZoneInfo("Asia/Shanghai")


async def next_number(session: AsyncSession, now: datetime) -> str:
    """The next number of the day, unique across workers: the counter row is updated in
    the caller's transaction, so concurrent submissions queue on its lock."""
    day = now.astimezone(BEIJING).strftime("%Y%m%d")
    for _ in range(2):
        result = await session.exec(
            update(DailyCounter)
            .where(col(DailyCounter.day) == day)
            .values(last=col(DailyCounter.last) + 1)
            .returning(col(DailyCounter.last))
        )
        value = result.scalar_one_or_none()
        if value is not None:
            return f"HF{day}{value:05d}"
        try:
            async with session.begin_nested():  # the day's first number
                session.add(DailyCounter(day=day, last=1))
            return f"HF{day}00001"
        except IntegrityError:
            continue  # another worker created the day a moment ago: take the next one
    raise RuntimeError("could not allocate an application number")
