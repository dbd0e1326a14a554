"""Sandbox servers on ephemeral loopback ports, talked to over real HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator

import aiohttp
import pytest

from integrations.sandbox import DEPARTMENTS, AsyncSandbox, start_sandbox


@pytest.fixture
async def sandbox() -> AsyncIterator[AsyncSandbox]:
    servers = await start_sandbox(dict.fromkeys(DEPARTMENTS, 0))
    yield servers
    await servers.stop()


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(timeout=aiohttp.ClientTimeout(total=10)) as session:
        yield session
