"""Request ids, structured access logs and Prometheus metrics, in one ASGI middleware.

Written as plain ASGI rather than ``BaseHTTPMiddleware``: the latter wraps every
response body in an extra task and costs a measurable share of requests/s on the
gateway's hot path.
"""

from __future__ import annotations

import logging
import sys
import time
from typing import Any

import structlog
from prometheus_client import CONTENT_TYPE_LATEST, CollectorRegistry, Counter, Histogram
from prometheus_client import generate_latest as _generate_latest
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from backend.request_context import (
    accept_or_new_request_id,
    current_request_id,
    reset_request_id,
    set_request_id,
)

log = structlog.get_logger("hefeitong.access")


def configure_logging(level: str = "INFO", json: bool = True, *, cache: bool = True) -> None:
    """JSON lines on stdout; the request id is bound per request by the middleware.

    ``cache=False`` (tests) resolves ``sys.stdout`` on every call, so captured output works.
    """
    processors: list[Any] = [
        structlog.contextvars.merge_contextvars,
        _add_request_id,
        structlog.processors.add_log_level,
        structlog.processors.TimeStamper(fmt="iso", utc=True),
        structlog.processors.format_exc_info,
        structlog.processors.JSONRenderer(ensure_ascii=False)
        if json
        else structlog.dev.ConsoleRenderer(colors=False),
    ]
    structlog.configure(
        processors=processors,
        wrapper_class=structlog.make_filtering_bound_logger(logging.getLevelName(level.upper())),
        logger_factory=structlog.PrintLoggerFactory(sys.stdout if cache else None),
        cache_logger_on_first_use=cache,
    )


def _add_request_id(_logger: Any, _method: str, event: dict[str, Any]) -> dict[str, Any]:
    # Read from our own context variable: cheaper per request than binding structlog's.
    request_id = current_request_id()
    if request_id is not None:
        event.setdefault("request_id", request_id)
    return event


class Metrics:
    """Per-app registry, so several app instances (tests, workers) don't collide."""

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.requests = Counter(
            "hefeitong_http_requests_total",
            "HTTP requests by route template, method and status",
            ["route", "method", "status"],
            registry=self.registry,
        )
        self.latency = Histogram(
            "hefeitong_http_request_duration_seconds",
            "HTTP request latency by route template and method",
            ["route", "method"],
            buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
            registry=self.registry,
        )

        # labels() costs a few microseconds per call; children are reused per label set.
        self._counters: dict[tuple[str, str, str], Any] = {}
        self._histograms: dict[tuple[str, str], Any] = {}

    def observe(self, route: str, method: str, status: int, seconds: float) -> None:
        key = (route, method, str(status))
        counter = self._counters.get(key)
        if counter is None:
            counter = self._counters[key] = self.requests.labels(*key)
        counter.inc()
        histogram = self._histograms.get(key[:2])
        if histogram is None:
            histogram = self._histograms[key[:2]] = self.latency.labels(route, method)
        histogram.observe(seconds)

    def render(self) -> tuple[bytes, str]:
        return _generate_latest(self.registry), CONTENT_TYPE_LATEST


class ObservabilityMiddleware:
    def __init__(self, app: ASGIApp, metrics: Metrics, *, access_log: bool = True) -> None:
        self.app = app
        self.metrics = metrics
        # Decided once: building a log call that the level filters out still costs.
        self.access_log = access_log

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        incoming = None
        for name, value in scope["headers"]:
            if name == b"x-request-id":
                incoming = value.decode("latin-1")
                break
        request_id = accept_or_new_request_id(incoming)
        token = set_request_id(request_id)
        status = 500
        started = time.perf_counter()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                headers = list(message.get("headers", []))
                headers.append((b"x-request-id", request_id.encode()))
                message["headers"] = headers
            await send(message)

        try:
            await self.app(scope, receive, send_with_id)
        except Exception:
            log.exception("unhandled_error", route=_route_template(scope))
            raise
        finally:
            duration = time.perf_counter() - started
            route = _route_template(scope)
            method = scope["method"]
            self.metrics.observe(route, method, status, duration)
            if self.access_log:
                # The path's template, never the raw path or query string: those may carry
                # ID numbers or phone numbers.
                log.info(
                    "request",
                    method=method,
                    route=route,
                    status=status,
                    duration_ms=round(duration * 1000, 2),
                )
            reset_request_id(token)


def _route_template(scope: Scope) -> str:
    route = scope.get("route")
    path = getattr(route, "path", None)
    return path if isinstance(path, str) else "<unmatched>"
