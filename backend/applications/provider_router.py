"""The provider API departments process applications with (client-credentials tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator
from pydantic.config import JsonDict, JsonSchemaExtraCallable

from backend import clock
from backend.applications import processing, ratings
from backend.applications.exceptions import (
    ApplicationNotFound,
    NotAReviewer,
    RectificationClosed,
    RectificationNotFound,
)
from backend.applications.models import Application, Rectification
from backend.applications.schemas import ApplicationOut, RectificationList, RectificationOut
from backend.applications.service import describe
from backend.applications.state_machine import IllegalTransition
from backend.catalog import CatalogDep, ServiceDetail
from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity import CurrentDepartment, InvalidToken
from backend.pagination import PageDep

router = APIRouter(prefix="/v1/provider/applications", tags=["provider"])
rectifications_router = APIRouter(prefix="/v1/provider/rectifications", tags=["provider"])


@dataclass(frozen=True)
class Handled:
    """An application the calling department owns or reviews, with its service."""

    application: Application
    service: ServiceDetail
    department: str


async def handled(
    application_id: str, department: CurrentDepartment, catalog: CatalogDep, db: SessionDep
) -> Handled:
    application, service = await processing.for_department(
        db, application_id, catalog.service, department
    )
    return Handled(application, service, department)


HandledDep = Annotated[Handled, Depends(handled)]
PROBLEMS = problem_responses(InvalidToken, ApplicationNotFound, NotAReviewer, IllegalTransition)


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


def _examples_of(name: str, *examples: JsonDict) -> JsonSchemaExtraCallable:
    """Examples of the body called ``name`` only. The callback events' data extend these
    bodies with ``application_id`` (applications/callbacks.py); an inherited example would
    lack it."""

    def add(schema: JsonDict, model: type[Any]) -> None:
        if model.__name__ == name:
            schema["examples"] = list(examples)

    return add


class SupplementRequest(_Body):
    model_config = ConfigDict(
        json_schema_extra=_examples_of(
            "SupplementRequest",
            {
                "missing": ["房屋租赁合同（需出租人签字盖章）"],
                "note": "请上传签字盖章后的租赁合同扫描件。",
            },
        )
    )

    missing: Annotated[
        list[Annotated[str, Field(max_length=100)]], Field(min_length=1, max_length=20)
    ]
    note: str | None = Field(default=None, max_length=500)


class ReviewDecision(_Body):
    model_config = ConfigDict(
        json_schema_extra=_examples_of(
            "ReviewDecision", {"decision": "approve", "opinion": "材料齐全，符合租房提取条件。"}
        )
    )

    decision: Literal["approve", "reject"]
    opinion: str = Field(min_length=1, max_length=1000)


class TripRecord(_Body):
    model_config = ConfigDict(
        json_schema_extra=_examples_of("TripRecord", {"reason": "现场核验租赁合同原件"})
    )

    reason: str = Field(min_length=1, max_length=200)


class Completion(_Body):
    model_config = ConfigDict(
        json_schema_extra=_examples_of(
            "Completion",
            {"note": "提取款项已转入申请人银行账户。"},
            {"licence_no": "340100202603170001", "note": "电子证照已发放至申请人证照库。"},
        )
    )

    licence_no: str | None = Field(default=None, max_length=64, description="e-license delivered")
    tracking_number: str | None = Field(default=None, max_length=64, description="mail sent")
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def some_result(self) -> Completion:
        if not (self.licence_no or self.tracking_number or self.note):
            raise ValueError("give the licence number, the tracking number or a note")
        return self


@router.post(
    "/{application_id}/accept",
    response_model=ApplicationOut,
    summary="受理 / Accept",
    description=(
        "事项所属部门受理已提交的申请：承诺时限自受理起按工作日计算，并联审查随即开始。"
        " The department owning the service accepts a submitted application: the promised"
        " working-day deadline starts and parallel review by the reviewing departments begins."
        " A reviewing department that does not own the service gets 403 `NOT_A_REVIEWER`; an"
        " application not `submitted` is 409 `ILLEGAL_TRANSITION`."
    ),
    responses=PROBLEMS,
)
async def accept(it: HandledDep, db: SessionDep) -> ApplicationOut:
    await processing.accept(db, it.application, it.service, it.department)
    return await describe(db, it.application, it.service)


@router.post(
    "/{application_id}/supplement",
    response_model=ApplicationOut,
    summary="要求补正 / Ask for missing material",
    description=(
        "审查部门列出缺少的内容，要求申请人补正；期限暂停计时，申请人收到站内消息和短信。"
        " A reviewing department lists what is missing (`missing`) and asks the applicant for it;"
        " the deadline clock pauses until the applicant answers, who is told by message and SMS."
    ),
    responses=PROBLEMS,
)
async def supplement(body: SupplementRequest, it: HandledDep, db: SessionDep) -> ApplicationOut:
    await processing.request_supplement(
        db, it.application, it.service, it.department, body.missing, body.note
    )
    return await describe(db, it.application, it.service)


@router.post(
    "/{application_id}/reviews",
    response_model=ApplicationOut,
    summary="审查意见 / Give this department's decision",
    description=(
        "参与并联审查的部门在审查中给出本部门意见；全部同意则通过，任一不同意则不通过。"
        " A reviewing department gives its decision while the application is `in_review`: once all"
        " have approved it is `approved`, and any rejection makes it `rejected`. A department"
        " without a pending review gets 403 `NOT_A_REVIEWER`."
    ),
    responses=PROBLEMS,
)
async def review(body: ReviewDecision, it: HandledDep, db: SessionDep) -> ApplicationOut:
    await processing.review(
        db, it.application, it.service, it.department, body.decision == "approve", body.opinion
    )
    return await describe(db, it.application, it.service)


@router.post(
    "/{application_id}/trips",
    response_model=ApplicationOut,
    summary="记录现场跑动 / Record an in-person trip",
    description=(
        "记录申请人一次到现场的跑动及原因；超过事项允许的次数时 `trips_over_allowance` 为 true。"
        " Records one in-person visit the applicant had to make, with the reason; more visits than"
        " the service allows set `trips_over_allowance`."
    ),
    responses=PROBLEMS,
)
async def trip(body: TripRecord, it: HandledDep, db: SessionDep) -> ApplicationOut:
    await processing.record_trip(db, it.application, it.department, body.reason)
    return await describe(db, it.application, it.service)


@router.post(
    "/{application_id}/complete",
    response_model=ApplicationOut,
    summary="办结 / Complete with the result delivered",
    description=(
        "事项所属部门在审查有结论后办结，须给出电子证照号、快递单号或说明至少一项；"
        "窗口领取的自动计一次跑动。"
        " The owning department completes an approved or rejected application, giving a licence"
        " number, a mail tracking number or a note (at least one); a result picked up at a counter"
        " counts as an in-person trip."
    ),
    responses=PROBLEMS,
)
async def complete(body: Completion, it: HandledDep, db: SessionDep) -> ApplicationOut:
    await processing.complete(
        db, it.application, it.service, it.department, body.model_dump(exclude_none=True)
    )
    return await describe(db, it.application, it.service)


class RectificationResolution(_Body):
    resolution: str = Field(min_length=1, max_length=1000, description="整改情况 / What was done")


def _rectification_out(item: Rectification) -> RectificationOut:
    return RectificationOut(
        **item.model_dump(exclude={"department_code"}),
        overdue=item.status == "open" and clock.today() > item.due_on,
    )


@rectifications_router.get(
    "",
    response_model=RectificationList,
    summary="差评整改事项 / Rectifications from poor ratings",
    description=(
        "本部门因1–2星差评产生的整改事项，可按状态筛选，最新在前，按游标分页；"
        "`overdue` 标出超过15个工作日仍未整改的。"
        "（0.2.0 起返回 `items` 与 `next_cursor`，不再是数组。）"
        " The rectifications opened for this department by 1–2 star ratings, filterable by status,"
        " newest first, a page at a time (pass `next_cursor` back as `cursor`); `overdue` marks"
        " open ones past their 15-working-day deadline. Since 0.2.0 an object with `items` and"
        " `next_cursor`, no longer a bare array."
    ),
    responses=problem_responses(InvalidToken),
)
async def list_rectifications(
    department: CurrentDepartment,
    db: SessionDep,
    page: PageDep,
    status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
) -> RectificationList:
    rows, next_cursor = await ratings.rectification_page(db, department, status, page)
    return RectificationList(items=[_rectification_out(r) for r in rows], next_cursor=next_cursor)


@rectifications_router.post(
    "/{rectification_id}/resolve",
    response_model=RectificationOut,
    responses=problem_responses(InvalidToken, RectificationNotFound, RectificationClosed),
    summary="提交整改结果 / Resolve a rectification",
    description=(
        "提交整改情况并关闭整改事项。"
        " Records what was done and closes the rectification; one already resolved is 409"
        " `RECTIFICATION_CLOSED`, another department's 404 `RECTIFICATION_NOT_FOUND`."
    ),
)
async def resolve_rectification(
    rectification_id: str,
    body: RectificationResolution,
    department: CurrentDepartment,
    db: SessionDep,
) -> RectificationOut:
    item = await ratings.resolve(db, rectification_id, department, body.resolution)
    return _rectification_out(item)
