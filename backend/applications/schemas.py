"""Request and response bodies of applications."""

from __future__ import annotations

from datetime import date, datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator


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
    form: dict[str, Any] | None = Field(default=None, description="The corrected form, whole")
    materials: list[MaterialRef] = Field(default_factory=list, max_length=30)
    note: str | None = Field(default=None, max_length=500)


class RatingCreate(_Body):
    score: int = Field(ge=1, le=5, description="1 非常不满意 … 5 非常满意")
    comment: str | None = Field(default=None, max_length=500)


class RatingOut(BaseModel):
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


class ApplicationOut(BaseModel):
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


class ApplicationList(BaseModel):
    items: list[ApplicationSummary]
