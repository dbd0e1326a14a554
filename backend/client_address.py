"""The client's address: the peer's, unless the peer is a proxy we were told to trust.

``X-Forwarded-For`` is whatever the sender wrote. Believing it from any peer (uvicorn's own
``--proxy-headers`` believes 127.0.0.1 by default) let a caller pick a fresh address per
request and walk past every per-address rate limit. Here only the peers in
``HEFEITONG_TRUSTED_PROXIES`` (addresses or CIDRs; none by default) have their forwarded
headers read, by uvicorn's ``ProxyHeadersMiddleware`` inside the app, which takes the
right-most address a trusted proxy did not add (the one the first trusted proxy saw) and
``X-Forwarded-Proto`` for the scheme. The servers we start run with uvicorn's own proxy
handling off (``hefeitong serve``, the Dockerfile), so this is the only place it happens.

Everything that needs the address (rate limits, logs) asks ``client_ip``.
"""

from __future__ import annotations

from typing import Any, cast

from starlette.requests import HTTPConnection
from starlette.types import ASGIApp, Receive, Scope, Send
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

UNKNOWN = "unknown"


class TrustedProxies:
    """uvicorn's proxy-header handling, for the configured proxies only."""

    def __init__(self, app: ASGIApp, *, trusted: list[str]) -> None:
        self.app = app
        # uvicorn types ASGI apps with its own TypedDicts, Starlette with plain mappings.
        self._proxy_headers: Any = ProxyHeadersMiddleware(
            cast(Any, app), trusted_hosts=list(trusted)
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._proxy_headers(scope, receive, send)


def client_ip(connection: HTTPConnection) -> str:
    """The address rate limits and logs count a request against (see the module's note)."""
    client = connection.client
    return client.host if client and client.host else UNKNOWN
