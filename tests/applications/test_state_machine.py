"""The state machine allows exactly the documented transitions, each to its actors."""

from __future__ import annotations

import itertools

import pytest

from backend.applications.state_machine import (
    TRANSITIONS,
    Actor,
    IllegalTransition,
    Status,
    check,
)

S, A = Status, Actor
ALLOWED = {
    (S.DRAFT, S.SUBMITTED, A.APPLICANT),
    (S.SUBMITTED, S.ACCEPTED, A.DEPARTMENT),
    (S.ACCEPTED, S.IN_REVIEW, A.DEPARTMENT),
    (S.ACCEPTED, S.IN_REVIEW, A.SYSTEM),
    (S.IN_REVIEW, S.SUPPLEMENT_REQUIRED, A.DEPARTMENT),
    (S.SUPPLEMENT_REQUIRED, S.IN_REVIEW, A.APPLICANT),
    (S.IN_REVIEW, S.APPROVED, A.SYSTEM),
    (S.IN_REVIEW, S.REJECTED, A.SYSTEM),
    (S.APPROVED, S.COMPLETED, A.DEPARTMENT),
    (S.REJECTED, S.COMPLETED, A.DEPARTMENT),
    *((before, S.WITHDRAWN, A.APPLICANT) for before in
      (S.DRAFT, S.SUBMITTED, S.ACCEPTED, S.IN_REVIEW, S.SUPPLEMENT_REQUIRED)),
}  # fmt: skip


@pytest.mark.parametrize(
    ("current", "target", "actor"), list(itertools.product(Status, Status, Actor))
)
def test_every_transition(current: Status, target: Status, actor: Actor) -> None:
    if (current, target, actor) in ALLOWED:
        check(current, target, actor)
    else:
        with pytest.raises(IllegalTransition) as refused:
            check(current, target, actor)
        assert refused.value.code == "ILLEGAL_TRANSITION" and refused.value.status == 409


def test_no_withdrawal_after_a_decision() -> None:
    for decided in (S.APPROVED, S.REJECTED, S.COMPLETED, S.WITHDRAWN):
        assert (decided, S.WITHDRAWN) not in TRANSITIONS
