"""The department's side: accept, ask for supplements, review in parallel, trips, complete.

Reviews run concurrently (并联审批): accepting opens one pending review per reviewing
department; the application is approved only when every one approves, and rejected
as soon as one rejects, each department's opinion on the timeline. The deadline is
counted in working days from acceptance on the platform's calendar.
"""

from __future__ import annotations

from typing import Any

from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications import deadlines
from backend.applications.exceptions import ApplicationNotFound, NotAReviewer
from backend.applications.models import Application, Review
from backend.applications.state_machine import Actor, IllegalTransition, Status
from backend.applications.timeline import add_note, transition
from backend.applications.working_days import load_calendar
from backend.catalog import ServiceDetail
from backend.clock import china_date, utcnow


def reviewers(service: ServiceDetail) -> list[str]:
    assert service.application is not None
    return service.application.review_departments or [service.department.code]


async def for_department(
    db: AsyncSession, application_id: str, service_of: Any, department: str
) -> tuple[Application, ServiceDetail]:
    """The application if this department owns or reviews it; 404 otherwise."""
    application = await db.get(Application, application_id)
    if application is None:
        raise ApplicationNotFound()
    service: ServiceDetail = service_of(application.service_code)
    if department != service.department.code and department not in reviewers(service):
        raise ApplicationNotFound()
    return application, service


def _owner_only(service: ServiceDetail, department: str) -> None:
    if department != service.department.code:
        raise NotAReviewer(f"Only {service.department.code} can do this")


async def accept(
    db: AsyncSession, application: Application, service: ServiceDetail, department: str
) -> None:
    _owner_only(service, department)
    await transition(db, application, Status.ACCEPTED, Actor.DEPARTMENT, department, "受理")
    assert service.application is not None
    now = utcnow()
    application.accepted_at = now
    deadlines.start(
        application, await load_calendar(db), service.application.promised_days, china_date(now)
    )
    for code in reviewers(service):
        db.add(Review(application_id=application.id, department_code=code))
    await transition(db, application, Status.IN_REVIEW, Actor.SYSTEM, "platform", "并联审查开始")


async def request_supplement(
    db: AsyncSession, application: Application, service: ServiceDetail, department: str,
    missing: list[str], note: str | None,
) -> None:  # fmt: skip
    if department not in reviewers(service):
        raise NotAReviewer()
    text = "需补正：" + "、".join(missing) + (f"（{note}）" if note else "")
    await transition(
        db, application, Status.SUPPLEMENT_REQUIRED, Actor.DEPARTMENT, department, text
    )


async def review(
    db: AsyncSession, application: Application, service: ServiceDetail, department: str,
    approve: bool, opinion: str,
) -> None:  # fmt: skip
    if Status(application.status) != Status.IN_REVIEW:
        raise IllegalTransition("Reviews are given while the application is in review")
    found = await db.exec(
        select(Review).where(
            Review.application_id == application.id, Review.department_code == department
        )
    )
    mine = found.first()
    if mine is None or mine.decision != "pending":
        raise NotAReviewer("This department has no pending review of the application")
    mine.decision = "approved" if approve else "rejected"
    mine.opinion, mine.decided_at = opinion, utcnow()
    db.add(mine)
    add_note(
        db,
        application,
        Actor.DEPARTMENT,
        department,
        f"{'同意' if approve else '不同意'}：{opinion}",
    )
    await db.flush()
    decisions = [r.decision for r in (await db.exec(
        select(Review).where(Review.application_id == application.id)
    )).all()]  # fmt: skip
    if "rejected" in decisions:
        await transition(db, application, Status.REJECTED, Actor.SYSTEM, "platform", "审查未通过")
    elif all(d == "approved" for d in decisions):
        await transition(db, application, Status.APPROVED, Actor.SYSTEM, "platform", "审查通过")


async def record_trip(
    db: AsyncSession, application: Application, department: str, reason: str
) -> None:
    application.trips += 1
    application.updated_at = utcnow()
    db.add(application)
    add_note(
        db,
        application,
        Actor.DEPARTMENT,
        department,
        f"现场办理（第{application.trips}次跑动）：{reason}",
    )


async def complete(
    db: AsyncSession, application: Application, service: ServiceDetail, department: str,
    result: dict[str, Any],
) -> None:  # fmt: skip
    _owner_only(service, department)
    if application.delivery.get("method") == "pickup":
        await record_trip(db, application, department, "窗口领取办理结果")
    application.result = result
    await transition(db, application, Status.COMPLETED, Actor.DEPARTMENT, department, "办结")
