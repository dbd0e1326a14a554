"""A deprecated operation says so on every answer, and in the OpenAPI document."""

from __future__ import annotations

from datetime import date

import httpx
import pytest
from fastapi import FastAPI

from backend.contracts.deprecation import deprecated_since


def _app() -> FastAPI:
    app = FastAPI()

    @app.get(
        "/v1/old",
        deprecated=True,
        dependencies=[
            deprecated_since(date(2027, 1, 4), sunset=date(2027, 7, 5), successor="/v1/new")
        ],
    )
    async def old() -> dict[str, str]:
        return {"still": "works"}

    return app


async def test_every_answer_carries_the_deprecation_and_the_sunset() -> None:
    app = _app()
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://test"
    ) as client:
        answer = await client.get("/v1/old")
    assert answer.status_code == 200 and answer.json() == {"still": "works"}
    assert answer.headers["Deprecation"] == "@1799020800"  # 2027-01-04T00:00:00Z
    assert answer.headers["Sunset"] == "Mon, 05 Jul 2027 00:00:00 GMT"
    assert answer.headers["Link"] == '</v1/new>; rel="successor-version"'
    assert app.openapi()["paths"]["/v1/old"]["get"]["deprecated"] is True


def test_a_sunset_before_the_deprecation_is_a_mistake() -> None:
    with pytest.raises(ValueError):
        deprecated_since(date(2027, 7, 5), sunset=date(2027, 1, 4))
