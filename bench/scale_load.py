"""The database side of bench/applications_scale.py: a fresh PostgreSQL database, the
migrations, the generated rows loaded with asyncpg ``copy_records_to_table`` (keys and
indexes dropped for the load and rebuilt from their own definitions), the daily
aggregates filled by one ``INSERT … SELECT … GROUP BY``, then ``VACUUM (ANALYZE)``."""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass

import asyncpg

from backend.migrate import migrate_and_seed
from backend.pii import PiiCipher
from backend.settings import DEV_SECRET
from bench.scale_data import (
    APPLICATION_COLUMNS,
    CHINA,
    CHUNK,
    CITIZEN_COLUMNS,
    DAY,
    RATING_COLUMNS,
    Generator,
    Workdays,
)

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432"
LOADED = ("identity_citizen", "applications_application", "applications_rating")


def dsn(database: str) -> str:
    return f"postgresql://postgres@127.0.0.1:5432/{database}"


async def recreate_database(name: str, *, create: bool) -> None:
    conn = await asyncpg.connect(dsn("postgres"))
    try:
        await conn.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        if create:
            await conn.execute(f'CREATE DATABASE "{name}"')
    finally:
        await conn.close()


@dataclass(frozen=True)
class Keys:
    """Keys and indexes of the loaded tables (and foreign keys pointing at them), as
    PostgreSQL prints their definitions: dropped for the load, recreated from these."""

    constraints: frozenset[tuple[str, str, str, str]]  # table, name, type, definition
    indexes: frozenset[tuple[str, str]]  # name, definition

    @classmethod
    async def read(cls, conn: asyncpg.Connection) -> Keys:
        tables = list(LOADED)
        constraints = await conn.fetch(
            """SELECT conrelid::regclass::text, conname, contype::text, pg_get_constraintdef(oid)
               FROM pg_constraint WHERE contype IN ('p', 'u', 'f')
               AND (conrelid = ANY($1::text[]::regclass[])
                    OR confrelid = ANY($1::text[]::regclass[]))""",
            tables,
        )
        indexes = await conn.fetch(
            """SELECT i.indexrelid::regclass::text, pg_get_indexdef(i.indexrelid) FROM pg_index i
               WHERE i.indrelid = ANY($1::text[]::regclass[]) AND NOT EXISTS (
                   SELECT 1 FROM pg_constraint c
                   WHERE c.conindid = i.indexrelid AND c.contype IN ('p', 'u'))""",
            tables,
        )
        return cls(frozenset(tuple(r) for r in constraints), frozenset(tuple(r) for r in indexes))

    async def drop(self, conn: asyncpg.Connection) -> None:
        for table, name, _, _ in sorted(self.constraints, key=lambda c: c[2] != "f"):
            await conn.execute(f'ALTER TABLE "{table}" DROP CONSTRAINT "{name}"')
        for name, _ in self.indexes:
            await conn.execute(f'DROP INDEX "{name}"')

    async def restore(self, conn: asyncpg.Connection) -> dict[str, float]:
        """Primary and unique keys, then indexes, then foreign keys; seconds per step."""
        took: dict[str, float] = {}
        steps = [(n, f'ALTER TABLE "{t}" ADD CONSTRAINT "{n}" {d}')
                 for t, n, k, d in sorted(self.constraints) if k != "f"]  # fmt: skip
        steps += [(n, d) for n, d in sorted(self.indexes)]
        steps += [(n, f'ALTER TABLE "{t}" ADD CONSTRAINT "{n}" {d}')
                  for t, n, k, d in sorted(self.constraints) if k == "f"]  # fmt: skip
        for name, statement in steps:
            started = time.perf_counter()
            await conn.execute(statement)
            took[name] = time.perf_counter() - started
        return took


async def workday_table(conn: asyncpg.Connection, wd: Workdays) -> None:
    """A temporary calendar of working-day ordinals: working days between two China days
    is the difference of their ordinals (``WorkingCalendar.working_days_between``)."""
    await conn.execute(
        "CREATE TEMP TABLE IF NOT EXISTS bench_workday (day date PRIMARY KEY, ordinal int)"
    )
    await conn.execute("TRUNCATE bench_workday")
    await conn.copy_records_to_table(
        "bench_workday", records=list(zip(wd.days, wd.ordinal, strict=True))
    )


