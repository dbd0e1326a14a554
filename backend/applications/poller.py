"""Asking the departments that can only be asked: polling open applications for news.

Some departmental systems can neither use the provider API nor send signed callbacks;
they only answer "what state is case N in?". Such a department is *query-only* when
its adapter has an ``application_status`` operation: adding that operation to the
adapter spec is the whole declaration (no code release, no catalog change), and every
application service the catalog binds to that adapter is polled from then on. On the
platform the changes are made by the service's owning catalog department
(``hf-traffic-police`` for the ``traffic_police`` adapter), through the same functions
the provider API uses, so the timeline, deadline, outbox and reviews work the same.

``application_status`` takes ``{"number": <application number>}`` and answers in the
platform's words (the adapter spec translates the department's dialect)::

    number             the application number the answer is about
    state              received | reviewing | need_more | approved | rejected | done
    opinion            the department's opinion or note (optional)
    missing            the missing material (need_more)
    supplement_rounds  how often the department has asked for material, this time included
    licence_no, tracking_number   what was handed over (done)
    trips              in-person visits so far, oldest first: [{at, reason}]

Each pass asks about every open application (submitted, in_review, supplement_required,
approved) and catches the platform up one step at a time, from the platform's state
and the department's answer alone (never from a memory of earlier polls), so polling
again finds nothing to do:

    submitted, whatever the department says   → accept (it has the case)
    more visits than the platform's trips     → record_trip for each new one
    need_more, a round the platform lacks     → request_supplement (while in review)
    approved or done, its review pending      → review approve; rejected → review reject
    done, the application approved            → complete with the licence/tracking number

A supplement is the citizen's to answer on the platform: while the platform says
supplement_required nothing but trips is applied, and a department still saying
need_more after the citizen answered is not asked again (its round is counted). A
department that is down, answers garbage or does not know the number is logged and
skipped; each application is caught up in its own transaction, under a row lock so
two workers polling at once apply a step once. Workers take turns (``poll_round``): one
poll per interval for the whole deployment, so a department is not asked once per worker.

Limits: the platform's trip count includes trips recorded through the provider API by
co-reviewing departments, and a department that asks twice between two polls is seen
asking once.
"""

from __future__ import annotations

import asyncio
import time
from collections import Counter
from dataclasses import dataclass
from enum import StrEnum
from typing import Protocol

import structlog
from pydantic import ValidationError
from sqlalchemy import func
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications import processing
from backend.applications.models import Application, Review, TimelineEntry
from backend.applications.poll_steps import DepartmentCase, Progress, Step, next_step
from backend.applications.state_machine import Status
from backend.catalog import CatalogSnapshot, ServiceDetail
from backend.errors import AppError
from backend.kv import KV, claim_round
from integrations.base import AdapterError, AdapterRegistry, Caller, RequestRejected
from integrations.invoker import Invoker

log = structlog.get_logger("hefeitong.poller")

STATUS_OPERATION = "application_status"
OPEN = (Status.SUBMITTED, Status.IN_REVIEW, Status.SUPPLEMENT_REQUIRED, Status.APPROVED)
POLLER = Caller(subject="system:poller", assurance_level=3)
# Every step changes what the next one is decided from; more steps than the case's
# visits plus a full lifecycle means a step did not take, and the loop must not spin.
_LIFECYCLE_STEPS = 5


class CatalogSource(Protocol):
    """Where the current catalog is read each pass (the app's ``CatalogStore``)."""

    @property
    def snapshot(self) -> CatalogSnapshot: ...


# --- one pass ------------------------------------------------------------------------


@dataclass(frozen=True)
class _Target:
    id: str
    number: str
    adapter_id: str
    service: ServiceDetail


class Outcome(StrEnum):
    CHANGED = "changed"
    UNCHANGED = "unchanged"
    UNKNOWN = "unknown"  # the department does not know the number (yet)
    UNAVAILABLE = "unavailable"  # down, too slow, breaker open
    GARBAGE = "garbage"  # an answer that cannot be trusted
    FAILED = "failed"  # applying the change failed; retried next pass


