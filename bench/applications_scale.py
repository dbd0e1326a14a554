"""Applications at scale: 1M citizens and 5M applications in PostgreSQL, then the p50/p99
of "my applications" and of the admin statistics, each against a baseline in the same run.

    .venv/bin/python bench/applications_scale.py [--citizens 1000000]
        [--applications 5000000] [--runs 3] [--database hft_bench_apps] [--keep]
        [--skip-load] [--no-readme] [--requests 2000] [--stats-requests 200]
        [--keys-during-load]

Loading (fixed seed): a fresh database, the migrations (calendar and bundled catalog
seeded), citizens with real ``PiiCipher`` ciphertext under the development key the app
derives in test mode, applications over the catalog's application services for the
last two years (skewed per citizen and per service, ~10% open, consistent clocks),
ratings for ~30% of the completed ones, all with asyncpg ``copy_records_to_table``;
keys and indexes are dropped for the load and rebuilt from their own definitions, which
are checked to be the migrations' again. ``applications_daily_stats`` is then filled by
one ``INSERT … SELECT … GROUP BY``, then ``VACUUM (ANALYZE)``. The rows end at the last
midnight in China, so runs on the same day load the same rows.

Measuring (the real app in-process over ASGI, sequential requests, median over runs):

- ``GET /v1/applications`` for random citizens with applications, each with an access
  token minted by the app's ``TokenService`` (``CurrentCitizen`` takes only bearer
  tokens); baseline ``GET /healthz``, interleaved request by request.
- ``GET /v1/admin/stats`` for random one-year periods, ``by`` domain, department and
  service, with an admin client's token; baseline the naive answer the running
  aggregates avoid: one GROUP BY scan of the applications (and ratings) for the period.
"""

from __future__ import annotations

import argparse
import asyncio
import base64
import gc
import math
import random
import re
import statistics
import sys
import tempfile
import textwrap
import time
import uuid
from collections import Counter
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from asgi_lifespan import LifespanManager

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from backend.app import create_app
from backend.app_state import state_of
from backend.applications.working_days import WorkingCalendar, seed_years
from backend.catalog.data_file import BUNDLED_CATALOG, load_catalog_file
from backend.clock import today as china_today
from backend.identity.clients import ADMIN_SCOPE, create_client, issue_client_token
from backend.migrate import migrate_and_seed
from backend.pii import PiiCipher
from backend.settings import DEV_SECRET, Settings
from integrations.identifiers import id_number_check_digit

PG = "postgresql+asyncpg://postgres@127.0.0.1:5432"
REDIS_URL = "redis://127.0.0.1:6379/15"
README = Path(__file__).resolve().parent / "README.md"
SECTION = "## Applications at scale (issue 5)"
SEED = 20261126
EPOCH = date(1970, 1, 1).toordinal()
CHUNK = 50_000
CHINA = timedelta(hours=8)
DAY = 86_400
LOADED = ("identity_citizen", "applications_application", "applications_rating")
OPEN = ("submitted", "in_review", "supplement_required", "approved")
CLOCKED = ("accepted", "in_review", "supplement_required", "approved")

CITIZEN_COLUMNS = (
    "id", "phone_enc", "phone_hash", "password_hash", "name_enc", "id_number_enc",
    "id_number_hash", "assurance_level", "created_at", "updated_at",
)  # fmt: skip
APPLICATION_COLUMNS = (
    "id", "number", "service_code", "applicant_id", "enterprise_id", "status", "form",
    "delivery", "materials", "trips", "created_at", "updated_at", "submitted_at",
    "accepted_at", "promised_days", "due_on", "warn_on", "due_estimated", "paused_on",
    "paused_days", "finished_at", "result",
)  # fmt: skip
RATING_COLUMNS = ("application_id", "score", "comment", "created_at")
DELIVERIES = (
    ('{"method": "e_license"}', "e_license", 60),
    ('{"method": "mail", "address": "合肥市蜀山区长江西路100号"}', "mail", 25),
    ('{"method": "pickup"}', "pickup", 15),
)
SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘"
GIVEN = "伟芳娜秀英敏静丽强磊军洋勇艳杰娟涛明超秀兰霞平刚桂英华玉萍红娥玲芬燕彬鹏辉"
REGIONS = ("340102", "340103", "340104", "340111", "340121", "340122", "340123", "340124")
PHONE_PREFIXES = (130, 131, 132, 133, 135, 136, 137, 138, 139, 150, 151, 152, 153, 155,
                  156, 157, 158, 159, 166, 176, 177, 178, 180, 181, 182, 183, 185, 186,
                  187, 188, 189, 191, 198, 199)  # fmt: skip


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


