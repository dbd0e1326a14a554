"""The FastAPI application: routers, middleware and the lifespan of shared resources."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import os
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from typing import Any

from fastapi import FastAPI
from fastapi.middleware.cors import CORSMiddleware
from fastapi.openapi.utils import get_openapi
from fastapi.routing import APIRoute
from pwdlib import PasswordHash
from sqlalchemy.ext.asyncio import async_sessionmaker
from sqlmodel.ext.asyncio.session import AsyncSession

from backend import db
from backend.app_state import AppState
from backend.applications.admin_router import router as admin_applications_router
from backend.applications.callbacks_router import router as callbacks_router
from backend.applications.message_centre import post_notice
from backend.applications.messages_router import router as messages_router
from backend.applications.notifications import run_worker
from backend.applications.provider_router import rectifications_router
from backend.applications.provider_router import router as provider_applications_router
from backend.applications.router import router as applications_router
from backend.applications.router import uploads_router
from backend.applications.uploads import MAX_BYTES as UPLOAD_MAX_BYTES
from backend.applications.uploads import UploadTooLarge
from backend.body_limit import BodyLimit, declare_body_limit
from backend.catalog.router import router as catalog_router
from backend.catalog.store import CatalogStore
from backend.client_address import TrustedProxies
from backend.clock import Clock, SystemClock
from backend.errors import Problem, install_error_handlers
from backend.gateway.cache import AnswerCache
from backend.gateway.invoke import InvokeFastPath
from backend.gateway.router import invoke_route
from backend.gateway.router import router as gateway_router
from backend.gateway.schemas import InvokeRequest
from backend.gateway.service import Gateway
from backend.health import router as health_router
from backend.identity.enterprise_router import router as enterprise_router
from backend.identity.keys import KeyStore
from backend.identity.oauth_router import router as oauth_router
from backend.identity.oidc_router import router as oidc_router
from backend.identity.ratelimit import RateLimits
from backend.identity.router import auth_router, jwks_router, me_router
from backend.identity.service import Identity
from backend.identity.sms_limits import SmsCodeLimits, SmsPolicy
from backend.identity.tokens import TokenService
from backend.kv import KV, kv_from_url
from backend.migrate import migrate_and_seed
from backend.observability import Metrics, ObservabilityMiddleware, configure_logging
from backend.openapi_components import add_component_schemas, restore_example_nulls
from backend.pii import PiiCipher
from backend.providers.admin_router import admin_router as providers_admin_router
from backend.providers.health import HealthRecorder, start_health
from backend.providers.router import router as providers_router
from backend.providers.sync import AdapterSync
from backend.security_headers import DOCS_POLICY, SecurityHeaders
from backend.settings import Settings, get_settings
from backend.state import keep_state
from integrations.breaker import BreakerPolicy
from integrations.invoker import Invoker
from integrations.loader import load_registry
from integrations.spec import StrictVariables
from integrations.transport import AiohttpTransport

API_VERSION = "0.2.0"
CATALOG_WATCH_SECONDS = 5.0
# A missed publish announcement is noticed within this long.
ADAPTERS_WATCH_SECONDS = 5.0


def build_identity(
    settings: Settings,
    kv: KV,
    invoker: Invoker,
    sessions: async_sessionmaker[AsyncSession],
    clock: Clock,
) -> Identity:
    keys = KeyStore(settings.key_dir, publish_retired_for=settings.access_token_ttl + 300)
    # Development generates its first key; production needs `hefeitong keys rotate` run once.
    keys.load(create=settings.signing_key_dir is None)
    return Identity(
        pii=PiiCipher.from_config(
            settings.pii_keys, settings.pii_index_key, secret=settings.secret_key
        ),
        tokens=TokenService(
            keys,
            kv,
            issuer=settings.token_issuer,
            audience=settings.token_audience,
            ttl=settings.access_token_ttl,
        ),
        limits=RateLimits(
            settings.redis_url, settings.kv_namespace, settings.sms_limit_per_requester
        ),
        kv=kv,
        invoker=invoker,
        refresh_ttl=settings.refresh_token_ttl,
        passwords=PasswordHash.recommended(),
        sessions=sessions,
        sms_limits=SmsCodeLimits(
            kv,
            clock,
            SmsPolicy(
                first_wait=settings.sms_backoff_seconds,
                max_wait=settings.sms_backoff_max_seconds,
                per_phone_and_requester=settings.sms_codes_per_phone_and_requester,
                per_phone=settings.sms_codes_per_phone,
            ),
        ),
        # Identity's notices go to the applications' message centre; identity cannot import
        # it (applications imports identity), so the composition root joins them.
        notices=post_notice,
        clock=clock,
    )


def _operation_id(route: APIRoute) -> str:
    """Stable ids of the form ``tag-name``, e.g. ``catalog-list-services``."""
    tag = str(route.tags[0]) if route.tags else "default"
    return f"{tag}-{route.name.replace('_', '-')}"


def create_app(settings: Settings | None = None, *, clock: Clock | None = None) -> FastAPI:
    """The app; ``clock`` is what its breakers, answer cache and OTP codes judge time by (the
    system clock unless a test brings one it moves itself, background loops included)."""
    settings = settings or get_settings()
    # See clock.py: a test moves the system clock for its own task, never for the process.
    app_clock: Clock = clock or SystemClock()
    settings.check_safe()
    configure_logging(settings.log_level, settings.log_json, cache=settings.env != "test")
    metrics = Metrics()

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        url = settings.effective_database_url
        if settings.should_auto_migrate:
            await migrate_and_seed(url)
        engine = db.create_engine(url)
        sessions = db.session_factory(engine)
        kv = kv_from_url(settings.redis_url, namespace=settings.kv_namespace)
        # The one outgoing HTTP client of this worker (aiohttp: see integrations/transport.py).
        transport = AiohttpTransport(max_connections=settings.http_max_connections)
        variables = {**os.environ, **settings.adapter_variables}
        # Production never falls back to a spec's sandbox defaults.
        if settings.env == "production":
            variables = StrictVariables(variables)
        registry = load_registry(transport, variables)
        health_recorder = HealthRecorder(kv)
        invoker = Invoker(
            registry,
            kv,
            breaker_policy=BreakerPolicy(
                failure_threshold=settings.breaker_failure_threshold,
                window=settings.breaker_window,
                open_seconds=settings.breaker_open_seconds,
            ),
            observer=health_recorder,
            clock=app_clock,
        )
        identity = build_identity(settings, kv, invoker, sessions, app_clock)
        # Published provider adapters, swapped in on every worker without a restart.
        adapter_sync = AdapterSync(sessions, kv, registry, identity.pii, on_swap=invoker.forget)
        await adapter_sync.refresh()
        adapter_sync.start(ADAPTERS_WATCH_SECONDS)
        catalog = CatalogStore(sessions, kv)
        await catalog.load()
        catalog.start_watching(CATALOG_WATCH_SECONDS)
        # Per-operation success and latency, the probe of probe-safe operations, and the
        # open breakers the catalog marks as degraded.
        health = start_health(
            kv=kv,
            invoker=invoker,
            recorder=health_recorder,
            probe_interval=settings.adapter_probe_seconds,
        )
        keep_state(
            app,
            AppState(
                settings=settings,
                engine=engine,
                sessions=sessions,
                kv=kv,
                metrics=metrics,
                pii=identity.pii,
                registry=registry,
                invoker=invoker,
                gateway=Gateway(
                    invoker, AnswerCache(kv, settings.gateway_stale_seconds, app_clock)
                ),
                identity=identity,
                catalog=catalog,
                adapter_sync=adapter_sync,
                open_breakers=health.open_breakers,
                health_recorder=health_recorder,
            ),
        )
        worker = None
        if settings.outbox_worker:
            # Embedded default: deliver notifications in-process; production runs
            # `hefeitong worker` (as many as wanted) and turns this off.
            worker = asyncio.create_task(
                run_worker(
                    sessions,
                    identity,
                    catalog=catalog,
                    poll_interval=settings.poll_interval_seconds,
                )
            )
        # Start-up leaves ~350k long-lived objects (catalog, search index, schemas, ORM
        # metadata); a full collection walking them took ~100 ms and was the whole p99 tail
        # of the gateway. Frozen objects are skipped by every later collection.
        gc.collect()
        gc.freeze()
        try:
            yield
        finally:
            if worker is not None:
                worker.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await worker
            await catalog.stop()
            await adapter_sync.stop()
            await health.stop()
            await registry.aclose()
            await transport.aclose()
            await kv.aclose()
            await engine.dispose()

    app = FastAPI(
        title="合肥通 Hefei Tong API",
        version=API_VERSION,
        description=(
            "合肥通市民服务后端：238 项服务、统一身份、“最多跑一次”办件。"
            " The backend of Hefei's citizen-services app."
        ),
        lifespan=lifespan,
        generate_unique_id_function=_operation_id,
        # The document and its pages may be public (the default) or not served at all.
        openapi_url="/openapi.json" if settings.public_api_docs else None,
        docs_url="/docs" if settings.public_api_docs else None,
        redoc_url="/redoc" if settings.public_api_docs else None,
    )
    install_error_handlers(app)
    app.include_router(health_router)
    app.include_router(catalog_router)
    app.include_router(gateway_router)
    app.include_router(auth_router)
    app.include_router(me_router)
    app.include_router(jwks_router)
    app.include_router(oauth_router)
    app.include_router(oidc_router)
    app.include_router(enterprise_router)
    app.include_router(applications_router)
    app.include_router(uploads_router)
    app.include_router(messages_router)
    app.include_router(provider_applications_router)
    app.include_router(rectifications_router)
    app.include_router(callbacks_router)
    app.include_router(admin_applications_router)
    app.include_router(providers_admin_router)
    app.include_router(providers_router)
    add_middleware(app, settings, metrics)

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            # Problem: every error response; InvokeRequest: parsed by hand on the hot path.
            app.openapi_schema = declare_body_limit(
                restore_example_nulls(
                    add_component_schemas(
                        get_openapi(
                            title=app.title,
                            version=app.version,
                            description=app.description,
                            routes=app.routes,
                        ),
                        Problem,
                        InvokeRequest,
                    )
                ),
                settings.max_body_bytes,
            )
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]
    return app


# What a browser app sends beyond the CORS-safelisted headers, and what it may read back.
_CORS_REQUEST_HEADERS = (
    "Authorization",
    "Idempotency-Key",
    "If-None-Match",
    "X-Request-ID",
    "X-Timeout-Ms",
)
_CORS_RESPONSE_HEADERS = (
    "Content-Language",
    "ETag",
    "Location",
    "Retry-After",
    "WWW-Authenticate",
    "X-Request-ID",
)
# Uploads are the one body allowed past HEFEITONG_MAX_BODY_BYTES, with their own error.
BODY_LIMITS = {("POST", "/v1/uploads"): (UPLOAD_MAX_BYTES, UploadTooLarge)}


def add_middleware(app: FastAPI, settings: Settings, metrics: Metrics) -> None:
    """The middleware, outermost last: each ``add_middleware`` wraps the ones before it."""
    # Innermost: the invoke fast path answers its requests here, so everything added after
    # it (body limit, CORS, headers, request ids, metrics, proxies) applies to it too, and
    # tests/gateway/test_invoke_guard.py fails if anything is ever added inside it.
    app.add_middleware(InvokeFastPath, route=invoke_route)
    app.add_middleware(BodyLimit, max_bytes=settings.max_body_bytes, limits=BODY_LIMITS)
    if settings.cors_origins:
        # None unless configured: without CORS headers a browser on another origin gets
        # nothing. Bearer tokens, not cookies, so no credentials mode.
        app.add_middleware(
            CORSMiddleware,
            allow_origins=settings.cors_origins,
            allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE"],
            allow_headers=_CORS_REQUEST_HEADERS,
            expose_headers=_CORS_RESPONSE_HEADERS,
            max_age=600,
        )
    app.add_middleware(
        SecurityHeaders,
        hsts_max_age=settings.effective_hsts_max_age,
        page_policies={
            path: DOCS_POLICY
            for path in (app.docs_url, app.redoc_url, app.swagger_ui_oauth2_redirect_url)
            if path and app.openapi_url
        },
    )
    app.add_middleware(
        ObservabilityMiddleware,
        metrics=metrics,
        access_log=logging.getLevelName(settings.log_level.upper()) <= logging.INFO,
    )
    if settings.trusted_proxies:
        # Outermost: the client address is settled before anything reads it.
        app.add_middleware(TrustedProxies, trusted=settings.trusted_proxies)
