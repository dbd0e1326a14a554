from __future__ import annotations

import time
from typing import Annotated, Protocol, cast

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


async def get_gateway(request: Request) -> Gateway:
    return gateway_of(request)


async def request_deadline(
    request: Request,
    x_timeout_ms: Annotated[
        int | None,
        Header(
            ge=50,
            le=60_000,
            description="The client's remaining time budget; the gateway never waits longer",
        ),
    ] = None,
) -> float:
    """The deadline as a dependency; the header is declared here for the OpenAPI document."""
    return deadline_from(request)


def deadline_from(request: Request) -> float:
    """The ``time.monotonic()`` by which the answer must be ready, propagated to departments.

    ``X-Timeout-Ms`` (the client's remaining budget) can only shorten the configured one.
    """
    budget = settings_of(request).invoke_timeout
    header = request.headers.get("x-timeout-ms")
    if header is not None:
        if not header.isdigit() or not 50 <= int(header) <= 60_000:
            raise ValidationFailed("X-Timeout-Ms must be an integer from 50 to 60000")
        budget = min(budget, int(header) / 1000)
    return time.monotonic() + budget


GatewayDep = Annotated[Gateway, Depends(get_gateway)]
DeadlineDep = Annotated[float, Depends(request_deadline)]
