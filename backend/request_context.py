"""The id of the request being served, visible to logs and error bodies alike."""

from __future__ import annotations

import os
import re
from contextvars import ContextVar

_request_id: ContextVar[str | None] = ContextVar("request_id", default=None)

# A client-supplied id is echoed only if it cannot smuggle anything into logs or headers.
_WELL_FORMED = re.compile(r"^[A-Za-z0-9._:-]{8,128}$")


def current_request_id() -> str | None:
    return _request_id.get()


def accept_or_new_request_id(candidate: str | None) -> str:
    if candidate and _WELL_FORMED.match(candidate):
        return candidate
    return os.urandom(16).hex()  # as unique as a UUID4, without building a UUID object


def set_request_id(request_id: str | None) -> object:
    return _request_id.set(request_id)


def reset_request_id(token: object) -> None:
    _request_id.reset(token)  # type: ignore[arg-type]
