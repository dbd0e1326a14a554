"""The one place that decides which status may follow which, and who may move it.

draft → submitted → accepted → in_review → (supplement_required ⇄ in_review)
→ approved | rejected → completed, and withdrawn by the applicant before a decision.
"""

from __future__ import annotations

from enum import StrEnum

from backend.errors import AppError


class Status(StrEnum):
    DRAFT = "draft"
    SUBMITTED = "submitted"
    ACCEPTED = "accepted"
    IN_REVIEW = "in_review"
    SUPPLEMENT_REQUIRED = "supplement_required"
    APPROVED = "approved"
    REJECTED = "rejected"
    COMPLETED = "completed"
    WITHDRAWN = "withdrawn"


class Actor(StrEnum):
    APPLICANT = "applicant"
    DEPARTMENT = "department"
    SYSTEM = "system"


S, A = Status, Actor
TRANSITIONS: dict[tuple[Status, Status], frozenset[Actor]] = {
    (S.DRAFT, S.SUBMITTED): frozenset({A.APPLICANT}),
    (S.SUBMITTED, S.ACCEPTED): frozenset({A.DEPARTMENT}),
    (S.ACCEPTED, S.IN_REVIEW): frozenset({A.DEPARTMENT, A.SYSTEM}),
    (S.IN_REVIEW, S.SUPPLEMENT_REQUIRED): frozenset({A.DEPARTMENT}),
    (S.SUPPLEMENT_REQUIRED, S.IN_REVIEW): frozenset({A.APPLICANT}),
    # Decisions are the system's: it decides when every reviewing department has spoken.
    (S.IN_REVIEW, S.APPROVED): frozenset({A.SYSTEM}),
    (S.IN_REVIEW, S.REJECTED): frozenset({A.SYSTEM}),
    (S.APPROVED, S.COMPLETED): frozenset({A.DEPARTMENT}),
    (S.REJECTED, S.COMPLETED): frozenset({A.DEPARTMENT}),
    **{
        (before, S.WITHDRAWN): frozenset({A.APPLICANT})
        for before in (S.DRAFT, S.SUBMITTED, S.ACCEPTED, S.IN_REVIEW, S.SUPPLEMENT_REQUIRED)
    },
}
DECIDED = frozenset({S.APPROVED, S.REJECTED, S.COMPLETED, S.WITHDRAWN})


class IllegalTransition(AppError):
    status = 409
    code = "ILLEGAL_TRANSITION"
    title_zh = "当前状态下不能进行此操作"
    title_en = "Not allowed in the application's current status"


def check(current: Status, target: Status, actor: Actor) -> None:
    """Raise ``IllegalTransition`` unless ``actor`` may move ``current`` to ``target``."""
    allowed = TRANSITIONS.get((current, target))
    if allowed is None or actor not in allowed:
        raise IllegalTransition(
            f"{actor} cannot move an application from {current} to {target}",
            current_status=str(current),
            requested_status=str(target),
        )
