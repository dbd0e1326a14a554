"""How an adapter proves itself to a department: none, API key, signed parameters, OAuth2."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import hmac
import json
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol
from urllib.parse import urlencode

from integrations.transport import OutgoingRequest, Transport, TransportError


@dataclass
class PreparedCall:
    """A request before encoding, so auth can add headers, query or body fields."""

    method: str
    path: str
    query: dict[str, Any] = field(default_factory=dict)
    headers: dict[str, str] = field(default_factory=dict)
    body_fields: dict[str, Any] | None = None
    body_text: str | None = None


class AuthFailed(Exception):
    """Our credentials were refused or the token endpoint failed (an operational problem)."""


class AuthScheme(Protocol):
    async def apply(self, call: PreparedCall, transport: Transport, timeout: float) -> None: ...

    def invalidate(self) -> None:
        """Forget cached credentials after the department refused them (401)."""


class NoAuth:
    async def apply(self, call: PreparedCall, transport: Transport, timeout: float) -> None:
        return None

    def invalidate(self) -> None:
        return None


@dataclass
class ApiKeyAuth:
    value: str
    header: str = "X-Api-Key"

    async def apply(self, call: PreparedCall, transport: Transport, timeout: float) -> None:
        call.headers[self.header] = self.value

    def invalidate(self) -> None:
        return None


def _sign_value(value: Any) -> str:
    return (
        value
        if isinstance(value, str)
        else json.dumps(value, ensure_ascii=False, separators=(",", ":"))
    )


def hmac_signature(params: Mapping[str, Any], secret: str, *, sign_param: str = "sign") -> str:
    """The usual Chinese open-platform signature.

    Every parameter but the signature, sorted by name, as ``k=v`` joined by ``&``,
    then ``&key=<secret>``; HMAC-SHA256 keyed with the secret, upper-case hex.
    Non-string values are signed as compact JSON, the way they are sent.
    """
    canonical = "&".join(f"{k}={_sign_value(params[k])}" for k in sorted(params) if k != sign_param)
    canonical += f"&key={secret}"
    return hmac.new(secret.encode(), canonical.encode(), hashlib.sha256).hexdigest().upper()


@dataclass
class HmacSignAuth:
    app_id: str
    secret: str
    app_id_param: str = "app_id"
    timestamp_param: str = "timestamp"
    nonce_param: str = "nonce"
    sign_param: str = "sign"

    async def apply(self, call: PreparedCall, transport: Transport, timeout: float) -> None:
        # Parameters travel in the query for reads and in the body for writes.
        target = call.body_fields if call.body_fields is not None else call.query
        target[self.app_id_param] = self.app_id
        target[self.timestamp_param] = str(int(time.time()))
        target[self.nonce_param] = secrets.token_hex(8)
        target[self.sign_param] = hmac_signature(target, self.secret, sign_param=self.sign_param)

    def invalidate(self) -> None:
        return None


@dataclass
class OAuth2ClientCredentials:
    """Client-credentials tokens, cached until shortly before they expire."""

    token_url: str
    client_id: str
    client_secret: str
    scope: str | None = None
    use_basic_auth: bool = False
    refresh_margin: float = 30.0
    _token: str | None = field(default=None, init=False, repr=False)
    _expires_at: float = field(default=0.0, init=False, repr=False)
    _lock: asyncio.Lock = field(default_factory=asyncio.Lock, init=False, repr=False)

    async def apply(self, call: PreparedCall, transport: Transport, timeout: float) -> None:
        call.headers["Authorization"] = f"Bearer {await self._current(transport, timeout)}"

    def invalidate(self) -> None:
        self._token = None

    async def _current(self, transport: Transport, timeout: float) -> str:
        if self._token and time.monotonic() < self._expires_at:
            return self._token
        async with self._lock:  # one token request at a time, not one per waiting call
            if self._token and time.monotonic() < self._expires_at:
                return self._token
            self._token, lifetime = await self._fetch(transport, timeout)
            self._expires_at = time.monotonic() + max(0.0, lifetime - self.refresh_margin)
            return self._token

    async def _fetch(self, transport: Transport, timeout: float) -> tuple[str, float]:
        form: dict[str, str] = {"grant_type": "client_credentials"}
        headers = {
            "Content-Type": "application/x-www-form-urlencoded",
            "Accept": "application/json",
        }
        if self.use_basic_auth:
            pair = f"{self.client_id}:{self.client_secret}".encode()
            headers["Authorization"] = "Basic " + base64.b64encode(pair).decode()
        else:
            form |= {"client_id": self.client_id, "client_secret": self.client_secret}
        if self.scope:
            form["scope"] = self.scope
        request = OutgoingRequest("POST", self.token_url, headers, urlencode(form).encode())
        try:
            response = await transport.send(request, timeout=timeout, max_bytes=64 * 1024)
        except TransportError as exc:
            raise AuthFailed(f"token endpoint: {exc.kind}") from exc
        if response.status != 200:
            raise AuthFailed(f"token endpoint answered {response.status}")
        try:
            data = json.loads(response.body)
            token = str(data["access_token"])
            lifetime = float(data.get("expires_in", 300))
        except (ValueError, KeyError, TypeError) as exc:
            raise AuthFailed("token endpoint reply is not a token") from exc
        return token, lifetime


def build_auth(config: Mapping[str, Any]) -> AuthScheme:
    scheme = config.get("scheme", "none")
    if scheme == "none":
        return NoAuth()
    if scheme == "api_key":
        return ApiKeyAuth(value=config["value"], header=config.get("header", "X-Api-Key"))
    if scheme == "hmac_sign":
        return HmacSignAuth(
            app_id=config["app_id"],
            secret=config["secret"],
            app_id_param=config.get("app_id_param", "app_id"),
            timestamp_param=config.get("timestamp_param", "timestamp"),
            nonce_param=config.get("nonce_param", "nonce"),
            sign_param=config.get("sign_param", "sign"),
        )
    if scheme == "oauth2_client_credentials":
        return OAuth2ClientCredentials(
            token_url=config["token_url"],
            client_id=config["client_id"],
            client_secret=config["client_secret"],
            scope=config.get("scope"),
            use_basic_auth=config.get("client_auth") == "basic",
        )
    raise ValueError(f"unknown auth scheme {scheme!r}")