def uuid7_at(millis: int, rng: random.Random) -> str:
    """A UUIDv7 for a given moment, random bits from the seeded generator (reproducible)."""
    value = (millis << 80) | (0x7 << 76) | (rng.getrandbits(12) << 64)
    return str(uuid.UUID(int=value | (0b10 << 62) | rng.getrandbits(62)))


def at(seconds: float) -> datetime:
    return datetime.fromtimestamp(seconds, UTC)


@dataclass(frozen=True)
class AppService:
    code: str
    promised: int
    trips: int


def application_services() -> list[AppService]:
    catalog, _ = load_catalog_file(BUNDLED_CATALOG)
    return [
        AppService(s.code, s.promised_days or 0, s.trips or 0)
        for s in catalog.services
        if s.kind == "application"
    ]


class Workdays:
    """The platform calendar as ordinals (working days up to and including each China
    day), so the clock of millions of rows costs two lookups each, not a day-by-day walk.
    Same answers as ``WorkingCalendar``, which it is checked against."""

    def __init__(self, calendar: WorkingCalendar, first: date, last: date) -> None:
        self.calendar, self.first = calendar, first
        self.days = [first + timedelta(days=i) for i in range((last - first).days + 1)]
        self.ordinal: list[int] = []
        self.by_ordinal: dict[int, date] = {}
        count = 0
        for day in self.days:
            if calendar.is_working_day(day):
                count += 1
                self.by_ordinal[count] = day
            self.ordinal.append(count)
        self.estimated_from = min(
            (d for d in self.days if not calendar.knows(d.year)), default=date.max
        )

    def index(self, day: date) -> int:
        return (day - self.first).days

    def add(self, start: int, days: int) -> int:
        """Index of the ``days``-th working day after the day at index ``start``."""
        if days == 0:
            return start
        return self.index(self.by_ordinal[self.ordinal[start] + days])

    def check(self, rng: random.Random) -> None:
        for _ in range(2000):
            start = rng.randrange(len(self.days) - 60)
            n = rng.randrange(25)
            expected = self.calendar.add_working_days(self.days[start], n).due
            assert self.days[self.add(start, n)] == expected, (self.days[start], n)


