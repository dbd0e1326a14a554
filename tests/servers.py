"""Apps behind real HTTP servers, for what the in-memory ASGI transport can't show
(streams, other processes, tools that speak HTTP)."""

from __future__ import annotations

import asyncio
import socket
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Literal

import httpx
import uvicorn
from fastapi import FastAPI
from starlette.types import ASGIApp

from backend.app import create_app
from backend.settings import Settings


def free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@asynccontextmanager
async def listening(app: ASGIApp, *, lifespan: Literal["on", "off"] = "on") -> AsyncIterator[str]:
    """An ASGI app behind a real uvicorn server on a free port; yields its base URL.

    ``lifespan="off"`` serves an app that is already running (the tests' shared app) without
    starting it a second time.
    """
    port = free_port()
    server = uvicorn.Server(uvicorn.Config(app, port=port, log_level="warning", lifespan=lifespan))
    task = asyncio.create_task(server.serve())
    while not server.started:
        if task.done():
            task.result()
        await asyncio.sleep(0.05)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        await task


@asynccontextmanager
async def serving(settings: Settings) -> AsyncIterator[tuple[FastAPI, httpx.AsyncClient]]:
    """A new app instance behind a real uvicorn server, and a client of it."""
    app = create_app(settings)
    async with listening(app) as url, httpx.AsyncClient(base_url=url, timeout=15) as client:
        yield app, client
