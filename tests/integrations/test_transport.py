"""The aiohttp transport's limits, against a real local HTTP server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from aiohttp import web

from integrations.transport import AiohttpTransport, OutgoingRequest, TransportError

BIG = b"x" * (300 * 1024)


async def _declared(_: web.Request) -> web.Response:
    return web.Response(body=BIG, content_type="application/json")


async def _chunked(request: web.Request) -> web.StreamResponse:
    # No Content-Length: the cap must be enforced while reading.
    response = web.StreamResponse(headers={"Content-Type": "application/json"})
    response.enable_chunked_encoding()
    await response.prepare(request)
    for _ in range(10):
        await response.write(b"y" * (64 * 1024))
    await response.write_eof()
    return response


async def _redirect(_: web.Request) -> web.Response:
    raise web.HTTPFound("http://169.254.169.254/latest/meta-data/")


@pytest.fixture
async def server() -> AsyncIterator[str]:
    app = web.Application()
    app.router.add_get("/declared", _declared)
    app.router.add_get("/chunked", _chunked)
    app.router.add_get("/redirect", _redirect)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield f"http://127.0.0.1:{port}"
    await runner.cleanup()


@pytest.mark.parametrize("path", ["/declared", "/chunked"])
async def test_replies_over_the_size_cap_are_cut_off(server: str, path: str) -> None:
    transport = AiohttpTransport()
    try:
        with pytest.raises(TransportError) as refused:
            await transport.send(
                OutgoingRequest("GET", server + path), timeout=5, max_bytes=256 * 1024
            )
        assert refused.value.kind == "too_large"
        fits = await transport.send(
            OutgoingRequest("GET", server + path), timeout=5, max_bytes=1024 * 1024
        )
        assert len(fits.body) in (len(BIG), 640 * 1024)
    finally:
        await transport.aclose()


async def test_redirects_are_not_followed(server: str) -> None:
    transport = AiohttpTransport()
    try:
        response = await transport.send(
            OutgoingRequest("GET", server + "/redirect"), timeout=5, max_bytes=1024
        )
        assert response.status == 302
        assert response.headers["location"].startswith("http://169.254.169.254")
    finally:
        await transport.aclose()


async def test_connection_refused_is_a_connect_error() -> None:
    transport = AiohttpTransport()
    try:
        with pytest.raises(TransportError) as refused:
            await transport.send(
                OutgoingRequest("GET", "http://127.0.0.1:9/"), timeout=2, max_bytes=1
            )
        assert refused.value.kind == "connect"
    finally:
        await transport.aclose()
