"""The provider API departments process applications with (client-credentials tokens)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Query
from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.applications import clock, processing, ratings
from backend.applications.exceptions import (
    ApplicationNotFound,
    NotAReviewer,
    RectificationClosed,
    RectificationNotFound,
)
from backend.applications.models import Application, Rectification
from backend.applications.schemas import ApplicationOut, RectificationOut
from backend.applications.service import describe
from backend.applications.state_machine import IllegalTransition
from backend.catalog.dependencies import CatalogDep
from backend.catalog.schemas import ServiceDetail
from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity.exceptions import InvalidToken
from backend.identity.provider_auth import CurrentDepartment

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


class SupplementRequest(_Body):
    missing: Annotated[
        list[Annotated[str, Field(max_length=100)]], Field(min_length=1, max_length=20)
    ]
    note: str | None = Field(default=None, max_length=500)


class ReviewDecision(_Body):
    decision: Literal["approve", "reject"]
    opinion: str = Field(min_length=1, max_length=1000)


class TripRecord(_Body):
    reason: str = Field(min_length=1, max_length=200)


class Completion(_Body):
    licence_no: str | None = Field(default=None, max_length=64, description="e-license delivered")
    tracking_number: str | None = Field(default=None, max_length=64, description="mail sent")
    note: str | None = Field(default=None, max_length=500)

    @model_validator(mode="after")
    def some_result(self) -> Completion:
        if not (self.licence_no or self.tracking_number or self.note):
            raise ValueError("give the licence number, the tracking number or a note")
        return self


@router.post("/{application_id}/accept", response_model=ApplicationOut, responses=PROBLEMS,
             summary="受理 / Accept")  # fmt: skip
async def accept(it: HandledDep, db: SessionDep) -> ApplicationOut:
    await processing.accept(db, it.application, it.service, it.department)
    return await describe(db, it.application, it.service)


@router.post("/{application_id}/supplement", response_model=ApplicationOut, responses=PROBLEMS,
             summary="要求补正 / Ask for missing material")  # fmt: skip
async def supplement(body: SupplementRequest, it: HandledDep, db: SessionDep) -> ApplicationOut:
    await processing.request_supplement(
        db, it.application, it.service, it.department, body.missing, body.note
    )
    return await describe(db, it.application, it.service)


@router.post("/{application_id}/reviews", response_model=ApplicationOut, responses=PROBLEMS,
             summary="审查意见 / Give this department's decision")  # fmt: skip
async def review(body: ReviewDecision, it: HandledDep, db: SessionDep) -> ApplicationOut:
    await processing.review(
        db, it.application, it.service, it.department, body.decision == "approve", body.opinion
    )
    return await describe(db, it.application, it.service)


@router.post("/{application_id}/trips", response_model=ApplicationOut, responses=PROBLEMS,
             summary="记录现场跑动 / Record an in-person trip")  # fmt: skip
async def trip(body: TripRecord, it: HandledDep, db: SessionDep) -> ApplicationOut:
    await processing.record_trip(db, it.application, it.department, body.reason)
    return await describe(db, it.application, it.service)


@router.post("/{application_id}/complete", response_model=ApplicationOut, responses=PROBLEMS,
             summary="办结 / Complete with the result delivered")  # fmt: skip
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


@rectifications_router.get("", response_model=list[RectificationOut],
                           responses=problem_responses(InvalidToken),
                           summary="差评整改事项 / Rectifications from poor ratings")  # fmt: skip
async def list_rectifications(
    department: CurrentDepartment,
    db: SessionDep,
    status: Annotated[Literal["open", "resolved"] | None, Query()] = None,
) -> list[RectificationOut]:
    return [_rectification_out(r) for r in await ratings.rectifications(db, department, status)]


@rectifications_router.post(
    "/{rectification_id}/resolve",
    response_model=RectificationOut,
    responses=problem_responses(InvalidToken, RectificationNotFound, RectificationClosed),
    summary="提交整改结果 / Resolve a rectification",
)
async def resolve_rectification(
    rectification_id: str,
    body: RectificationResolution,
    department: CurrentDepartment,
    db: SessionDep,
) -> RectificationOut:
    item = await ratings.resolve(db, rectification_id, department, body.resolution)
    return _rectification_out(item)
