"""Fault injection, request statistics and the admin API shared by every sandbox server.

Admin routes live under ``/__sandbox/``; they need no department auth, are never
faulted and are not counted in the statistics.

Error-rate determinism: with ``error_rate`` r and no ``seed``, the n-th request
that matches the fault's ``path`` (counted from the last PUT) fails exactly when
``floor(n·r) > floor((n-1)·r)``. So r=0.5 fails requests 2, 4, 6…, r=0.25 fails
4, 8…, r=1 fails all, and after n requests exactly floor(n·r) have failed. With a
``seed`` the choice is ``random.Random(seed).random() < r`` per matching request:
reproducible but irregular.
"""

from __future__ import annotations

import asyncio
import json
import math
import random
from collections import Counter
from dataclasses import asdict, dataclass, field
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler

ADMIN_PREFIX = "/__sandbox/"
FAULT_HEADER = "X-Sandbox-Fault"
HANG_SECONDS = 3600.0
_BOOL_KEYS = ("hang", "malformed", "wrong_charset")


@dataclass
class FaultConfig:
    latency_ms: int = 0
    error_rate: float = 0.0
    status: int = 503
    hang: bool = False
    malformed: bool = False
    redirect: str | None = None
    wrong_charset: bool = False
    path: str = "/"
    seed: int | None = None
    matched: int = field(default=0, compare=False)  # requests this config has seen
    _rng: random.Random | None = field(default=None, repr=False, compare=False)

    def public(self) -> dict[str, Any]:
        shown = asdict(self)
        shown.pop("_rng")
        return shown

    def next_is_error(self) -> bool:
        self.matched += 1
        if self.error_rate <= 0:
            return False
        if self.seed is not None:
            self._rng = self._rng or random.Random(self.seed)
            return self._rng.random() < self.error_rate
        n, r = self.matched, self.error_rate
        return math.floor(n * r + 1e-9) > math.floor((n - 1) * r + 1e-9)


@dataclass
class SandboxState:
    """Per-server mutable state: current faults and request counters."""

    department: str
    faults: FaultConfig | None = None
    requests: Counter[str] = field(default_factory=Counter)
    counters: Counter[str] = field(default_factory=Counter)
    # Requests being answered right now, and the most at once since the stats were cleared:
    # what a department sees of a caller's concurrency limit.
    in_flight: int = 0
    max_in_flight: int = 0


STATE = web.AppKey("sandbox_state", SandboxState)


@dataclass
class _Effective:
    latency_ms: int = 0
    error_status: int | None = None
    hang: bool = False
    malformed: bool = False
    redirect: str | None = None
    wrong_charset: bool = False


def parse_fault_header(value: str) -> _Effective:
    """Parse ``latency=200;error=503;hang;malformed;redirect=http://x;wrong_charset``."""
    result = _Effective()
    for part in value.split(";"):
        name, _, arg = part.strip().partition("=")
        name = name.strip().lower()
        if name in ("latency", "error") and not (arg or "0").strip().isdigit():
            continue  # a typo in a test header should not turn into a 500
        if name == "latency":
            result.latency_ms = int(arg or 0)
        elif name == "error":
            result.error_status = int(arg or 503)
        elif name == "redirect":
            result.redirect = arg.strip()
        elif name in _BOOL_KEYS:
            setattr(result, name, True)
    return result


def _effective(request: web.Request, state: SandboxState) -> _Effective:
    result = _Effective()
    config = state.faults
    if config is not None and request.path.startswith(config.path):
        result = _Effective(
            latency_ms=config.latency_ms,
            error_status=config.status if config.next_is_error() else None,
            hang=config.hang,
            malformed=config.malformed,
            redirect=config.redirect,
            wrong_charset=config.wrong_charset,
        )
    header = request.headers.get(FAULT_HEADER)
    if header:
        extra = parse_fault_header(header)
        result.latency_ms = extra.latency_ms or result.latency_ms
        result.error_status = extra.error_status or result.error_status
        result.redirect = extra.redirect or result.redirect
        for name in _BOOL_KEYS:
            setattr(result, name, getattr(result, name) or getattr(extra, name))
    return result


def route_key(request: web.Request) -> str:
    resource = request.match_info.route.resource
    return f"{request.method} {resource.canonical if resource else '<unmatched>'}"


@web.middleware
async def fault_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    if request.path.startswith(ADMIN_PREFIX):
        return await handler(request)
    state = request.app[STATE]
    state.requests[route_key(request)] += 1
    state.in_flight += 1
    state.max_in_flight = max(state.max_in_flight, state.in_flight)
    try:
        return await _answer(request, handler, state)
    finally:
        state.in_flight -= 1


async def _answer(
    request: web.Request, handler: Handler, state: SandboxState
) -> web.StreamResponse:
    fault = _effective(request, state)
    if fault.latency_ms > 0:
        await asyncio.sleep(fault.latency_ms / 1000)
    if fault.hang:
        # Only this request's task sleeps; the loop keeps serving everyone else.
        await asyncio.sleep(HANG_SECONDS)
    if fault.redirect:
        return web.Response(status=302, headers={"Location": fault.redirect})
    if fault.error_status is not None:
        return error_page(fault.error_status)
    response = await handler(request)
    if isinstance(response, web.Response) and isinstance(response.body, bytes):
        if fault.malformed:
            _garble(response)
        elif fault.wrong_charset:
            _swap_charset(response)
    return response