def query_only_services(
    registry: AdapterRegistry, catalog: CatalogSnapshot
) -> dict[str, ServiceDetail]:
    """Application services bound to an adapter that has ``application_status``."""
    found: dict[str, ServiceDetail] = {}
    for service in catalog.services.values():
        if service.application is None or service.adapter is None:
            continue
        adapter = registry.get(service.adapter.id)
        if adapter is not None and STATUS_OPERATION in adapter.operations:
            found[service.code] = service
    return found


async def poll_once(
    sessions: async_sessionmaker[AsyncSession],
    invoker: Invoker,
    catalog: CatalogSnapshot,
    *,
    concurrency: int = 8,
    timeout: float = 5.0,
) -> int:
    """Ask query-only departments about every open application once; returns how many
    applications changed. ``timeout`` bounds each question, retries included."""
    services = query_only_services(invoker.registry, catalog)
    if not services:
        return 0
    targets = await _open_applications(sessions, services)
    slots = asyncio.Semaphore(concurrency)

    async def bounded(target: _Target) -> Outcome:
        async with slots:
            return await _poll_one(sessions, invoker, target, timeout)

    outcomes = await asyncio.gather(*(bounded(t) for t in targets))
    _report(targets, outcomes)
    return outcomes.count(Outcome.CHANGED)


async def poll_round(
    kv: KV,
    sessions: async_sessionmaker[AsyncSession],
    invoker: Invoker,
    catalog: CatalogSnapshot,
    interval: float,
) -> int | None:
    """``poll_once`` if this worker claims this interval's round, else None: the departments
    are asked once per interval however many workers run."""
    if not await claim_round(kv, "department-poll", interval):
        return None
    return await poll_once(sessions, invoker, catalog)


async def _open_applications(
    sessions: async_sessionmaker[AsyncSession], services: dict[str, ServiceDetail]
) -> list[_Target]:
    async with sessions() as db:
        rows = await db.exec(
            select(col(Application.id), col(Application.number), col(Application.service_code))
            .where(col(Application.service_code).in_(services))
            .where(col(Application.status).in_([str(s) for s in OPEN]))
            .order_by(col(Application.id))
        )
        return [
            _Target(id_, number, _adapter_of(services[code]), services[code])
            for id_, number, code in rows.all()
        ]


def _adapter_of(service: ServiceDetail) -> str:
    assert service.adapter is not None  # query_only_services keeps bound services only
    return service.adapter.id


async def _poll_one(
    sessions: async_sessionmaker[AsyncSession], invoker: Invoker, target: _Target, timeout: float
) -> Outcome:
    asked = await _ask(invoker, target, timeout)
    if not isinstance(asked, DepartmentCase):
        return asked
    try:
        async with sessions() as db, db.begin():
            changed = await _catch_up(db, target, asked)
    except AppError as exc:
        # Someone else moved the application between our read and our step (the
        # provider API, a citizen): the transaction is rolled back, next pass retries.
        log.warning("poll_step_refused", application=target.number, code=exc.code)
        return Outcome.FAILED
    except Exception as exc:
        # Type only: database errors can quote row values, and logs carry no personal data.
        log.error("poll_step_failed", application=target.number, error=type(exc).__name__)
        return Outcome.FAILED
    return Outcome.CHANGED if changed else Outcome.UNCHANGED


