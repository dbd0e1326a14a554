from __future__ import annotations

import time
from typing import Annotated, Any, Protocol, cast

from fastapi import Depends, Header, Request

from backend.errors import ValidationFailed
from backend.gateway.service import Gateway
from backend.state import CoreState, lifespan_state, settings_of


class GatewayState(CoreState, Protocol):
    """What the gateway reads of the app's state (see backend/state.py)."""

    @property
    def gateway(self) -> Gateway: ...


def gateway_of(request: Request) -> Gateway:
    return cast(GatewayState, lifespan_state(request.app)).gateway


TIMEOUT_HEADER = "x-timeout-ms"
TIMEOUT_MS_MIN = 50
TIMEOUT_MS_MAX = 60_000
_TIMEOUT_DESCRIPTION = "The client's remaining time budget; the gateway never waits longer"

# The header as an OpenAPI parameter, for an operation whose parameters FastAPI does not
# parse (invoke: see invoke.py). The same object FastAPI generates from ``request_deadline``
# below, so clients see one X-Timeout-Ms wherever it is accepted.
TIMEOUT_HEADER_PARAMETER: dict[str, Any] = {
    "description": _TIMEOUT_DESCRIPTION,
    "in": "header",
    "name": TIMEOUT_HEADER,
    "required": False,
    "schema": {
        "anyOf": [
            {"maximum": TIMEOUT_MS_MAX, "minimum": TIMEOUT_MS_MIN, "type": "integer"},
            {"type": "null"},
        ],
        "description": _TIMEOUT_DESCRIPTION,
        "title": "X-Timeout-Ms",
    },
}


async def get_gateway(request: Request) -> Gateway:
    return gateway_of(request)


async def request_deadline(
    request: Request,
    x_timeout_ms: Annotated[
        int | None,
        Header(ge=TIMEOUT_MS_MIN, le=TIMEOUT_MS_MAX, description=_TIMEOUT_DESCRIPTION),
    ] = None,
) -> float:
    """The deadline as a dependency; the header is declared here for the OpenAPI document."""
    return deadline_from(request)


def deadline_from(request: Request) -> float:
    """The ``time.monotonic()`` by which the answer must be ready, propagated to departments.

    ``X-Timeout-Ms`` (the client's remaining budget) can only shorten the configured one.
    """
    budget = settings_of(request).invoke_timeout
    header = request.headers.get(TIMEOUT_HEADER)
    if header is not None:
        if not header.isdigit() or not TIMEOUT_MS_MIN <= int(header) <= TIMEOUT_MS_MAX:
            raise ValidationFailed(
                f"X-Timeout-Ms must be an integer from {TIMEOUT_MS_MIN} to {TIMEOUT_MS_MAX}"
            )
        budget = min(budget, int(header) / 1000)
    return time.monotonic() + budget


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
DeadlineDep = Annotated[float, Depends(request_deadline)]
