"""What a query-only department said, and the one step it moves the platform (see poller.py).

Pure: no I/O, so every combination of the platform's state and the department's answer is
tested without a department.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from backend.applications.state_machine import Status

# --- the department's answer -----------------------------------------------------------


class _Answer(BaseModel):
    # Unknown keys are the adapter's business; missing optional ones are null.
    model_config = ConfigDict(extra="ignore", frozen=True)


class Visit(_Answer):
    at: str | None = None
    reason: Annotated[str, Field(min_length=1, max_length=200)]


class DepartmentCase(_Answer):
    """What ``application_status`` said, checked before it may change anything."""

    number: str
    state: Literal["received", "reviewing", "need_more", "approved", "rejected", "done"]
    opinion: Annotated[str, Field(min_length=1, max_length=1000)] | None = None
    missing: list[Annotated[str, Field(min_length=1, max_length=100)]] | None = Field(
        default=None, max_length=20
    )
    supplement_rounds: Annotated[int, Field(ge=0)] | None = None
    licence_no: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    tracking_number: Annotated[str, Field(min_length=1, max_length=64)] | None = None
    trips: list[Visit] | None = Field(default=None, max_length=20)

    @model_validator(mode="after")
    def _coherent(self) -> DepartmentCase:
        if self.state == "need_more" and not self.missing:
            raise ValueError("need_more without the missing material")
        return self

    @property
    def rounds(self) -> int:
        """Requests for material so far; asking now is at least the first."""
        return max(self.supplement_rounds or 0, int(self.state == "need_more"))

    @property
    def visits(self) -> list[Visit]:
        return self.trips or []

    def result(self) -> dict[str, Any]:
        """What completion hands the citizen, in the provider API's ``Completion`` shape."""
        handed = {"licence_no": self.licence_no, "tracking_number": self.tracking_number}
        result = {k: v for k, v in handed.items() if v}
        return result or {"note": self.opinion or "已办结"}


# --- deciding the next step ----------------------------------------------------------


class Step(StrEnum):
    ACCEPT = "accept"
    TRIP = "trip"
    SUPPLEMENT = "supplement"
    APPROVE = "approve"
    REJECT = "reject"
    COMPLETE = "complete"


@dataclass(frozen=True)
class Progress:
    """The platform's side of an application, as far as a department's answer can move it."""

    status: Status
    review_pending: bool  # the owning department has not given its review yet
    supplements_asked: int  # times the owning department asked for material
    trips: int


def next_step(progress: Progress, case: DepartmentCase) -> Step | None:
    """The one change that brings the platform closer to the department, or None."""
    if progress.status == Status.SUBMITTED:
        return Step.ACCEPT  # whatever state the department is in, it has the case
    if len(case.visits) > progress.trips:
        return Step.TRIP
    in_review = progress.status == Status.IN_REVIEW
    deciding = in_review and progress.review_pending
    if case.state == "need_more" and in_review and case.rounds > progress.supplements_asked:
        return Step.SUPPLEMENT
    if case.state in ("approved", "done") and deciding:
        return Step.APPROVE
    if case.state == "rejected" and deciding:
        return Step.REJECT
    if case.state == "done" and progress.status == Status.APPROVED:
        return Step.COMPLETE
    return None
