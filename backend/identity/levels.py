"""Assurance levels: what a caller has proved about themselves, and the rule that checks it."""

from __future__ import annotations

from backend.identity.exceptions import AssuranceLevelTooLow
from integrations.base import Caller

LEVEL_NAMES = {0: "匿名", 1: "L1 手机号验证", 2: "L2 实名认证", 3: "L3 人脸认证"}


def require_level(caller: Caller, needed: int) -> None:
    """Refuse (403 ``ASSURANCE_LEVEL_TOO_LOW``) a caller below level ``needed``."""
    if caller.assurance_level < needed:
        raise AssuranceLevelTooLow(
            f"This service needs assurance level L{needed} ({LEVEL_NAMES[needed]}); "
            f"the caller has L{caller.assurance_level}",
            required_level=needed,
            current_level=caller.assurance_level,
        )
