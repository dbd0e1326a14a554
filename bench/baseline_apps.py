"""The baselines the gateway is measured against, run with uvicorn like the real app.

    uvicorn bench.baseline_apps:proxy     # minimal FastAPI proxy using aiohttp's client
    uvicorn bench.baseline_apps:constant  # FastAPI endpoint returning a constant small JSON

UPSTREAM_URL (env) is where the proxy forwards to.
"""

from __future__ import annotations

import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager

import aiohttp
from fastapi import FastAPI, Request, Response

UPSTREAM_URL = os.environ.get("UPSTREAM_URL", "http://127.0.0.1:18999/api/v2/appointments")


@asynccontextmanager
async def _session(app: FastAPI) -> AsyncIterator[None]:
    app.state.session = aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=200))
    yield
    await app.state.session.close()


proxy = FastAPI(lifespan=_session)


@proxy.post("/proxy")
async def forward(request: Request) -> Response:
    body = await request.body()
    async with request.app.state.session.post(
        UPSTREAM_URL, data=body, headers={"Content-Type": "application/json"}
    ) as upstream:
        content = await upstream.read()
    return Response(content, media_type="application/json")


constant = FastAPI()


@constant.get("/constant")
async def constant_json() -> dict[str, object]:
    return {"balance": "12345.67", "status": "正常缴存", "ok": True}
