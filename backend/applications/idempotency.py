"""Idempotent submission: an ``Idempotency-Key`` claimed once, in a transaction of its own."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime, timedelta

from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications.exceptions import IdempotencyInFlight, IdempotencyKeyReused
from backend.applications.models import IdempotencyRecord
from backend.applications.schemas import ApplicationCreate
from backend.clock import utcnow

# A claimed key whose request never finished (the worker died) may be taken over after this.
IN_FLIGHT_TIMEOUT = timedelta(seconds=60)


def _as_utc(value: datetime) -> datetime:
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def request_hash(body: ApplicationCreate) -> str:
    canonical = json.dumps(body.model_dump(mode="json"), sort_keys=True, ensure_ascii=False)
    return hashlib.sha256(canonical.encode()).hexdigest()


async def claim_idempotency_key(
    sessions: async_sessionmaker[AsyncSession], owner_id: str, key: str, digest: str
) -> str | None:
    """Claim the key in its own committed transaction, so concurrent requests see it.

    Returns the id of the application an earlier identical request created, or None
    when this request is the one to create it.
    """
    async with sessions() as db, db.begin():
        try:
            async with db.begin_nested():
                db.add(
                    IdempotencyRecord(
                        owner_id=owner_id, key=key, request_hash=digest, created_at=utcnow()
                    )
                )
            return None
        except IntegrityError:
            pass
        found = await db.exec(
            select(IdempotencyRecord).where(
                IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == key
            )
        )
        record = found.one()
        if record.request_hash != digest:
            raise IdempotencyKeyReused()
        if record.application_id is not None:
            return record.application_id
        if utcnow() - _as_utc(record.created_at) < IN_FLIGHT_TIMEOUT:
            raise IdempotencyInFlight(headers={"Retry-After": "1"})
        record.created_at = utcnow()  # abandoned by a request that died: take it over
        db.add(record)
        return None
