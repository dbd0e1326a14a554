"""Measuring for bench/applications_scale.py: the real app in-process over ASGI,
sequential requests, p50/p99 as medians over runs. "My applications" with a citizen's
access token against ``GET /healthz``; the admin statistics against the naive answer
(one GROUP BY scan of the applications for the period, ``NAIVE_STATS``)."""

from __future__ import annotations

import base64
import random
import statistics
import tempfile
import time
import uuid
from collections import Counter
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import date, timedelta
from pathlib import Path
from typing import Any

import asyncpg
import httpx
from asgi_lifespan import LifespanManager

from backend.app import create_app
from backend.app_state import state_of
from backend.applications.working_days import WorkingCalendar, seed_years
from backend.clock import today as china_today
from backend.identity.clients import ADMIN_SCOPE, create_client, issue_client_token
from backend.settings import Settings
from bench.scale_data import SEED, Workdays
from bench.scale_load import CHINA_DAY, LOADED, PG, USED_DAYS, dsn, workday_table

REDIS_URL = "redis://127.0.0.1:6379/15"
CLOCKED = ("accepted", "in_review", "supplement_required", "approved")


def percentile(values: list[float], pct: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(pct / 100 * (len(ordered) - 1)))]


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