async def _ask(invoker: Invoker, target: _Target, timeout: float) -> DepartmentCase | Outcome:
    try:
        answer = await invoker.call(
            target.adapter_id,
            STATUS_OPERATION,
            {"number": target.number},
            POLLER,
            deadline=time.monotonic() + timeout,
        )
    except RequestRejected as exc:
        # Usually "no such case": the department has not registered it yet. The upstream
        # message is not logged; it may echo what the department holds.
        log.info("poll_case_unknown", application=target.number, upstream=exc.upstream_code)
        return Outcome.UNKNOWN
    except AdapterError as exc:
        log.debug("poll_department_failed", application=target.number, error=type(exc).__name__)
        return Outcome.UNAVAILABLE
    try:
        case = DepartmentCase.model_validate(answer)
    except ValidationError as exc:
        fields = sorted({".".join(str(p) for p in e["loc"]) for e in exc.errors()})
        log.warning("poll_answer_unusable", application=target.number, fields=fields)
        return Outcome.GARBAGE
    if case.number != target.number:
        log.warning("poll_answer_for_another_case", application=target.number)
        return Outcome.GARBAGE
    return case


async def _catch_up(db: AsyncSession, target: _Target, case: DepartmentCase) -> bool:
    """Apply steps until the platform has caught up; True when anything changed."""
    application = await db.get(Application, target.id, with_for_update=True)
    if application is None or application.status not in OPEN:
        return False  # decided or withdrawn since the pass began
    department = target.service.department.code
    for taken in range(_LIFECYCLE_STEPS + len(case.visits)):
        progress = await _progress(db, application, department)
        step = next_step(progress, case)
        if step is None:
            return taken > 0
        await _apply(db, application, target.service, department, step, case, progress)
    log.warning("poll_steps_exhausted", application=target.number)
    return True


async def _progress(db: AsyncSession, application: Application, department: str) -> Progress:
    pending = await db.exec(
        select(col(Review.id)).where(
            Review.application_id == application.id,
            Review.department_code == department,
            Review.decision == "pending",
        )
    )
    asked = await db.exec(
        select(func.count())
        .select_from(TimelineEntry)
        .where(
            TimelineEntry.application_id == application.id,
            TimelineEntry.actor_id == department,
            TimelineEntry.to_status == Status.SUPPLEMENT_REQUIRED,
            # Not the notes (trips, opinions) written while the request was outstanding.
            col(TimelineEntry.from_status) != col(TimelineEntry.to_status),
        )
    )
    return Progress(
        status=Status(application.status),
        review_pending=pending.first() is not None,
        supplements_asked=asked.one(),
        trips=application.trips,
    )


async def _apply(
    db: AsyncSession,
    application: Application,
    service: ServiceDetail,
    department: str,
    step: Step,
    case: DepartmentCase,
    progress: Progress,
) -> None:
    if step is Step.ACCEPT:
        await processing.accept(db, application, service, department)
    elif step is Step.TRIP:
        visit = case.visits[progress.trips]
        await processing.record_trip(db, application, department, visit.reason)
    elif step is Step.SUPPLEMENT:
        missing = case.missing or []  # need_more always has it (DepartmentCase checks)
        await processing.request_supplement(
            db, application, service, department, missing, case.opinion
        )
    elif step in (Step.APPROVE, Step.REJECT):
        approve = step is Step.APPROVE
        opinion = case.opinion or ("同意" if approve else "不同意")
        await processing.review(db, application, service, department, approve, opinion)
    else:
        await processing.complete(db, application, service, department, case.result())
    await db.flush()  # the next step is decided from what this one wrote


def _report(targets: list[_Target], outcomes: list[Outcome]) -> None:
    """One line per department and pass: a department that is down for a thousand open
    applications is one warning, not a thousand."""
    by_adapter: dict[str, Counter[str]] = {}
    for target, outcome in zip(targets, outcomes, strict=True):
        by_adapter.setdefault(target.adapter_id, Counter())[outcome] += 1
    for adapter_id, counts in by_adapter.items():
        troubled = counts[Outcome.UNAVAILABLE] + counts[Outcome.GARBAGE] + counts[Outcome.FAILED]
        (log.warning if troubled else log.info)(
            "poll_pass", adapter=adapter_id, **{str(k): v for k, v in counts.items()}
        )
