"""Does the last page of a long list cost what the first does?

One citizen with ``--rows`` messages (among as many of other citizens'), on SQLite and on
PostgreSQL, both migrated as in production. Timed, medians over ``--rounds``:

- the first, the second, a middle and the last page (``fetch_page`` of
  ``backend/pagination.py`` over the (citizen, created_at, id) index), the unread COUNT, and
  a page and the count together as the message centre runs them (``messages_of``);
- the second, a middle and the last page with the keyset written as the OR alone, without the
  leading ``created_at <=`` range (what the comment in ``fetch_page`` says it is there for);
- the last page by OFFSET, what a page number would cost.

    .venv/bin/python bench/list_pages.py --rows 100000
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import tempfile
import time
import uuid
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import insert, or_
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend import db
from backend.applications.message_centre import messages_of, unread_count
from backend.applications.models import Message
from backend.migrate import upgrade
from backend.pagination import Cursor, PageRequest, fetch_page

PAGE = 20
POSTGRES = "postgresql+asyncpg://postgres@127.0.0.1:5432/postgres"


async def _fill(url: str, citizen: str, rows: int) -> None:
    engine = db.create_engine(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)
    try:
        for owner in (citizen, "someone-else"):
            for chunk in range(0, rows, 5000):
                values: list[dict[str, Any]] = [
                    {
                        "id": f"{owner[:8]}-{n:012d}",
                        "citizen_id": owner,
                        "event_id": str(uuid.uuid4()),
                        "application_id": "x",
                        "title": "申请已受理",
                        "body": "HF2026010100001 申请已受理",
                        "created_at": start + timedelta(seconds=n),
                        "read_at": None if n % 3 else start,
                    }
                    for n in range(chunk, min(rows, chunk + 5000))
                ]
                async with engine.begin() as conn:
                    await conn.execute(insert(Message), values)
        async with engine.begin() as conn:
            await conn.exec_driver_sql("ANALYZE applications_message")
        if url.startswith("postgresql"):
            # As autovacuum would soon: index-only scans need the visibility map set.
            async with engine.connect() as conn:
                await conn.execution_options(isolation_level="AUTOCOMMIT")
                await conn.exec_driver_sql("VACUUM applications_message")
    finally:
        await engine.dispose()


async def _median_ms(work: Callable[[], Awaitable[object]], rounds: int) -> float:
    await work()  # warm the cache and the prepared statement
    times = []
    for _ in range(rounds):
        started = time.perf_counter()
        await work()
        times.append((time.perf_counter() - started) * 1000)
    return statistics.median(times)


async def _measure(url: str, rows: int, rounds: int) -> dict[str, float]:
    citizen = "bench-citizen"
    await upgrade(url)
    await _fill(url, citizen, rows)
    engine = db.create_engine(url)
    start = datetime(2026, 1, 1, tzinfo=UTC)

    def after(n: int) -> Cursor:  # the cursor a page ending at the citizen's n-th row gives
        return Cursor(start + timedelta(seconds=n), f"{citizen[:8]}-{n:012d}")

    # Newest first: the second page follows the newest rows, the last one the oldest.
    second, middle, last = after(rows - PAGE), after(rows // 2), after(PAGE)
    mine = select(Message).where(Message.citizen_id == citizen)
    newest_first = (col(Message.created_at).desc(), col(Message.id).desc())
    try:
        async with AsyncSession(engine) as session:

            def keyset(cursor: Cursor | None) -> Callable[[], Awaitable[object]]:
                async def page() -> object:
                    return await fetch_page(
                        session, mine, PageRequest(cursor, PAGE), at=Message.created_at,
                        id=Message.id,
                    )  # fmt: skip

                return page

            def or_alone(cursor: Cursor) -> Callable[[], Awaitable[object]]:
                async def page() -> object:
                    past = or_(
                        col(Message.created_at) < cursor.at,
                        (col(Message.created_at) == cursor.at) & (col(Message.id) < cursor.id),
                    )
                    query = mine.where(past).order_by(*newest_first).limit(PAGE + 1)
                    return (await session.exec(query)).all()

                return page

            def by_offset(offset: int) -> Callable[[], Awaitable[object]]:
                async def page() -> object:
                    query = mine.order_by(*newest_first).offset(offset).limit(PAGE)
                    return (await session.exec(query)).all()

                return page

            async def count() -> object:
                return await unread_count(session, citizen)

            async def whole_request() -> object:
                return await messages_of(
                    session, citizen, unread_only=False, page=PageRequest(last, PAGE)
                )

            return {
                "first page (cursor)": await _median_ms(keyset(None), rounds),
                "second page (cursor)": await _median_ms(keyset(second), rounds),
                "middle page (cursor)": await _median_ms(keyset(middle), rounds),
                "last page (cursor)": await _median_ms(keyset(last), rounds),
                "second page, OR alone": await _median_ms(or_alone(second), rounds),
                "middle page, OR alone": await _median_ms(or_alone(middle), rounds),
                "last page, OR alone": await _median_ms(or_alone(last), rounds),
                "last page by OFFSET": await _median_ms(by_offset(rows - PAGE), rounds),
                "unread COUNT": await _median_ms(count, rounds),
                "last page + COUNT (messages_of)": await _median_ms(whole_request, rounds),
            }
    finally:
        await engine.dispose()


async def main(args: argparse.Namespace) -> None:
    from tests.conftest import create_postgres_database, drop_postgres_database

    results: dict[str, dict[str, float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        sqlite = f"sqlite+aiosqlite:///{Path(tmp) / 'pages.db'}"
        results["SQLite"] = await _measure(sqlite, args.rows, args.rounds)
    postgres = await create_postgres_database(POSTGRES, f"hft_bench_pages_{uuid.uuid4().hex[:8]}")
    try:
        results["PostgreSQL"] = await _measure(postgres, args.rows, args.rounds)
    finally:
        await drop_postgres_database(postgres)
    print(f"`rows={args.rows} (one citizen, as many of another) page={PAGE} rounds={args.rounds}`")
    print()
    print("| query | " + " | ".join(f"{name} ms" for name in results) + " |")
    print("|---|" + "---|" * len(results))
    for query in next(iter(results.values())):
        print(f"| {query} | " + " | ".join(f"{r[query]:.2f}" for r in results.values()) + " |")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--rounds", type=int, default=15)
    asyncio.run(main(parser.parse_args()))
