"""Unified identity: citizens, sign-in, tokens, assurance levels, enterprises, client systems.

What other features may use; everything else in this package is identity's own
(import-linter's "identity internals" contract in pyproject.toml keeps it so).
"""

from backend.identity.auth import CurrentCitizen, IdentityDep, SignedIn
from backend.identity.clients import create_client, rotate_secret_of
from backend.identity.dependencies import CurrentCaller, current_caller, optional_caller_from
from backend.identity.enterprises import EnterpriseNotLinked, link_for, may_act_for
from backend.identity.exceptions import AssuranceLevelTooLow, AuthenticationRequired, InvalidToken
from backend.identity.levels import require_level
from backend.identity.notices import CitizenNotices, Notice
from backend.identity.provider_auth import (
    ClientToken,
    CurrentAdmin,
    CurrentDepartment,
    NotAnAdministrator,
    client_claims,
)
from backend.identity.service import Identity

__all__ = [
    "AssuranceLevelTooLow",
    "AuthenticationRequired",
    "CitizenNotices",
    "ClientToken",
    "CurrentAdmin",
    "CurrentCaller",
    "CurrentCitizen",
    "CurrentDepartment",
    "EnterpriseNotLinked",
    "Identity",
    "IdentityDep",
    "InvalidToken",
    "NotAnAdministrator",
    "Notice",
    "SignedIn",
    "client_claims",
    "create_client",
    "current_caller",
    "link_for",
    "may_act_for",
    "optional_caller_from",
    "require_level",
    "rotate_secret_of",
]
