"""The async database engine and the request-scoped session.

Services add and flush; the session dependency commits once the route has
finished without error and rolls back otherwise, so a request's writes either
all land or leave no trace.
"""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, Request
from sqlalchemy import DateTime, Dialect, event, text
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncEngine, async_sessionmaker, create_async_engine
from sqlalchemy.types import TypeDecorator
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.state import core_state


class UtcDateTime(TypeDecorator[datetime]):
    """A UTC instant on every database: stored in UTC, read back timezone-aware.

    PostgreSQL's ``timestamptz`` does this itself; SQLite keeps no offset, so without this
    it stored an aware value's wall time as if it were UTC and read every value back naive,
    which the API then sent without an offset (not an RFC 3339 ``date-time``).
    """

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is None:
            return value
        return value.astimezone(UTC)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None or value.tzinfo is not None:
            return value
        return value.replace(tzinfo=UTC)


def create_engine(url: str) -> AsyncEngine:
    parsed = make_url(url)
    kwargs: dict[str, Any] = {}
    if parsed.get_backend_name() == "sqlite":
        if parsed.database and parsed.database != ":memory:":
            Path(parsed.database).parent.mkdir(parents=True, exist_ok=True)
        kwargs["connect_args"] = {"timeout": 30}
    else:
        kwargs.update(pool_size=10, max_overflow=20, pool_pre_ping=True)
    engine = create_async_engine(url, **kwargs)
    if parsed.get_backend_name() == "sqlite":
        event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        event.listen(engine.sync_engine, "savepoint", _sqlite_savepoint_inside_transaction)
    return engine


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets readers proceed while one writer commits; foreign keys are off by default.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.close()


def _sqlite_savepoint_inside_transaction(connection: Any, _name: str) -> None:
    """Open the transaction before a SAVEPOINT that would otherwise start one of its own.

    The sqlite3 driver begins a transaction only at the first INSERT/UPDATE/DELETE, so a
    savepoint that was a request's first write began its own transaction, its RELEASE
    committed it, and the request's later rollback could not undo it. SQLAlchemy's
    documented cure (BEGIN on every transaction) also makes read-then-write requests fail
    with "database is locked" when another writer commits in between; this keeps the
    driver's late BEGIN and only fixes the savepoint case.
    """
    adapted = connection.connection.dbapi_connection
    if not adapted._connection.in_transaction:
        adapted.cursor().execute("BEGIN")


def session_factory(engine: AsyncEngine) -> async_sessionmaker[AsyncSession]:
    return async_sessionmaker(engine, class_=AsyncSession, expire_on_commit=False)


async def ping(engine: AsyncEngine) -> None:
    async with engine.connect() as conn:
        await conn.execute(text("SELECT 1"))


# Channels a change asks to be told about once it is committed (``publish_after_commit``).
_AFTER_COMMIT = "publish_after_commit"


def publish_after_commit(session: AsyncSession, channel: str) -> None:
    """Announce on the KV channel that this request's writes are committed (not before:
    a listener woken early would find nothing)."""
    session.info.setdefault(_AFTER_COMMIT, set()).add(channel)


async def get_session(request: Request) -> AsyncIterator[AsyncSession]:
    state = core_state(request)
    async with state.sessions() as session:
        try:
            yield session
            await session.commit()
        except BaseException:
            await session.rollback()
            raise
        for channel in session.info.pop(_AFTER_COMMIT, ()):
            # A lost wake-up only delays: whoever listens also looks on a timer.
            with contextlib.suppress(Exception):
                await state.kv.publish(channel, b"1")


# scope="function": commit runs as soon as the route returns, before the response is
# sent, so a failed commit becomes an error response instead of a lost write.
SessionDep = Annotated[AsyncSession, Depends(get_session, scope="function")]