class Generator:
    """Reproducible rows, applications in order of submission (ids and numbers ascend)."""

    def __init__(self, citizens: int, applications: int, now: float) -> None:
        self.rng = random.Random(SEED)
        self.citizens, self.applications, self.now = citizens, applications, now
        self.services = application_services()
        ranks = list(range(len(self.services)))
        self.rng.shuffle(ranks)  # popular services (Zipf) anywhere in the catalog
        self.service_weights = [1 / (r + 1) ** 0.8 for r in ranks]
        self.today = int((now + CHINA.total_seconds()) // DAY)  # China day number
        self.first_day = self.today - 730  # to yesterday: ``now`` is a midnight
        calendar = WorkingCalendar(seed_years())
        self.workdays = Workdays(
            calendar,
            date.fromordinal(EPOCH + self.first_day - 10),
            date.fromordinal(EPOCH + self.today + 400),
        )
        self.workdays.check(self.rng)
        self.citizen_ids: list[str] = []
        self.status_mix: Counter[str] = Counter()
        self.ratings = 0

    # --- citizens ---------------------------------------------------------------------

    def citizen_rows(self, cipher: PiiCipher, start: int, stop: int) -> list[tuple[Any, ...]]:
        rng, rows = self.rng, []
        id_space = len(REGIONS) * 21_900 * 1000  # region × birth day (60 years) × sequence
        assert math.gcd(1_000_003, id_space) == 1 and math.gcd(7_919_993, 10**8) == 1
        born0 = date(1950, 1, 1).toordinal()
        for i in range(start, stop):
            created = self.now - 3 * 365 * DAY + rng.random() * 365 * DAY
            cid = uuid7_at(int(created * 1000), rng)
            self.citizen_ids.append(cid)
            prefix, rest = PHONE_PREFIXES[i % len(PHONE_PREFIXES)], i // len(PHONE_PREFIXES)
            phone = f"{prefix}{(rest * 7_919_993 + 4_242) % 10**8:08d}"
            level = rng.choices((1, 2, 3), (20, 75, 5))[0]
            name_enc = id_enc = id_hash = None
            if level >= 2:
                j = (i * 1_000_003 + 17) % id_space
                region, j = REGIONS[j % len(REGIONS)], j // len(REGIONS)
                born = date.fromordinal(born0 + j % 21_900).strftime("%Y%m%d")
                first17 = f"{region}{born}{j // 21_900:03d}"
                id_number = first17 + id_number_check_digit(first17)
                name = rng.choice(SURNAMES) + "".join(rng.choices(GIVEN, k=rng.choice((1, 2))))
                name_enc = cipher.encrypt(name, field="name")
                id_enc = cipher.encrypt(id_number, field="id_number")
                id_hash = cipher.blind_index(id_number, field="id_number")
            moment = at(created)
            rows.append((
                cid, cipher.encrypt(phone, field="phone"), cipher.blind_index(phone, field="phone"),
                None, name_enc, id_enc, id_hash, level, moment, moment,
            ))  # fmt: skip
        return rows

    # --- applications -----------------------------------------------------------------

    def plan(self) -> None:
        """Applications per citizen (a quarter have none; lognormal, so most have a few
        and a few have hundreds) and per day (weekdays busier, the platform growing)."""
        rng = self.rng
        weights = [0.0 if rng.random() < 0.25 else rng.lognormvariate(0, 1.0)
                   for _ in range(self.citizens)]  # fmt: skip
        scale = self.applications / sum(weights)
        counts = [int(w * scale) for w in weights]
        active = [i for i, w in enumerate(weights) if w > 0]
        for i in rng.sample(active, self.applications - sum(counts)):
            counts[i] += 1
        self.per_citizen = Counter(counts)
        owners = [i for i, n in enumerate(counts) for _ in range(n)]
        rng.shuffle(owners)
        self.owners = owners
        days = range(self.first_day, self.today)
        w = [
            (1.0 if self.workdays.calendar.is_working_day(date.fromordinal(EPOCH + d)) else 0.35)
            * (0.7 + 0.6 * (d - self.first_day) / 730)
            for d in days
        ]
        expected = [x * self.applications / sum(w) for x in w]
        per_day = [int(x) for x in expected]
        for k in rng.choices(range(len(per_day)), weights=w, k=self.applications - sum(per_day)):
            per_day[k] += 1
        assert max(per_day) <= 99_999, "five-digit daily sequence exceeded"
        self.per_day = list(zip(days, per_day, strict=True))

    def application_chunks(
        self,
    ) -> Callable[[], tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]]:
        rng, wd, now = self.rng, self.workdays, self.now
        services = self.services
        cum = list(_accumulate(self.service_weights))
        state = {"day": 0, "n": 0}

        def chunk() -> tuple[list[tuple[Any, ...]], list[tuple[Any, ...]]]:
            apps: list[tuple[Any, ...]] = []
            ratings: list[tuple[Any, ...]] = []
            while len(apps) < CHUNK and state["day"] < len(self.per_day):
                day, count = self.per_day[state["day"]]
                state["day"] += 1
                base = day * DAY - CHINA.total_seconds()  # China midnight, in UTC seconds
                # Office hours mostly, evenings some, nights little.
                moments = sorted(base + _time_of_day(rng) for _ in range(count))
                picked = rng.choices(services, cum_weights=cum, k=count)
                stamp = date.fromordinal(EPOCH + day).strftime("%Y%m%d")
                for seq, (moment, svc) in enumerate(zip(moments, picked, strict=True), 1):
                    moment = min(moment, now - 1)
                    owner = self.citizen_ids[self.owners[state["n"]]]
                    state["n"] += 1
                    row, rating = self._application(rng, wd, now, moment, svc, owner, stamp, seq)
                    apps.append(row)
                    if rating:
                        ratings.append(rating)
            return apps, ratings

        return chunk

    def _application(
        self, rng: random.Random, wd: Workdays, now: float, created: float, svc: AppService,
        owner: str, stamp: str, seq: int,
    ) -> tuple[tuple[Any, ...], tuple[Any, ...] | None]:  # fmt: skip
        age = (now - created) / DAY
        delivery, method = _pick_delivery(rng)
        p_open = min(0.95, 15 / max(age, 0.01)) * (0.3 if svc.promised == 0 and age > 3 else 1)
        roll = rng.random()
        status = "completed"
        if roll < p_open:
            status = "submitted" if age < 1.5 and rng.random() < 0.6 else rng.choices(
                ("in_review", "supplement_required", "approved"), (60, 25, 15))[0]  # fmt: skip
        else:
            roll = rng.random()
            status = "withdrawn" if roll < 0.04 else "rejected" if roll < 0.10 else "completed"
        accepted = created + min(rng.expovariate(1 / 14_400), 26 * 3600) + 300
        if (status == "withdrawn" and rng.random() < 0.5) or accepted > now:
            accepted = 0.0  # never accepted
            if status != "withdrawn":
                status = "submitted"
        promised = due = warn = paused_on = None
        estimated, paused, finished, result = False, 0, 0.0, None
        updated = created
        trips = 1 if svc.trips and rng.random() < 0.4 else 0
        if accepted:
            updated = accepted
            accept_day = int((accepted + CHINA.total_seconds()) // DAY) - wd_offset(wd)
            promised = svc.promised
            if promised and rng.random() < 0.15:
                paused = rng.randint(1, 6)  # working days a supplement kept the clock paused
            due_i = wd.add(accept_day, promised + paused)
            due, warn = (
                wd.days[due_i],
                wd.days[wd.add(accept_day, math.ceil(promised * 0.8) + paused)],
            )
            estimated = wd.days[accept_day] >= wd.estimated_from or due >= wd.estimated_from
            if status in ("completed", "rejected", "withdrawn"):
                if promised == 0:
                    used = 0 if rng.random() < 0.95 else rng.randint(1, 2)
                elif rng.random() < 0.93:
                    used = round(promised * rng.betavariate(2.5, 1.5))
                else:
                    used = promised + rng.randint(1, max(2, promised // 2))
                if status == "withdrawn":
                    used = min(used, promised)
                fin_i = wd.add(accept_day, used + paused)
                fin_base = (wd_offset(wd) + fin_i) * DAY - CHINA.total_seconds()
                finished = fin_base + rng.uniform(9 * 3600, 17.5 * 3600)
                if finished <= accepted:
                    finished = min(accepted + rng.uniform(300, 10_800), fin_base + DAY - 1)
                if finished > now:
                    finished, status = 0.0, "in_review"
            elif status == "supplement_required":
                today_i = int((now + CHINA.total_seconds()) // DAY) - wd_offset(wd)
                paused_on = wd.days[rng.randint(min(accept_day, today_i), today_i)]
        elif status == "withdrawn":
            finished = min(created + rng.uniform(600, 2 * DAY), now - 1)
        if status == "completed" and method == "pickup":
            trips += 1  # fetching the result at the window
        if status == "completed" and svc.trips and rng.random() < 0.03:
            trips += 1  # a second visit: over the allowance
        trips = min(trips, 2)
        if status == "completed":
            result = (f'{{"e_license_no": "EL{stamp}{seq:05d}"}}' if method == "e_license"
                      else f'{{"tracking_no": "SF{stamp}{seq:05d}"}}' if method == "mail"
                      else '{"pickup": "窗口领取"}')  # fmt: skip
        if finished:
            updated = finished
        self.status_mix[status] += 1
        app_id = uuid7_at(int(created * 1000), rng)
        created_at = at(created)
        row = (
            app_id, f"HF{stamp}{seq:05d}", svc.code, owner, None, status, "{}", delivery, "[]",
            trips, created_at, at(updated), created_at, at(accepted) if accepted else None,
            promised, due, warn, estimated, paused_on, paused, at(finished) if finished else None,
            result,
        )  # fmt: skip
        rating = None
        if status == "completed" and rng.random() < 0.30:
            rated = finished + rng.uniform(600, 3 * DAY)
            if rated < now:
                score = rng.choices((5, 4, 3, 2, 1), (70, 18, 6, 3, 3))[0]
                comment = "办事很方便" if score >= 4 and rng.random() < 0.2 else None
                rating = (app_id, score, comment, at(rated))
                self.ratings += 1
        return row, rating


def wd_offset(wd: Workdays) -> int:
    return wd.first.toordinal() - EPOCH  # the calendar's first day as a day number


def _accumulate(values: list[float]) -> list[float]:
    out, total = [], 0.0
    for v in values:
        total += v
        out.append(total)
    return out


_HOURS = list(range(24))
_HOUR_WEIGHTS = [1, 1, 1, 1, 1, 2, 4, 8, 14, 18, 18, 16, 10, 12, 16, 17, 15, 12, 9, 10, 11, 10,
                 6, 3]  # fmt: skip


_HOUR_CUMULATIVE = _accumulate([float(w) for w in _HOUR_WEIGHTS])


def _time_of_day(rng: random.Random) -> float:
    return rng.choices(_HOURS, cum_weights=_HOUR_CUMULATIVE)[0] * 3600 + rng.random() * 3600


def _pick_delivery(rng: random.Random) -> tuple[str, str]:
    roll = rng.random() * 100
    for body, method, share in DELIVERIES:
        if roll < share:
            return body, method
        roll -= share
    return DELIVERIES[0][0], DELIVERIES[0][1]


# --- the database ------------------------------------------------------------------------


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

# The naive answer: every figure of the period from the applications themselves, in one
# scan. Each row's China days are computed once (``OFFSET 0`` keeps the subquery from being
# flattened into a dozen repeated time-zone conversions per row).
IN_PERIOD = "BETWEEN $1 AND $2"
FINISHED = "status IN ('completed', 'rejected') AND fd BETWEEN $1 AND $2"
JUDGED = "COALESCE(paused_on, $3)"
RATINGS = "\n".join(
    f"  count(*) FILTER (WHERE score = {n} AND rd {IN_PERIOD}) AS rating_{n}," for n in range(1, 6)
)
NAIVE_STATS = f"""
SELECT service_code,
  count(*) FILTER (WHERE sd {IN_PERIOD}) AS submitted,
  count(*) FILTER (WHERE status = 'completed' AND fd {IN_PERIOD}) AS completed,
  count(*) FILTER (WHERE status = 'rejected' AND fd {IN_PERIOD}) AS rejected,
  count(*) FILTER (WHERE status = 'completed' AND trips <= 1 AND fd {IN_PERIOD}) AS one_trip,
  count(*) FILTER (WHERE {FINISHED} AND (due_on IS NULL OR fd <= due_on)) AS on_time,
  COALESCE(sum(used) FILTER (WHERE {FINISHED}), 0) AS working_days,
{RATINGS}
  count(*) FILTER (WHERE status IN {CLOCKED} AND warn_on <= $3 AND due_on < {JUDGED}) AS overdue,
  count(*) FILTER (WHERE status IN {CLOCKED} AND warn_on <= $3
    AND NOT due_on < {JUDGED} AND warn_on <= {JUDGED}) AS warning
FROM (
  SELECT a.service_code, a.status, a.trips, a.due_on, a.warn_on, a.paused_on, g.score,
         {CHINA_DAY.format("a.submitted_at")} AS sd, wf.day AS fd,
         {CHINA_DAY.format("g.created_at")} AS rd, {USED_DAYS} AS used
  FROM applications_application a
  LEFT JOIN applications_rating g ON g.application_id = a.id
  LEFT JOIN bench_workday wa ON wa.day = {CHINA_DAY.format("a.accepted_at")}
  LEFT JOIN bench_workday wf ON wf.day = {CHINA_DAY.format("a.finished_at")}
  OFFSET 0
) x
GROUP BY service_code
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


# --- measuring -------------------------------------------------------------------------


@dataclass
class Timings:
    p50: float
    p99: float


def summarise(runs: list[list[float]]) -> Timings:
    """Median over runs of each run's p50 and p99 (milliseconds)."""
    return Timings(
        statistics.median(percentile(r, 50) for r in runs),
        statistics.median(percentile(r, 99) for r in runs),
    )


async def timed(into: list[float], request: Awaitable[httpx.Response]) -> httpx.Response:
    started = time.perf_counter()
    response = await request
    into.append((time.perf_counter() - started) * 1000)
    return response


@dataclass
class Measured:
    health: Timings
    mine: Timings
    stats: dict[str, Timings]
    naive_ms: list[float]
    token_via: str
    check: str
    late: str
    plans: dict[str, str]
    rows: dict[str, int]


def one_year(rng: random.Random, today: date) -> tuple[date, date]:
    start = today - timedelta(days=729) + timedelta(days=rng.randrange(365))
    return start, start + timedelta(days=364)


class AdminAuth:
    """An admin client's bearer header, asked for again per batch: access tokens last
    15 minutes and the statistics part runs longer than that."""

    def __init__(self, app: Any, client: httpx.AsyncClient) -> None:
        self.app, self.client, self.via = app, client, ""

    async def register(self) -> None:
        async with state_of(self.app).sessions() as session, session.begin():
            self.registered, secret = await create_client(
                session, "bench admin", kind="admin", scopes=[ADMIN_SCOPE]
            )
        self.basic = base64.b64encode(f"{self.registered.client_id}:{secret}".encode()).decode()

    async def headers(self) -> dict[str, str]:
        response = await self.client.post(
            "/oauth2/token",
            data={"grant_type": "client_credentials"},
            headers={"Authorization": f"Basic {self.basic}"},
        )
        if response.status_code == 200:
            self.via = "POST /oauth2/token"
            return {"Authorization": f"Bearer {response.json()['access_token']}"}
        # The endpoint refused the admin client: sign what it would have signed, and say so.
        self.via = (
            f"issue_client_token (POST /oauth2/token answered {response.status_code}: "
            f"{response.json().get('error', '')})"
        )
        tokens = state_of(self.app).identity.tokens
        body = issue_client_token(
            tokens.keys, tokens.issuer, self.registered, [ADMIN_SCOPE], tokens.ttl
        )
        return {"Authorization": f"Bearer {body['access_token']}"}


def naive_totals(rows: list[asyncpg.Record]) -> dict[str, Any]:
    c: Counter[str] = Counter()
    for row in rows:
        for name, value in dict(row).items():
            if name != "service_code":
                c[name] += int(value)
    finished = c["completed"] + c["rejected"]
    return {
        "applications": c["submitted"],
        "completed": c["completed"],
        "rejected": c["rejected"],
        "one_trip_share": round(c["one_trip"] / c["completed"], 4) if c["completed"] else None,
        "on_time_share": round(c["on_time"] / finished, 4) if finished else None,
        "avg_working_days": round(c["working_days"] / finished, 2) if finished else None,
        "overdue": c["overdue"],
        "warning": c["warning"],
        "ratings": {str(n): c[f"rating_{n}"] for n in range(1, 6)},
    }


async def explain(conn: asyncpg.Connection, sql: str, *args: Any) -> str:
    rows = await conn.fetch(f"EXPLAIN (ANALYZE, BUFFERS, COSTS OFF) {sql}", *args)
    return "\n".join(r[0] for r in rows)


async def measure(database: str, runs: int, requests: int, stats_requests: int) -> Measured:
    rng = random.Random(SEED + 1)
    conn = await asyncpg.connect(dsn(database))
    try:
        # Citizens who have applications (a quarter of all have none), uniformly.
        sample = [r[0] for r in await conn.fetch(
            """SELECT c.id FROM identity_citizen c WHERE EXISTS (SELECT 1 FROM
               applications_application a WHERE a.applicant_id = c.id)
               ORDER BY md5(c.id || $1) LIMIT $2""", str(SEED), requests * runs + 50,
        )]  # fmt: skip
        table_rows = {t: int(await conn.fetchval(f'SELECT count(*) FROM "{t}"')) for t in LOADED}
        heaviest = await conn.fetchval(
            "SELECT applicant_id FROM applications_application GROUP BY applicant_id "
            "ORDER BY count(*) DESC LIMIT 1"
        )
        gen_wd = Workdays(
            WorkingCalendar(seed_years()),
            china_today() - timedelta(days=760),
            china_today() + timedelta(days=400),
        )
        await workday_table(conn, gen_wd)
        today = china_today()
        plans = {
            "my applications (heaviest citizen)": await explain(
                conn,
                "SELECT * FROM applications_application WHERE applicant_id = $1 "
                "ORDER BY created_at DESC LIMIT 20",
                heaviest,
            ),
            "stats: open past warn_on (the live part)": await explain(
                conn,
                "SELECT service_code, count(*) FROM applications_application WHERE status IN "
                f"{CLOCKED} AND warn_on <= $1 GROUP BY service_code",
                today,
            ),
        }
        naive_ms: list[float] = []
        periods = [one_year(rng, today) for _ in range(max(3, runs))]
        for start, end in periods:
            began = time.perf_counter()
            rows = await conn.fetch(NAIVE_STATS, start, end, today)
            naive_ms.append((time.perf_counter() - began) * 1000)
        naive = naive_totals(rows)
    finally:
        await conn.close()

    with tempfile.TemporaryDirectory() as var:
        settings = Settings(
            env="test", var_dir=Path(var), database_url=f"{PG}/{database}",
            redis_url=REDIS_URL, kv_namespace=f"bench-apps-{uuid.uuid4().hex[:8]}",
            auto_migrate=False, log_level="WARNING", outbox_worker_in_server=False,
            adapter_probe_seconds=None,  # no departments run here: nothing to probe
        )  # fmt: skip
        app = create_app(settings)
        async with (
            LifespanManager(app, startup_timeout=120),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://bench"
            ) as client,
        ):
            tokens = state_of(app).identity.tokens
            now = int(time.time())

            def bearer(citizen: str) -> dict[str, str]:
                token, _ = tokens.issue(citizen, str(uuid.uuid4()), 2, auth_time=now)
                return {"Authorization": f"Bearer {token}"}

            for citizen in sample[-50:]:  # warm-up: connections, statement caches
                assert (await client.get("/v1/applications", headers=bearer(citizen))).is_success
                await client.get("/healthz")
            health_runs, mine_runs = [], []
            for r in range(runs):
                health: list[float] = []
                mine: list[float] = []
                for citizen in sample[r * requests : (r + 1) * requests]:
                    headers = bearer(citizen)
                    await timed(health, client.get("/healthz"))
                    got = await timed(mine, client.get("/v1/applications", headers=headers))
                    assert got.status_code == 200 and got.json()["items"], got.text
                health_runs.append(health)
                mine_runs.append(mine)

            admin = AdminAuth(app, client)
            await admin.register()
            stats: dict[str, Timings] = {}
            start, end = periods[-1]
            probe_today = china_today()
            probe = await client.get(
                "/v1/admin/stats",
                params={"from": str(start), "to": str(end), "by": "domain"},
                headers=await admin.headers(),
            )
            if probe_today != today:
                # Midnight in China came in between: the open ones are judged on a new day.
                again = await asyncpg.connect(dsn(database))
                try:
                    await workday_table(again, gen_wd)
                    naive = naive_totals(await again.fetch(NAIVE_STATS, start, end, probe_today))
                finally:
                    await again.close()
            late = (
                f"open past warn_on now: {naive['overdue']:,} overdue, {naive['warning']:,} warning"
            )
            if probe.status_code != 200:
                check = f"/v1/admin/stats answered {probe.status_code}: not measured"
            else:
                total = probe.json()["total"]
                differ = {k: (total.get(k), v) for k, v in naive.items() if total.get(k) != v}
                check = (
                    "the endpoint's totals equal the naive scan's for the same period"
                    if not differ
                    else f"totals differ (endpoint, naive): {differ}"
                )
                for by in ("domain", "department", "service"):
                    per_run = []
                    for _ in range(runs):
                        auth = await admin.headers()
                        samples: list[float] = []
                        for _ in range(stats_requests):
                            s, e = one_year(rng, today)
                            params = {"from": str(s), "to": str(e), "by": by}
                            got = await timed(
                                samples, client.get("/v1/admin/stats", params=params, headers=auth)
                            )
                            assert got.status_code == 200, got.text
                        per_run.append(samples)
                    stats[by] = summarise(per_run)
    return Measured(
        summarise(health_runs),
        summarise(mine_runs),
        stats,
        naive_ms,
        admin.via,
        check,
        late,
        plans,
        table_rows,
    )


# --- report ----------------------------------------------------------------------------


def report_load(loaded: Load) -> str:
    mix = loaded.status_mix
    total = sum(mix.values())
    lines = ["| load step | seconds |", "|---|---|"]
    lines += [f"| {step} | {s:.1f} |" for step, s in loaded.seconds.items()]
    per = sorted(loaded.per_citizen.elements())
    active = [n for n in per if n]
    lines += [
        "",
        "Status mix: " + ", ".join(f"{k} {n / total:.1%}" for k, n in mix.most_common())
        + f"; ratings {loaded.ratings:,}. Applications per citizen: "
        f"{1 - len(active) / len(per):.0%} none; of those with any, median "
        f"{active[len(active) // 2]}, p99 {active[int(len(active) * 0.99)]}, max {active[-1]}. "
        f"Keys and indexes after the load are the migrations' again: {loaded.keys_same}; "
        "slowest to rebuild: "
        + ", ".join(f"{name} {s:.1f} s" for name, s in loaded.slowest_keys) + ".",
    ]  # fmt: skip
    lines[-1] = textwrap.fill(lines[-1], 92)
    return "\n".join(lines)


def report_requests(args: argparse.Namespace, m: Measured) -> str:
    naive = statistics.median(m.naive_ms)
    counts = " ".join(f"{t}={n:,}" for t, n in m.rows.items())
    lines = [f"`{counts} runs={args.runs} requests={args.requests} "
             f"stats_requests={args.stats_requests}`"]  # fmt: skip
    lines += [
        "",
        "| request | p50 ms | p99 ms | baseline p50 ms | baseline p99 ms | ratio p50 | ratio p99 |",
        "|---|---|---|---|---|---|---|",
        f"| `GET /v1/applications` (baseline `GET /healthz`) | {m.mine.p50:.2f} | "
        f"{m.mine.p99:.2f} | {m.health.p50:.2f} | {m.health.p99:.2f} | "
        f"{m.mine.p50 / m.health.p50:.1f}× | {m.mine.p99 / m.health.p99:.1f}× |",
    ]  # fmt: skip
    for by, t in m.stats.items():
        lines.append(
            f"| `GET /v1/admin/stats?by={by}`, one year (baseline naive scan) | {t.p50:.1f} | "
            f"{t.p99:.1f} | {naive:.0f} | {max(m.naive_ms):.0f} (max) | "
            f"{t.p50 / naive:.3f}× (naive {naive / t.p50:.0f}× slower) | |"
        )
    if not m.stats:
        lines.append(
            f"| naive one-year stats scan | | | {naive:.0f} | {max(m.naive_ms):.0f} (max) | | |"
        )
    lines += ["", textwrap.fill(f"Admin token: {m.token_via}. Check: {m.check}; {m.late}.", 92)]
    return "\n".join(lines)


def write_readme(command: str, body: str) -> None:
    text = README.read_text(encoding="utf-8")
    section = f"""{SECTION}

Targets: "my applications" and the admin statistics (one year, by domain, department or
service) stay fast over 1M citizens and 5M applications; statistics under a second.

Command: `{command}`
(measured {date.today()}, 2 cores shared with other work; PostgreSQL 15 with its default
settings: shared_buffers 128 MB, work_mem 4 MB).

What it does: a fresh database, the migrations, then citizens (real `PiiCipher` ciphertext
under the development key the app derives in test mode, 75% real-name verified) and
applications over the catalog's 95 application services for the last two years, loaded with
asyncpg `copy_records_to_table` with keys and indexes dropped and rebuilt from their own
definitions (checked equal to the migrations' afterwards); the daily aggregates filled by one
`INSERT … SELECT … GROUP BY`; VACUUM (ANALYZE). Then the real app in-process (ASGI transport,
one request at a time): `GET /v1/applications` for random citizens with applications, each with
its own access token from the app's `TokenService`, interleaved with `GET /healthz`; and
`GET /v1/admin/stats` for random one-year periods with an admin client's token, against the
naive answer: one GROUP BY scan of the applications (joined with ratings and the calendar)
computing the same figures for a period. p50/p99 are medians over runs.

{body}
"""
    pattern = re.compile(rf"^{re.escape(SECTION)}\n.*?(?=^## |\Z)", re.S | re.M)
    if pattern.search(text):
        text = pattern.sub(lambda _: section + "\n", text).rstrip("\n") + "\n"
    else:
        text = text.rstrip("\n") + "\n\n" + section
    README.write_text(text, encoding="utf-8")


async def main(args: argparse.Namespace) -> None:
    loaded = None
    try:
        if not args.skip_load:
            loaded = await load(
                args.database, args.citizens, args.applications, args.keys_during_load
            )
            print(report_load(loaded) + "\n", flush=True)
            gc.collect()
        measured = await measure(args.database, args.runs, args.requests, args.stats_requests)
    finally:
        if not args.keep:
            await recreate_database(args.database, create=False)
    requests = report_requests(args, measured)
    print(requests)
    body = f"{report_load(loaded)}\n\n{requests}" if loaded else requests
    for name, plan in measured.plans.items():
        print(f"\n{name}:\n{plan}")
    if not args.no_readme:
        command = ".venv/bin/python bench/applications_scale.py " + " ".join(sys.argv[1:])
        write_readme(command.strip(), body)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--citizens", type=int, default=1_000_000)
    parser.add_argument("--applications", type=int, default=5_000_000)
    parser.add_argument("--runs", type=int, default=3)
    parser.add_argument("--requests", type=int, default=2000, help="per run, my applications")
    parser.add_argument("--stats-requests", type=int, default=200, help="per run and grouping")
    parser.add_argument("--database", default="hft_bench_apps")
    parser.add_argument("--keep", action="store_true", help="do not drop the database at the end")
    parser.add_argument("--skip-load", action="store_true", help="reuse a kept database")
    parser.add_argument("--no-readme", action="store_true", help="print only")
    parser.add_argument(
        "--keys-during-load",
        action="store_true",
        help="load with keys and indexes in place (to compare with dropping them)",
    )
    asyncio.run(main(parser.parse_args()))