CHINA_DAY = "(({0}) AT TIME ZONE 'Asia/Shanghai')::date"
USED_DAYS = "GREATEST(0, wf.ordinal - wa.ordinal - a.paused_days)"
FILL_STATS = f"""
INSERT INTO applications_daily_stats (day, service_code, submitted, completed, rejected,
    one_trip, on_time, working_days, rating_1, rating_2, rating_3, rating_4, rating_5)
SELECT day, service_code, sum(s), sum(c), sum(r), sum(o), sum(t), sum(w),
       sum(r1), sum(r2), sum(r3), sum(r4), sum(r5)
FROM (
    SELECT {CHINA_DAY.format("submitted_at")} AS day, service_code, 1 AS s, 0 AS c, 0 AS r,
           0 AS o, 0 AS t, 0 AS w, 0 AS r1, 0 AS r2, 0 AS r3, 0 AS r4, 0 AS r5
    FROM applications_application WHERE submitted_at IS NOT NULL
  UNION ALL
    SELECT {CHINA_DAY.format("a.finished_at")}, a.service_code, 0,
           (a.status = 'completed')::int, (a.status = 'rejected')::int,
           (a.status = 'completed' AND a.trips <= 1)::int,
           (a.due_on IS NULL OR {CHINA_DAY.format("a.finished_at")} <= a.due_on)::int,
           COALESCE({USED_DAYS}, 0), 0, 0, 0, 0, 0
    FROM applications_application a
    LEFT JOIN bench_workday wa ON wa.day = {CHINA_DAY.format("a.accepted_at")}
    LEFT JOIN bench_workday wf ON wf.day = {CHINA_DAY.format("a.finished_at")}
    WHERE a.status IN ('completed', 'rejected')
  UNION ALL
    SELECT {CHINA_DAY.format("g.created_at")}, a.service_code, 0, 0, 0, 0, 0, 0,
           (g.score = 1)::int, (g.score = 2)::int, (g.score = 3)::int, (g.score = 4)::int,
           (g.score = 5)::int
    FROM applications_rating g JOIN applications_application a ON a.id = g.application_id
) x
GROUP BY day, service_code
"""


@dataclass
class Load:
    seconds: dict[str, float]
    status_mix: Counter[str]
    ratings: int
    per_citizen: Counter[int]
    keys_same: bool
    slowest_keys: list[tuple[str, float]]


async def load(database: str, citizens: int, applications: int, with_keys: bool) -> Load:
    seconds: dict[str, float] = {}
    started = time.perf_counter()
    await recreate_database(database, create=True)
    await migrate_and_seed(f"{PG}/{database}")
    seconds["create + migrate + seed catalog"] = time.perf_counter() - started
    # Up to the last midnight in China: the same seed gives the same rows all day.
    midnight = (int(time.time() + CHINA.total_seconds()) // DAY) * DAY - CHINA.total_seconds()
    gen = Generator(citizens, applications, midnight)
    conn = await asyncpg.connect(dsn(database))
    try:
        await conn.execute("SET synchronous_commit = off; SET maintenance_work_mem = '512MB'")
        keys = await Keys.read(conn)
        if not with_keys:
            await keys.drop(conn)
        cipher = PiiCipher.from_config(None, None, secret=DEV_SECRET)
        step = time.perf_counter()
        for start in range(0, citizens, CHUNK):
            rows = await asyncio.to_thread(
                gen.citizen_rows, cipher, start, min(citizens, start + CHUNK)
            )
            await conn.copy_records_to_table(
                "identity_citizen", records=rows, columns=CITIZEN_COLUMNS
            )
        seconds["citizens: generate + COPY"] = time.perf_counter() - step
        step = time.perf_counter()
        gen.plan()
        next_chunk = gen.application_chunks()
        # Generating the next chunk (a thread) overlaps PostgreSQL ingesting this one.
        pending = asyncio.ensure_future(asyncio.to_thread(next_chunk))
        while True:
            apps, ratings = await pending
            if not apps:
                break
            pending = asyncio.ensure_future(asyncio.to_thread(next_chunk))
            await conn.copy_records_to_table(
                "applications_application", records=apps, columns=APPLICATION_COLUMNS
            )
            await conn.copy_records_to_table(
                "applications_rating", records=ratings, columns=RATING_COLUMNS
            )
        seconds["applications + ratings: generate + COPY"] = time.perf_counter() - step
        step = time.perf_counter()
        took = {} if with_keys else await keys.restore(conn)
        seconds["keys and indexes rebuilt"] = time.perf_counter() - step
        after = await Keys.read(conn)
        # Index names, not texts: PostgreSQL prints a partial index's predicate recreated
        # from its own definition with the casts moved (same index, other words).
        same = after.constraints == keys.constraints and {n for n, _ in after.indexes} == {
            n for n, _ in keys.indexes
        }
        if not same:  # name what differs, so a wrong rebuild can't hide in the figures
            print("keys before/after the load differ:", keys.indexes ^ after.indexes,
                  keys.constraints ^ after.constraints)  # fmt: skip
        step = time.perf_counter()
        await workday_table(conn, gen.workdays)
        await conn.execute(FILL_STATS)
        seconds["daily stats: INSERT … SELECT … GROUP BY"] = time.perf_counter() - step
        step = time.perf_counter()
        # VACUUM too: autovacuum would otherwise start on the freshly inserted rows in the
        # middle of the measurement; a table in service has its visibility map set.
        await conn.execute("VACUUM (ANALYZE)")
        seconds["VACUUM (ANALYZE)"] = time.perf_counter() - step
    finally:
        await conn.close()
    seconds["total"] = time.perf_counter() - started
    slowest = sorted(took.items(), key=lambda kv: -kv[1])[:4]
    return Load(seconds, gen.status_mix, gen.ratings, gen.per_citizen, same, slowest)
