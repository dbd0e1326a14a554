"""Mini-program platforms: WeChat ``jscode2session`` and Alipay ``alipay.system.oauth.token``.

The mini-program gets a one-time login code from its platform; our backend trades
it for the user's platform identity. Both dialects answer HTTP 200 whatever the
outcome. WeChat: ``errcode`` 40013 bad appid, 40125 bad secret, 40002 bad
grant_type, 41008 missing code, 40029 unknown or expired code, 40163 code already
used. Alipay: ``error_response`` with ``code`` 40001 (a field is missing,
``isv.missing-*``) or 40002 (``isv.invalid-method``, ``isv.invalid-app-id``,
``isv.invalid-signature``, ``isv.grant-type-invalid``, ``isv.code-invalid``).

Codes come from the admin route ``POST /__sandbox/mini-program/codes``, standing in
for the phone; each is single-use, lives ``CODE_TTL_SECONDS`` and always maps to the
same identity for the same user key (``wechat_identity`` / ``alipay_identity``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets
import time
from collections.abc import Mapping
from dataclasses import dataclass, field

from aiohttp import web

from .common import SANDBOX_CREDENTIALS, count, dumps, json_response, new_app, read_json
from .faults import ADMIN_PREFIX

WECHAT_APP_ID = SANDBOX_CREDENTIALS["mini_program"]["wechat_app_id"]
WECHAT_APP_SECRET = SANDBOX_CREDENTIALS["mini_program"]["wechat_app_secret"]
ALIPAY_APP_ID = SANDBOX_CREDENTIALS["mini_program"]["alipay_app_id"]
ALIPAY_APP_SECRET = SANDBOX_CREDENTIALS["mini_program"]["alipay_app_secret"]
PLATFORMS = ("wechat", "alipay")
CODE_TTL_SECONDS = 300.0  # read at issue time, so a test can shorten it
CODE_LIMIT = 100_000  # oldest codes are dropped beyond this, to bound memory in benchmarks
MAX_USER_KEY = 256
ALIPAY_TOKEN_TTL_SECONDS = 3600


def _digest(label: str, user: str) -> str:
    # Derived, not stored: the same user key gets the same identity after a restart.
    return hashlib.sha256(f"{label}:{user}".encode()).hexdigest()


def wechat_identity(user: str) -> dict[str, str]:
    """The openid (28 characters, like WeChat's) and unionid a user key maps to."""
    return {
        "openid": "o" + _digest("wechat-open", user)[:27],
        "unionid": "u_" + _digest("wechat-union", user)[:28],
    }


def alipay_identity(user: str) -> dict[str, str]:
    """The user_id (``2088`` + 12 digits, like Alipay's) and open_id a user key maps to."""
    number = int(_digest("alipay-user", user), 16) % 10**12
    return {"user_id": f"2088{number:012d}", "open_id": "0" + _digest("alipay-open", user)[:46]}


def alipay_sign(fields: Mapping[str, str], secret: str) -> str:
    """HMAC-SHA256, lower-case hex, over ``k=v`` pairs sorted by key (``sign`` left out).

    Real Alipay signs this same string with RSA2 (the app's private key, checked
    with its uploaded public key); a shared-secret HMAC keeps the sandbox free of
    key pairs while still refusing any request whose fields were not signed.
    """
    base = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "sign")
    return hmac.new(secret.encode(), base.encode(), hashlib.sha256).hexdigest()


@dataclass
class _Grant:
    platform: str
    user: str
    expires_at: float  # time.monotonic()
    used: bool = False


@dataclass
class MiniProgramState:
    # Insertion order is issue order, so the oldest (first to expire) come first.
    grants: dict[str, _Grant] = field(default_factory=dict)

    def issue(self, platform: str, user: str) -> str:
        now = time.monotonic()
        self._prune(now)
        code = secrets.token_hex(16)
        self.grants[code] = _Grant(platform, user, now + CODE_TTL_SECONDS)
        return code

    def find(self, platform: str, code: str) -> _Grant | None:
        """The live grant behind a code of this platform, used or not; None if unknown."""
        grant = self.grants.get(code)
        if grant is None or grant.platform != platform or grant.expires_at <= time.monotonic():
            return None
        return grant

    def _prune(self, now: float) -> None:
        # Used codes stay until they expire, so a replay is told "used", not "unknown".
        while self.grants:
            code, grant = next(iter(self.grants.items()))
            if grant.expires_at > now and len(self.grants) < CODE_LIMIT:
                break
            del self.grants[code]


STATE = web.AppKey("mini_program_state", MiniProgramState)


# --- WeChat ------------------------------------------------------------------------------


