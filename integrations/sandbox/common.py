"""Building blocks shared by the department servers."""

from __future__ import annotations

import itertools
import json
import secrets
from collections.abc import Iterable
from datetime import datetime, timedelta, timezone
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Handler, Middleware

from . import faults

# The dev secrets each sandbox server accepts. Header-key departments use "api_key".
SANDBOX_CREDENTIALS: dict[str, dict[str, str]] = {
    "hospital": {"api_key": "sandbox-hospital-key"},
    "hrss": {"app_key": "sandbox-hrss-key"},
    "provident_fund": {"app_id": "sandbox-gjj", "secret": "sandbox-gjj-secret"},
    "traffic_police": {"client_id": "sandbox-tp", "client_secret": "sandbox-tp-secret"},
    "education": {"app_key": "sandbox-edu-key"},
    "identity_check": {"api_key": "sandbox-idcheck-key"},
    "e_license": {"api_key": "sandbox-elicense-key"},
    "transit": {"api_key": "sandbox-transit-key"},
    "housing_registry": {"api_key": "sandbox-housing-key"},
    "sms": {"api_key": "sandbox-sms-key"},
    "mini_program": {
        "wechat_app_id": "wx-sandbox-hefeitong",
        "wechat_app_secret": "sandbox-wx-secret",
        "alipay_app_id": "alipay-sandbox-hefeitong",
        "alipay_app_secret": "sandbox-alipay-secret",
    },
}

CHINA_TZ = timezone(timedelta(hours=8))
# Base64 face images are larger than aiohttp's 1 MiB default.
MAX_BODY = 8 * 1024 * 1024

# Receipt numbers must not repeat when the sandbox restarts during a dev session,
# so the sequence starts at a random offset rather than at 1.
_sequence = itertools.count(secrets.randbelow(10**7) * 10)


def receipt_no(prefix: str) -> str:
    """A department receipt number such as ``YY2026112600123456`` (prefix + date + seq)."""
    return f"{prefix}{datetime.now(CHINA_TZ):%Y%m%d}{next(_sequence) % 10**8:08d}"


def now_text() -> str:
    return datetime.now(CHINA_TZ).strftime("%Y-%m-%d %H:%M:%S")


def dumps(payload: object) -> bytes:
    # Raw UTF-8 rather than \\u escapes: what Chinese department APIs send, and what
    # makes the wrong_charset fault visible.
    return json.dumps(payload, ensure_ascii=False, separators=(",", ":")).encode()


def json_response(payload: object, status: int = 200) -> web.Response:
    return web.Response(
        body=dumps(payload), status=status, content_type="application/json", charset="utf-8"
    )


async def read_json(request: web.Request) -> dict[str, Any] | None:
    """The JSON object in the body, or None when the body is not one."""
    try:
        payload = json.loads(await request.read())
    except (ValueError, UnicodeDecodeError):
        return None
    return payload if isinstance(payload, dict) else None


def new_app(department: str, middlewares: Iterable[Middleware] = ()) -> web.Application:
    """An app with fault injection outermost, so faults hit before department auth."""
    app = web.Application(
        middlewares=[faults.fault_middleware, *middlewares], client_max_size=MAX_BODY
    )
    faults.install(app, department)
    return app


def secret_matches(given: str, expected: str) -> bool:
    # Bytes, because compare_digest refuses non-ASCII str and headers can carry any.
    return secrets.compare_digest(given.encode(), expected.encode())


def api_key_middleware(
    expected: str, refusal: object, *, header: str = "X-Api-Key", status: int = 401
) -> Middleware:
    """Refuse non-admin requests without the right key header, in the dialect's own body."""
    body = dumps(refusal)

    @web.middleware
    async def check(request: web.Request, handler: Handler) -> web.StreamResponse:
        if request.path.startswith(faults.ADMIN_PREFIX) or secret_matches(
            request.headers.get(header, ""), expected
        ):
            return await handler(request)
        return web.Response(
            body=body, status=status, content_type="application/json", charset="utf-8"
        )

    return check


def count(request: web.Request, name: str) -> None:
    """Bump a named counter shown under ``counters`` in ``/__sandbox/stats``."""
    request.app[faults.STATE].counters[name] += 1
