"""Platform administration of applications: the working-day calendar and statistics."""

from __future__ import annotations

from datetime import date, datetime, timedelta
from typing import Annotated, Literal

from fastapi import APIRouter, Path, Query
from pydantic import BaseModel, ConfigDict, Field

from backend import clock
from backend.applications import calendar_admin, stats
from backend.applications.models import CalendarYear
from backend.applications.working_days import year_from_schedule
from backend.catalog import CatalogDep
from backend.db import SessionDep
from backend.errors import AppError, NotFound, problem_responses
from backend.identity import CurrentAdmin, InvalidToken, NotAnAdministrator

router = APIRouter(prefix="/v1/admin", tags=["admin"])
ADMIN_PROBLEMS = (InvalidToken, NotAnAdministrator)
Year = Annotated[int, Path(ge=2000, le=2100)]
MAX_PERIOD = timedelta(days=3 * 366)


class CalendarInvalid(AppError):
    status = 422
    code = "CALENDAR_INVALID"
    title_zh = "节假日安排有误"
    title_en = "The holiday schedule is not valid"


class PeriodInvalid(AppError):
    status = 422
    code = "PERIOD_INVALID"
    title_zh = "统计区间有误"
    title_en = "The statistics period is not valid"


class CalendarYearIn(BaseModel):
    model_config = ConfigDict(extra="forbid")

    holidays: list[date] = Field(max_length=60, description="法定节假日 / Statutory holidays")
    workdays: list[date] = Field(
        default_factory=list, max_length=20, description="调休上班日 / Make-up working days"
    )
    source: str = Field(
        min_length=1, max_length=64, examples=["国务院办公厅通知 国办发明电〔2026〕X号"]
    )


class CalendarYearOut(BaseModel):
    year: int
    holidays: list[date]
    workdays: list[date]
    source: str
    updated_at: datetime
    rescheduled: int = Field(0, description="Open applications whose deadline was recomputed")


def _out(row: CalendarYear, rescheduled: int = 0) -> CalendarYearOut:
    return CalendarYearOut(
        year=row.year,
        holidays=[date.fromisoformat(d) for d in row.holidays],
        workdays=[date.fromisoformat(d) for d in row.workdays],
        source=row.source,
        updated_at=row.updated_at,
        rescheduled=rescheduled,
    )


@router.get(
    "/calendar/{year}",
    response_model=CalendarYearOut,
    summary="查看年度节假日 / A year of the working-day calendar",
    description=(
        "平台管理员查看某年已发布的法定节假日和调休上班日；未发布的年份返回404，"
        "落在该年的期限为估算值。"
        " For platform administrators: the published holidays and make-up working days of a year. A"
        " year without a published schedule is 404 `NOT_FOUND`, and deadlines falling in it are"
        " estimated."
    ),
    responses=problem_responses(*ADMIN_PROBLEMS, NotFound),
)
async def get_calendar_year(year: Year, _: CurrentAdmin, db: SessionDep) -> CalendarYearOut:
    row = await calendar_admin.published_year(db, year)
    if row is None:
        raise NotFound(f"No published calendar for {year}: deadlines in it are estimated")
    return _out(row)


@router.put(
    "/calendar/{year}",
    response_model=CalendarYearOut,
    summary="发布年度节假日 / Publish a year's holiday schedule",
    description=(
        "按国务院公布的安排录入；该年度内仍在计时的办件重新计算期限。"
        " As the State Council publishes it; open applications whose clock runs through"
        " the year get their deadlines recomputed (no longer estimated)."
    ),
    responses=problem_responses(*ADMIN_PROBLEMS, CalendarInvalid),
)
async def put_calendar_year(
    year: Year, body: CalendarYearIn, admin: CurrentAdmin, db: SessionDep
) -> CalendarYearOut:
    try:
        row = year_from_schedule(year, body.holidays, body.workdays, body.source)
    except ValueError as exc:
        raise CalendarInvalid(str(exc)) from None
    row, rescheduled = await calendar_admin.publish_year(db, row)
    return _out(row, rescheduled)


class Figures(BaseModel):
    applications: int = Field(description="Submitted in the period")
    completed: int
    rejected: int
    one_trip_share: float | None = Field(description="Completed with at most one trip")
    on_time_share: float | None = Field(description="Finished by the deadline")
    avg_working_days: float | None = Field(description="Working days used, pauses excluded")
    overdue: int = Field(description="Open and past the deadline now")
    warning: int = Field(description="Open, 80% of the time used, not yet overdue, now")
    ratings: dict[str, int] = Field(description="好差评 given in the period, by score 1–5")


class Group(Figures):
    key: str
    name_zh: str


class StatsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: date = Field(alias="from")
    to: date
    by: Literal["domain", "department", "service"]
    groups: list[Group]
    total: Figures


@router.get(
    "/stats",
    response_model=StatsOut,
    response_model_by_alias=True,
    summary="办件统计 / Application statistics",
    description=(
        "按领域、部门或事项统计区间内的申请量、一次办结率、按时办结率、平均用时、评价分布；"
        "逾期与预警为当前数。 By domain, department or service over a period; overdue and"
        " warning are counts of open applications now."
    ),
    responses=problem_responses(*ADMIN_PROBLEMS, PeriodInvalid),
)
async def get_stats(
    _: CurrentAdmin,
    catalog: CatalogDep,
    db: SessionDep,
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
    by: Annotated[Literal["domain", "department", "service"], Query()] = "domain",
) -> StatsOut:
    if end < start or end - start > MAX_PERIOD:
        raise PeriodInvalid("'from' must not be after 'to', and the period at most 3 years")
    figures = await stats.compute(db, catalog, start, end, by, clock.today())
    return StatsOut.model_validate(figures)
