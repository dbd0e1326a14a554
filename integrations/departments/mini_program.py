"""Mini-program code login (小程序登录): WeChat ``jscode2session`` and Alipay's OAuth token.

Both operations trade the one-time ``code`` a mini-program got from its platform
for the user's platform identity. A Python adapter because Alipay signs every
gateway request over its form fields, which a declarative spec cannot compute;
everything else (mapping, error classes) is still the spec below. Registered
through the ``hefeitong.adapters`` entry point.

Codes are single-use, so neither operation is retried or cached: a retry after a
lost reply would only ever be told "code been used". Our own credentials being
refused (bad appid/secret, bad signature) is operational, not the citizen's fault.
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from integrations.auth import PreparedCall
from integrations.http_adapter import SpecAdapter
from integrations.spec import parse_spec
from integrations.transport import Transport

_CODE_PARAMS: dict[str, Any] = {
    "type": "object",
    "required": ["code"],
    "properties": {"code": {"type": "string", "minLength": 1, "maxLength": 128}},
    "additionalProperties": False,
}

SPEC: dict[str, Any] = {
    "id": "mini_program",
    "name_zh": "微信与支付宝小程序平台",
    "name_en": "WeChat and Alipay mini-program platforms",
    "base_url": "${MINI_PROGRAM_BASE_URL:-http://127.0.0.1:18111}",
    "secrets": {
        "wechat_app_id": "${WECHAT_APP_ID:-wx-sandbox-hefeitong}",
        "wechat_app_secret": "${WECHAT_APP_SECRET:-sandbox-wx-secret}",
        "alipay_app_id": "${ALIPAY_APP_ID:-alipay-sandbox-hefeitong}",
        "alipay_app_secret": "${ALIPAY_APP_SECRET:-sandbox-alipay-secret}",
    },
    "defaults": {"timeout": 3},
    "operations": {
        "wechat_code2session": {
            "summary_zh": "微信小程序登录凭证校验",
            "summary_en": "Exchange a WeChat mini-program login code",
            "method": "GET",
            "path": "/sns/jscode2session",
            "params": _CODE_PARAMS,
            "query": {
                "appid": "secrets.wechat_app_id",
                "secret": "secrets.wechat_app_secret",
                "js_code": "params.code",
                "grant_type": "'authorization_code'",
            },
            "success": "errcode == `null` || errcode == `0`",
            "error_code": "to_string(errcode)",
            "error_message": "errmsg",
            # -1 system busy, 40013 bad appid, 40125 bad secret, 45011 rate limited.
            "operational_codes": ["-1", "40013", "40125", "45011"],
            # session_key is the user's key with WeChat and stays here. Without an
            # openid the reply is unusable: mapping it to null would merge accounts.
            "result": "openid && {openid: openid, unionid: unionid}",
            "idempotent": False,
            "cache_ttl": 0,
        },
        "alipay_code2session": {
            "summary_zh": "支付宝小程序授权码换取用户标识",
            "summary_en": "Exchange an Alipay mini-program auth code",
            "method": "POST",
            "path": "/gateway.do",
            "params": _CODE_PARAMS,
            "request_format": "form",
            # Signed by AlipaySignAuth after mapping; every field here is a string.
            "body": {
                "method": "'alipay.system.oauth.token'",
                "app_id": "secrets.alipay_app_id",
                "grant_type": "'authorization_code'",
                "code": "params.code",
            },
            "success": "error_response == `null`",
            "error_code": "error_response.sub_code || error_response.code",
            "error_message": "error_response.sub_msg || error_response.msg",
            "operational_codes": [
                "isv.invalid-app-id",
                "isv.invalid-signature",
                "isv.missing-signature",
                "isp.unknow-error",  # sic: Alipay's own spelling of its outage code
            ],
            "result": (
                "alipay_system_oauth_token_response | (open_id || user_id) && "
                "{openid: open_id || user_id, unionid: `null`, user_id: user_id}"
            ),
            "idempotent": False,
            "cache_ttl": 0,
        },
    },
}


def alipay_sign(fields: Mapping[str, Any], secret: str) -> str:
    """HMAC-SHA256 (lower-case hex) over ``k=v`` sorted by key and joined by ``&``, minus ``sign``.

    Real Alipay signs the same string with RSA2 and the app's private key; the
    sandbox takes a shared-secret HMAC instead so that dev needs no key pair.
    """
    base = "&".join(f"{k}={fields[k]}" for k in sorted(fields) if k != "sign")
    return hmac.new(secret.encode(), base.encode(), hashlib.sha256).hexdigest()


@dataclass
class AlipaySignAuth:
    """Signs form posts (the Alipay gateway calls); WeChat's GET carries its secret itself."""

    secret: str

    async def apply(self, call: PreparedCall, transport: Transport, timeout: float) -> None:
        if call.body_fields is not None:
            call.body_fields["sign"] = alipay_sign(call.body_fields, self.secret)

    def invalidate(self) -> None:
        return None


class MiniProgramAdapter(SpecAdapter):
    def __init__(self, transport: Transport, variables: Mapping[str, str]) -> None:
        super().__init__(parse_spec(SPEC, variables), transport)
        # The spec declares no auth scheme (none fits Alipay's), so sign here instead.
        self._auth = AlipaySignAuth(self.spec.secrets["alipay_app_secret"])


def create(transport: Transport, variables: Mapping[str, str]) -> MiniProgramAdapter:
    return MiniProgramAdapter(transport, variables)
