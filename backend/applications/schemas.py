"""Request and response bodies of applications."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.pagination import Page

# Examples for the OpenAPI document: a rent withdrawal (hpf-withdrawal-rent) with the ID card
# taken from the e-license library and the lease uploaded, from submission to completion.
_RENT_FORM: dict[str, Any] = {
    "rental_address": "合肥市蜀山区长江西路100号",
    "monthly_rent": 2500,
    "lease_start": "2026-03-01",
    "lease_end": "2027-02-28",
    "withdrawal_frequency": "按月提取",
    "bank_account": "6222020000001234567",
}
_ID_CARD_LICENCE = "SFZ3401041990030720191"
_LEASE_UPLOAD = "019cf443-a5c0-705e-a3da-8caa0069fb7b"
_RATING: dict[str, Any] = {
    "score": 5,
    "comment": "一次都没跑，第二天就到账了。",
    "created_at": "2026-03-17T12:03:44Z",
}


class _Body(BaseModel):
    # Fields a client must not set (status, number, owner) are refused, not ignored.
    model_config = ConfigDict(extra="forbid", hide_input_in_errors=True)


class MaterialRef(_Body):
    code: str = Field(max_length=64, description="The required material's code in the catalog")
    licence_no: str | None = Field(
        default=None, max_length=64, description="材料免提交: a licence from the e-license library"
    )
    upload_id: str | None = Field(default=None, max_length=64)

    @model_validator(mode="after")
    def one_source(self) -> MaterialRef:
        if (self.licence_no is None) == (self.upload_id is None):
            raise ValueError("give exactly one of licence_no or upload_id")
        return self


class Delivery(_Body):
    method: Literal["e_license", "mail", "pickup"]
    address: str | None = Field(default=None, max_length=200)

    @model_validator(mode="after")
    def mail_needs_address(self) -> Delivery:
        if self.method == "mail" and not self.address:
            raise ValueError("mail delivery needs an address")
        return self


class ApplicationCreate(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "service_code": "hpf-withdrawal-rent",
                    "form": _RENT_FORM,
                    "materials": [
                        {"code": "id-card", "licence_no": _ID_CARD_LICENCE},
                        {"code": "lease-contract", "upload_id": _LEASE_UPLOAD},
                    ],
                    "delivery": {"method": "e_license"},
                    "draft": False,
                }
            ]
        }
    )

    service_code: str = Field(max_length=64, examples=["hpf-withdrawal-rent"])
    form: dict[str, Any] = Field(default_factory=dict)
    materials: list[MaterialRef] = Field(default_factory=list, max_length=30)
    delivery: Delivery = Field(default_factory=lambda: Delivery(method="e_license"))
    draft: bool = Field(default=False, description="Save without submitting")


class MaterialStatus(BaseModel):
    code: str
    name_zh: str
    satisfied: bool
    source: Literal["e_license", "upload"] | None = None


class TimelineOut(BaseModel):
    at: datetime
    actor: str
    from_status: str | None
    to_status: str
    note: str | None


class ReviewOut(BaseModel):
    department: str
    decision: Literal["pending", "approved", "rejected"]
    opinion: str | None


class SupplementSubmission(_Body):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "materials": [{"code": "lease-contract", "upload_id": _LEASE_UPLOAD}],
                    "note": "已补充盖章的租赁合同。",
                }
            ]
        }
    )

    form: dict[str, Any] | None = Field(default=None, description="The corrected form, whole")
    materials: list[MaterialRef] = Field(default_factory=list, max_length=30)
    note: str | None = Field(default=None, max_length=500)


class RatingCreate(_Body):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"score": 5, "comment": "一次都没跑，第二天就到账了。"}]}
    )

    score: int = Field(ge=1, le=5, description="1 非常不满意 … 5 非常满意")
    comment: str | None = Field(default=None, max_length=500)


class RatingOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_RATING]})

    score: int
    comment: str | None
    created_at: datetime


class RectificationOut(BaseModel):
    id: str
    application_id: str
    score: int
    comment: str | None
    status: Literal["open", "resolved"]
    due_on: date
    overdue: bool
    resolution: str | None
    created_at: datetime
    resolved_at: datetime | None


class RectificationList(Page[RectificationOut]):
    pass


_COMPLETED_APPLICATION: dict[str, Any] = {
    "id": "019cf443-d4a0-7fdb-b8df-550786fdda34",
    "number": "HF2026031600017",
    "service_code": "hpf-withdrawal-rent",
    "status": "completed",
    "due_on": "2026-03-17",
    "due_estimated": False,
    "warn_on": "2026-03-17",
    "light": "green",
    "paused": False,
    "paused_working_days": 0,
    "trips_over_allowance": False,
    "reviews": [
        {"department": "hf-hpf", "decision": "approved", "opinion": "材料齐全，符合租房提取条件。"}
    ],
    "result": {"note": "提取款项已转入申请人银行账户。"},
    "rating": _RATING,
    "form": _RENT_FORM,
    "delivery": {"method": "e_license", "address": None},
    "materials": [
        {"code": "id-card", "name_zh": "居民身份证", "satisfied": True, "source": "e_license"},
        {
            "code": "lease-contract",
            "name_zh": "房屋租赁合同",
            "satisfied": True,
            "source": "upload",
        },
    ],
    "trips": 0,
    "created_at": "2026-03-16T01:30:12Z",
    "submitted_at": "2026-03-16T01:30:12Z",
    "timeline": [
        {
            "at": "2026-03-16T01:30:12Z",
            "actor": "applicant",
            "from_status": None,
            "to_status": "submitted",
            "note": "提交申请",
        },
        {
            "at": "2026-03-16T02:05:31Z",
            "actor": "department",
            "from_status": "submitted",
            "to_status": "accepted",
            "note": "受理",
        },
        {
            "at": "2026-03-16T02:05:31Z",
            "actor": "system",
            "from_status": "accepted",
            "to_status": "in_review",
            "note": "并联审查开始",
        },
        {
            "at": "2026-03-16T06:48:09Z",
            "actor": "department",
            "from_status": "in_review",
            "to_status": "in_review",
            "note": "同意：材料齐全，符合租房提取条件。",
        },
        {
            "at": "2026-03-16T06:48:09Z",
            "actor": "system",
            "from_status": "in_review",
            "to_status": "approved",
            "note": "审查通过",
        },
        {
            "at": "2026-03-17T01:15:40Z",
            "actor": "department",
            "from_status": "approved",
            "to_status": "completed",
            "note": "办结",
        },
    ],
}


class ApplicationOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_COMPLETED_APPLICATION]})

    id: str
    number: str
    service_code: str
    status: str
    due_on: date | None = Field(description="Promised deadline (working days from acceptance)")
    due_estimated: bool = Field(description="The deadline falls in a year without published data")
    warn_on: date | None = Field(description="The day 80% of the promised time is used")
    light: Literal["green", "yellow", "red"] | None = Field(
        description="green; yellow at 80% of the promised time; red when overdue"
    )
    paused: bool = Field(description="The clock is paused: a supplement is outstanding")
    paused_working_days: int = Field(description="Working days the clock has been paused")
    trips_over_allowance: bool = Field(description="More in-person trips than the service allows")
    reviews: list[ReviewOut]
    result: dict[str, Any] | None
    rating: RatingOut | None
    form: dict[str, Any]
    delivery: dict[str, Any]
    materials: list[MaterialStatus]
    trips: int
    created_at: datetime
    submitted_at: datetime | None
    timeline: list[TimelineOut]


class ApplicationSummary(BaseModel):
    id: str
    number: str
    service_code: str
    status: str
    due_on: date | None
    light: Literal["green", "yellow", "red"] | None
    created_at: datetime


class ApplicationList(Page[ApplicationSummary]):
    pass
