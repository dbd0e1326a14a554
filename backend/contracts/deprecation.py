"""Announcing that an operation is going away: ``Deprecation`` and ``Sunset`` headers.

Installed apps can't be updated on our schedule, so a removal is announced on every
response of the operation for months first (README, "Versioning"): ``Deprecation``
(RFC 9745: ``@`` and the Unix time it was deprecated), ``Sunset`` (RFC 8594: the HTTP
date after which it may stop working) and a ``Link`` to what replaces it. The route is
marked ``deprecated`` in the OpenAPI document too, which the client teams' types show.

    @router.get("/v1/old", deprecated=True,
                dependencies=[deprecated_since(date(2027, 1, 4), sunset=date(2027, 7, 5),
                                               successor="/v1/new")])
"""

from __future__ import annotations

from datetime import UTC, date, datetime
from email.utils import format_datetime
from typing import Any

from fastapi import Depends, Response


def deprecated_since(since: date, *, sunset: date, successor: str | None = None) -> Any:
    """A route dependency that adds the three headers to every answer of the route."""
    if sunset <= since:
        raise ValueError("the sunset must come after the deprecation")
    deprecation = f"@{int(datetime(since.year, since.month, since.day, tzinfo=UTC).timestamp())}"
    sunset_at = format_datetime(
        datetime(sunset.year, sunset.month, sunset.day, tzinfo=UTC), usegmt=True
    )

    async def announce(response: Response) -> None:
        response.headers["Deprecation"] = deprecation
        response.headers["Sunset"] = sunset_at
        if successor is not None:
            response.headers["Link"] = f'<{successor}>; rel="successor-version"'

    return Depends(announce)
