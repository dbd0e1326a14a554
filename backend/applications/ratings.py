"""好差评: the applicant rates a completed application; a poor rating (1–2) opens a
rectification item the department must answer within 15 working days."""

from __future__ import annotations

from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications import stats
from backend.applications.exceptions import (
    NotRatable,
    RectificationClosed,
    RectificationNotFound,
)
from backend.applications.models import Application, Rating, Rectification
from backend.applications.state_machine import Actor, Status
from backend.applications.timeline import add_note
from backend.applications.working_days import load_calendar
from backend.catalog import ServiceDetail
from backend.clock import china_date, utcnow
from backend.pagination import PageRequest, fetch_page

RECTIFY_WITHIN_WORKING_DAYS = 15
POOR = 2  # 1 (非常不满意) and 2 (不满意) must be rectified


async def rate(
    db: AsyncSession,
    application: Application,
    service: ServiceDetail,
    score: int,
    comment: str | None,
) -> Rating:
    if Status(application.status) != Status.COMPLETED:
        raise NotRatable("Rate the application once it is completed")
    now = utcnow()
    day = china_date(now)
    rating = Rating(application_id=application.id, score=score, comment=comment, created_at=now)
    try:
        async with db.begin_nested():  # the primary key makes a second rating fail here
            db.add(rating)
    except IntegrityError:
        raise NotRatable("This application has been rated already") from None
    await stats.bump(db, day, application.service_code, **{f"rating_{score}": 1})
    add_note(db, application, Actor.APPLICANT, application.applicant_id, f"评价：{score}星")
    if score <= POOR:
        calendar = await load_calendar(db)
        db.add(
            Rectification(
                application_id=application.id,
                department_code=service.department.code,
                score=score,
                comment=comment,
                due_on=calendar.add_working_days(day, RECTIFY_WITHIN_WORKING_DAYS).due,
                created_at=now,
            )
        )
    return rating


async def rating_of(db: AsyncSession, application_id: str) -> Rating | None:
    return await db.get(Rating, application_id)


async def rectification_page(
    db: AsyncSession, department: str, status: str | None, page: PageRequest
) -> tuple[list[Rectification], str | None]:
    """One page of the department's rectifications (only those in ``status`` if given),
    newest first, and the next page's cursor."""
    query = select(Rectification).where(Rectification.department_code == department)
    if status is not None:
        query = query.where(Rectification.status == status)
    return await fetch_page(db, query, page, at=Rectification.created_at, id=Rectification.id)


async def resolve(
    db: AsyncSession, rectification_id: str, department: str, resolution: str
) -> Rectification:
    item = await db.get(Rectification, rectification_id)
    if item is None or item.department_code != department:
        raise RectificationNotFound()
    if item.status == "resolved":
        raise RectificationClosed()
    item.status, item.resolution, item.resolved_at = "resolved", resolution, utcnow()
    db.add(item)
    return item
