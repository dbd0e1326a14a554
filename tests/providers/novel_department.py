"""A department system the codebase has never seen, in a dialect of its own, for tests.

合肥供水集团 (the water utility) answers bill queries at
``GET /openapi/v3/water/bill?acct=…`` behind an ``X-Water-Key`` header, wrapping every
answer in ``{"ret": "0", "msg": …, "payload": …}`` with amounts as strings in fen.
``/jump`` answers a redirect into the cloud metadata address, as a compromised or
misconfigured system might.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass, field

from aiohttp import web
from aiohttp.typedefs import Handler

API_KEY = "water-key-2026"


@dataclass
class WaterUtility:
    url: str
    seen: list[str] = field(default_factory=list)


async def _bill(request: web.Request) -> web.Response:
    if request.headers.get("X-Water-Key") != API_KEY:
        return web.json_response({"ret": "401", "msg": "key invalid"}, status=401)
    account = request.query.get("acct", "")
    if account != "W1001":  # the one household this utility has
        return web.json_response({"ret": "1404", "msg": "户号不存在"})
    return web.json_response(
        {
            "ret": "0",
            "msg": "成功",
            "payload": {"acctNo": account, "owedFen": "1250", "period": "2026-10",
                        "dueDate": "2026-11-30"},
        }
    )  # fmt: skip


async def _jump(_: web.Request) -> web.Response:
    raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")


@asynccontextmanager
async def water_utility() -> AsyncIterator[WaterUtility]:
    utility: WaterUtility | None = None

    @web.middleware
    async def record(request: web.Request, handler: Handler) -> web.StreamResponse:
        assert utility is not None
        utility.seen.append(request.path)
        return await handler(request)

    app = web.Application(middlewares=[record])
    app.router.add_get("/openapi/v3/water/bill", _bill)
    app.router.add_get("/jump", _jump)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    utility = WaterUtility(url=f"http://127.0.0.1:{port}")
    try:
        yield utility
    finally:
        await runner.cleanup()