def error_page(status: int) -> web.Response:
    """What an overloaded nginx in front of a department answers."""
    reason = {502: "Bad Gateway", 503: "Service Temporarily Unavailable", 504: "Gateway Time-out"}
    title = f"{status} {reason.get(status, 'Error')}"
    html = (
        f"<html>\r\n<head><title>{title}</title></head>\r\n<body>\r\n"
        f"<center><h1>{title}</h1></center>\r\n<hr><center>nginx</center>\r\n</body>\r\n</html>\r\n"
    )
    return web.Response(status=status, text=html, content_type="text/html")


def _garble(response: web.Response) -> None:
    body = response.body
    assert isinstance(body, bytes)
    # Half the body then bytes that are invalid in UTF-8 and GBK alike: JSON, XML
    # and GBK text all fail to parse, the way a connection cut mid-body looks.
    response.body = body[: len(body) // 2] + b"\xff\xfe\x00"
    response.set_status(200)


def _swap_charset(response: web.Response) -> None:
    body = response.body
    assert isinstance(body, bytes)
    declared = (response.charset or "utf-8").lower()
    text = body.decode(declared, errors="replace")
    if declared in ("gbk", "gb2312", "gb18030"):
        response.body = text.encode("utf-8")
    else:
        response.body = text.encode("gbk", errors="replace")


# --- admin API -------------------------------------------------------------------------

_FAULT_TYPES: dict[str, tuple[type, ...]] = {
    "latency_ms": (int,),
    "error_rate": (int, float),
    "status": (int,),
    "hang": (bool,),
    "malformed": (bool,),
    "redirect": (str,),
    "wrong_charset": (bool,),
    "path": (str,),
    "seed": (int,),
}


def parse_fault_config(payload: object) -> FaultConfig:
    """Validate a PUT body; raises ValueError with a message for the admin."""
    if not isinstance(payload, dict):
        raise ValueError("请求体必须是 JSON 对象")
    for key, value in payload.items():
        types = _FAULT_TYPES.get(key)
        if types is None:
            raise ValueError(f"未知的故障参数：{key}")
        if value is None and key in ("redirect", "seed"):
            continue  # explicit null: the option is off
        bad_bool = isinstance(value, bool) and bool not in types
        if bad_bool or not isinstance(value, types):
            raise ValueError(f"故障参数 {key} 的类型不正确")
    config = FaultConfig(**payload)
    if not 0 <= config.error_rate <= 1:
        raise ValueError("error_rate 必须在 0 到 1 之间")
    if not 100 <= config.status <= 599 or config.latency_ms < 0:
        raise ValueError("status 或 latency_ms 超出范围")
    if not config.path.startswith("/"):
        raise ValueError("path 必须以 / 开头")
    if config.redirect is not None and not config.redirect.startswith(("http://", "https://")):
        raise ValueError("redirect 必须是 http(s) 地址")
    config.error_rate = float(config.error_rate)
    return config


def _admin_json(payload: object, status: int = 200) -> web.Response:
    return web.json_response(
        payload, status=status, dumps=lambda o: json.dumps(o, ensure_ascii=False)
    )


def _faults_view(state: SandboxState) -> dict[str, Any]:
    return {"faults": state.faults.public() if state.faults else None}


async def _get_faults(request: web.Request) -> web.Response:
    return _admin_json(_faults_view(request.app[STATE]))


async def _put_faults(request: web.Request) -> web.Response:
    state = request.app[STATE]
    try:
        state.faults = parse_fault_config(await request.json())
    except (ValueError, TypeError) as exc:  # json.JSONDecodeError is a ValueError
        return _admin_json({"error": str(exc)}, status=400)
    return _admin_json(_faults_view(state))


async def _delete_faults(request: web.Request) -> web.Response:
    request.app[STATE].faults = None
    return _admin_json({"faults": None})


def _stats_view(state: SandboxState) -> dict[str, Any]:
    return {
        "requests": dict(state.requests),
        "total": sum(state.requests.values()),
        "counters": dict(state.counters),
        "in_flight": state.in_flight,
        "max_in_flight": state.max_in_flight,
    }


async def _get_stats(request: web.Request) -> web.Response:
    return _admin_json(_stats_view(request.app[STATE]))


async def _delete_stats(request: web.Request) -> web.Response:
    state = request.app[STATE]
    state.requests.clear()
    state.counters.clear()
    # Requests still under way stay counted: the next high-water mark starts from them.
    state.max_in_flight = state.in_flight
    return _admin_json(_stats_view(state))


async def _health(request: web.Request) -> web.Response:
    return _admin_json({"department": request.app[STATE].department, "ok": True})


def install(app: web.Application, department: str) -> SandboxState:
    """Attach state and admin routes; the app must already use ``fault_middleware``."""
    state = SandboxState(department)
    app[STATE] = state
    app.router.add_get(ADMIN_PREFIX + "faults", _get_faults)
    app.router.add_put(ADMIN_PREFIX + "faults", _put_faults)
    app.router.add_delete(ADMIN_PREFIX + "faults", _delete_faults)
    app.router.add_get(ADMIN_PREFIX + "stats", _get_stats)
    app.router.add_delete(ADMIN_PREFIX + "stats", _delete_stats)
    app.router.add_get(ADMIN_PREFIX + "health", _health)
    return state