def _wechat(payload: object) -> web.Response:
    # WeChat really labels this JSON text/plain; adapters must not rely on the type.
    return web.Response(body=dumps(payload), content_type="text/plain", charset="utf-8")


def _wechat_error(errcode: int, errmsg: str) -> web.Response:
    return _wechat({"errcode": errcode, "errmsg": errmsg})


async def jscode2session(request: web.Request) -> web.Response:
    query = request.query
    if query.get("appid") != WECHAT_APP_ID:
        return _wechat_error(40013, "invalid appid")
    if not hmac.compare_digest(query.get("secret", "").encode(), WECHAT_APP_SECRET.encode()):
        return _wechat_error(40125, "invalid appsecret")
    if query.get("grant_type") != "authorization_code":
        return _wechat_error(40002, "invalid grant_type")
    code = query.get("js_code", "")
    if not code:
        return _wechat_error(41008, "missing code")
    grant = request.app[STATE].find("wechat", code)
    if grant is None:
        return _wechat_error(40029, "invalid code")
    if grant.used:
        return _wechat_error(40163, "code been used")
    grant.used = True
    count(request, "wechat_sessions")
    session_key = base64.b64encode(secrets.token_bytes(16)).decode()
    return _wechat({**wechat_identity(grant.user), "session_key": session_key})


# --- Alipay ------------------------------------------------------------------------------


def _alipay_error(code: str, sub_code: str, sub_msg: str) -> web.Response:
    msg = "Missing Required Arguments" if code == "40001" else "Invalid Arguments"
    return json_response(
        {"error_response": {"code": code, "msg": msg, "sub_code": sub_code, "sub_msg": sub_msg}}
    )


_REQUIRED = (
    ("method", "isv.missing-method", "缺少方法名参数"),
    ("app_id", "isv.missing-app-id", "缺少AppID参数"),
    ("sign", "isv.missing-signature", "缺少签名参数"),
    ("grant_type", "isv.missing-grant-type", "缺少grant_type参数"),
    ("code", "isv.missing-code", "缺少授权码code参数"),
)


async def gateway(request: web.Request) -> web.Response:
    # Real SDKs put the common parameters in the query and the rest in the form;
    # the gateway reads both, and so does this one.
    form = await request.post()
    fields: dict[str, str] = dict(request.query)
    fields.update((k, v) for k, v in form.items() if isinstance(v, str))
    for name, sub_code, sub_msg in _REQUIRED:
        if not fields.get(name):
            return _alipay_error("40001", sub_code, sub_msg)
    if fields["method"] != "alipay.system.oauth.token":
        return _alipay_error("40002", "isv.invalid-method", "不存在的方法名")
    if fields["app_id"] != ALIPAY_APP_ID:
        return _alipay_error("40002", "isv.invalid-app-id", "无效的AppID参数")
    expected = alipay_sign(fields, ALIPAY_APP_SECRET)
    if not hmac.compare_digest(fields["sign"].encode(), expected.encode()):
        return _alipay_error("40002", "isv.invalid-signature", "验签出错")
    if fields["grant_type"] != "authorization_code":
        return _alipay_error("40002", "isv.grant-type-invalid", "grant_type参数不正确")
    grant = request.app[STATE].find("alipay", fields["code"])
    if grant is None or grant.used:
        return _alipay_error("40002", "isv.code-invalid", "授权码code无效")
    grant.used = True
    count(request, "alipay_tokens")
    token = {
        **alipay_identity(grant.user),
        "access_token": "authusrB" + secrets.token_hex(16),
        "expires_in": ALIPAY_TOKEN_TTL_SECONDS,
    }
    return json_response({"alipay_system_oauth_token_response": token})


# --- admin -------------------------------------------------------------------------------


async def issue_code(request: web.Request) -> web.Response:
    body = await read_json(request) or {}
    platform, user = body.get("platform"), body.get("user")
    if platform not in PLATFORMS:
        return json_response({"error": "platform 必须是 wechat 或 alipay"}, status=400)
    if not isinstance(user, str) or not 0 < len(user) <= MAX_USER_KEY:
        return json_response({"error": f"user 必须是 1-{MAX_USER_KEY} 个字符"}, status=400)
    return json_response({"code": request.app[STATE].issue(platform, user)})


def create_app() -> web.Application:
    app = new_app("mini_program")
    app[STATE] = MiniProgramState()
    app.router.add_get("/sns/jscode2session", jscode2session)
    app.router.add_post("/gateway.do", gateway)
    app.router.add_post(ADMIN_PREFIX + "mini-program/codes", issue_code)
    return app
