"""Oversight statistics from running aggregates, not scans.

Every submission, finish and rating adds to one ``DailyStats`` row (China day ×
service) inside the transaction that made the change, so the figures can never
disagree with the applications and a period's statistics read at most
days × services small rows, however many applications there are. The only live
query is the snapshot of open applications past their 80% mark (warning) or their
due date (overdue), which the ``(status, warn_on)`` index keeps to those rows.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable
from datetime import date
from typing import Any, Literal

from sqlalchemy import and_, case, func
from sqlalchemy.dialects import postgresql, sqlite
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications.models import Application, DailyStats
from backend.applications.state_machine import Status
from backend.catalog import CatalogSnapshot, ServiceDetail

GroupBy = Literal["domain", "department", "service"]
COUNTERS = (
    "submitted", "completed", "rejected", "one_trip", "on_time", "working_days",
    "rating_1", "rating_2", "rating_3", "rating_4", "rating_5",
)  # fmt: skip
# Open with the clock started; a paused one is judged on the day it paused.
CLOCKED = (Status.ACCEPTED, Status.IN_REVIEW, Status.SUPPLEMENT_REQUIRED, Status.APPROVED)


async def bump(db: AsyncSession, day: date, service_code: str, **increments: int) -> None:
    """Add to the day's counters in one statement (an upsert, safe under concurrency)."""
    dialect = db.sync_session.get_bind().dialect.name
    insert = postgresql.insert if dialect == "postgresql" else sqlite.insert
    table = DailyStats.__table__  # type: ignore[attr-defined]
    values = dict.fromkeys(COUNTERS, 0) | increments
    statement = insert(table).values(day=day, service_code=service_code, **values)
    await db.exec(
        statement.on_conflict_do_update(
            index_elements=["day", "service_code"],
            set_={name: table.c[name] + statement.excluded[name] for name in increments},
        )
    )


def _group_key(by: GroupBy, catalog: CatalogSnapshot) -> Callable[[ServiceDetail], tuple[str, str]]:
    """The group a service's figures add to, and the group's Chinese name."""
    if by == "service":
        return lambda s: (s.code, s.name_zh)
    if by == "department":
        return lambda s: (s.department.code, s.department.name_zh)
    domain_names = {d.code: d.name_zh for d in catalog.domains}
    return lambda s: (s.domain, domain_names.get(s.domain, s.domain))


async def compute(
    db: AsyncSession,
    catalog: CatalogSnapshot,
    start: date,
    end: date,
    by: GroupBy,
    today: date,
) -> dict[str, Any]:
    """The period's figures per group, and the total."""
    summed = await db.exec(
        select(
            col(DailyStats.service_code),
            *[func.sum(getattr(DailyStats, name)) for name in COUNTERS],
        )
        .where(col(DailyStats.day) >= start, col(DailyStats.day) <= end)
        .group_by(col(DailyStats.service_code))
    )
    per_service: dict[str, dict[str, int]] = {
        row[0]: dict(zip(COUNTERS, (int(v or 0) for v in row[1:]), strict=True))
        for row in summed.all()
    }
    for code, late in (await _clock_snapshot(db, today)).items():
        per_service.setdefault(code, dict.fromkeys(COUNTERS, 0)).update(late)

    key_of = _group_key(by, catalog)
    groups: dict[str, dict[str, int]] = defaultdict(lambda: defaultdict(int))
    names: dict[str, str] = {}
    total: dict[str, int] = defaultdict(int)
    for code, counters in per_service.items():
        service = catalog.services.get(code)
        key, name = key_of(service) if service else (code, code)
        names[key] = name
        for counter, value in counters.items():
            groups[key][counter] += value
            total[counter] += value
    return {
        "from": start,
        "to": end,
        "by": by,
        "groups": [
            {"key": key, "name_zh": names[key], **_figures(groups[key])} for key in sorted(groups)
        ],
        "total": _figures(total),
    }


async def _clock_snapshot(db: AsyncSession, today: date) -> dict[str, dict[str, int]]:
    """Open applications now overdue, and those at 80% but not yet overdue, per service."""
    judged_on = func.coalesce(col(Application.paused_on), today)
    overdue = col(Application.due_on) < judged_on
    rows = await db.exec(
        select(
            col(Application.service_code),
            func.sum(case((overdue, 1), else_=0)),
            func.sum(case((and_(~overdue, col(Application.warn_on) <= judged_on), 1), else_=0)),
        )
        .where(
            col(Application.status).in_([s.value for s in CLOCKED]),
            # Whatever the light, it is at least yellow: the index narrows to these rows.
            col(Application.warn_on) <= today,
        )
        .group_by(col(Application.service_code))
    )
    return {code: {"overdue": int(o or 0), "warning": int(w or 0)} for code, o, w in rows.all()}


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


def _figures(c: dict[str, int]) -> dict[str, Any]:
    finished = c["completed"] + c["rejected"]
    return {
        "applications": c["submitted"],
        "completed": c["completed"],
        "rejected": c["rejected"],
        "one_trip_share": _share(c["one_trip"], c["completed"]),
        "on_time_share": _share(c["on_time"], finished),
        "avg_working_days": round(c["working_days"] / finished, 2) if finished else None,
        "overdue": c.get("overdue", 0),
        "warning": c.get("warning", 0),
        "ratings": {str(n): c[f"rating_{n}"] for n in range(1, 6)},
    }
