"""Sending one HTTP request to a department, with limits every call must respect.

The gateway's speed is decided here (see DESIGN.md: httpx's default transport is
7–10× slower than aiohttp's client under concurrency), so the production transport
is aiohttp. ``HttpxTransport`` exists for unit tests of one adapter's mapping with
``httpx.MockTransport`` and for measuring the two side by side.

Both transports: no redirects followed, a total timeout per attempt, and a cap on
the response size that stops reading as soon as it is exceeded.
"""

from __future__ import annotations

import asyncio
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Protocol

import aiohttp
import httpx

from integrations.ssrf import GuardedResolver, HostGuardMiddleware, HostPolicy


@dataclass(frozen=True)
class OutgoingRequest:
    method: str
    url: str
    headers: dict[str, str] = field(default_factory=dict)
    body: bytes | None = None


@dataclass(frozen=True)
class IncomingResponse:
    status: int
    headers: dict[str, str]  # lower-case names; the aiohttp transport keeps only a few
    body: bytes

    @property
    def content_type(self) -> str:
        return self.headers.get("content-type", "").split(";")[0].strip().lower()

    @property
    def charset(self) -> str | None:
        for part in self.headers.get("content-type", "").split(";")[1:]:
            key, _, value = part.strip().partition("=")
            if key.lower() == "charset" and value:
                return value.strip().strip('"').lower()
        return None


class TransportError(Exception):
    """kind: ``timeout``, ``connect``, ``too_large`` or ``protocol``."""

    def __init__(self, kind: str, message: str) -> None:
        super().__init__(message)
        self.kind = kind


class Transport(Protocol):
    async def send(
        self, request: OutgoingRequest, *, timeout: float, max_bytes: int
    ) -> IncomingResponse: ...

    async def aclose(self) -> None: ...


class AiohttpTransport:
    """One pooled aiohttp session per worker, created on first use inside the running loop.

    With a ``policy`` (hosts chosen by a provider), every call is checked against it at
    connect time: see ``integrations.ssrf``. Without one nothing is added to the path.
    """

    def __init__(
        self,
        *,
        max_connections: int = 200,
        max_per_host: int = 100,
        policy: HostPolicy | None = None,
    ) -> None:
        self._max_connections = max_connections
        self._max_per_host = max_per_host
        self._policy = policy
        self._session: aiohttp.ClientSession | None = None

    def _get_session(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            connector = aiohttp.TCPConnector(
                limit=self._max_connections,
                limit_per_host=self._max_per_host,
                ttl_dns_cache=60,
                enable_cleanup_closed=True,
                resolver=None if self._policy is None else GuardedResolver(self._policy),
            )
            self._session = aiohttp.ClientSession(
                connector=connector,
                auto_decompress=True,
                # Cookies from one citizen's call must never ride along on another's.
                cookie_jar=aiohttp.DummyCookieJar(),
                skip_auto_headers=("User-Agent",),
                headers={"User-Agent": "hefeitong-gateway/1"},
                middlewares=() if self._policy is None else (HostGuardMiddleware(self._policy),),
            )
        return self._session

    async def send(
        self, request: OutgoingRequest, *, timeout: float, max_bytes: int
    ) -> IncomingResponse:
        session = self._get_session()
        try:
            async with session.request(
                request.method,
                request.url,
                headers=request.headers,
                data=request.body,
                allow_redirects=False,
                timeout=aiohttp.ClientTimeout(total=timeout),
            ) as response:
                length = response.content_length
                if length is not None and length > max_bytes:
                    raise TransportError("too_large", f"declared {length}")
                if length is not None:
                    body = await response.read()  # bounded by the declared length just checked
                else:
                    body = await _read_capped(response.content, max_bytes)
                return IncomingResponse(response.status, _wanted_headers(response.headers), body)
        except TimeoutError as exc:
            raise TransportError("timeout", f"no answer within {timeout:.3f}s") from exc
        except aiohttp.ClientConnectionError as exc:
            kind = "protocol" if isinstance(exc, aiohttp.ServerDisconnectedError) else "connect"
            raise TransportError(kind, type(exc).__name__) from exc
        except aiohttp.ClientError as exc:
            raise TransportError("protocol", type(exc).__name__) from exc

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()


# The reply headers adapters look at; copying all of them costs on every call.
_WANTED = ("content-type", "retry-after", "location")


def _wanted_headers(headers: Mapping[str, str]) -> dict[str, str]:
    return {name: headers[name] for name in _WANTED if name in headers}


async def _read_capped(stream: aiohttp.StreamReader, max_bytes: int) -> bytes:
    chunks: list[bytes] = []
    size = 0
    async for chunk in stream.iter_chunked(64 * 1024):
        size += len(chunk)
        if size > max_bytes:
            raise TransportError("too_large", f"more than {max_bytes} bytes")
        chunks.append(chunk)
    return b"".join(chunks)


class HttpxTransport:
    """httpx-based transport: for MockTransport unit tests and the transport benchmark."""

    def __init__(self, client: httpx.AsyncClient | None = None) -> None:
        self._client = client or httpx.AsyncClient(follow_redirects=False)

    async def send(
        self, request: OutgoingRequest, *, timeout: float, max_bytes: int
    ) -> IncomingResponse:
        try:
            async with asyncio.timeout(timeout):
                async with self._client.stream(
                    request.method,
                    request.url,
                    headers=request.headers,
                    content=request.body,
                    follow_redirects=False,
                ) as response:
                    chunks: list[bytes] = []
                    size = 0
                    async for chunk in response.aiter_bytes():
                        size += len(chunk)
                        if size > max_bytes:
                            raise TransportError("too_large", f"more than {max_bytes} bytes")
                        chunks.append(chunk)
                    headers = {k.lower(): v for k, v in response.headers.items()}
                    return IncomingResponse(response.status_code, headers, b"".join(chunks))
        except TimeoutError as exc:
            raise TransportError("timeout", f"no answer within {timeout:.3f}s") from exc
        except httpx.ConnectError as exc:
            raise TransportError("connect", type(exc).__name__) from exc
        except httpx.HTTPError as exc:
            raise TransportError("protocol", type(exc).__name__) from exc

    async def aclose(self) -> None:
        await self._client.aclose()
