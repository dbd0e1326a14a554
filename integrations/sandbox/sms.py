"""SMS gateway: JSON with an API key header, plus a dev inbox of what was "sent".

``code`` is "OK" or an Alibaba-Cloud-style ``isv.*`` error, always with HTTP 200.
The inbox (``/__sandbox/sms/inbox``) is an admin route: it exists so dev logins and
tests can read the codes that a real gateway would deliver to a phone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from aiohttp import web

from .common import (
    SANDBOX_CREDENTIALS,
    api_key_middleware,
    json_response,
    new_app,
    read_json,
    receipt_no,
)
from .faults import ADMIN_PREFIX

API_KEY = SANDBOX_CREDENTIALS["sms"]["api_key"]
MOBILE_RE = re.compile(r"1[3-9]\d{9}")
INBOX_LIMIT = 1000  # oldest messages are dropped beyond this, to bound memory in benchmarks


@dataclass
class SmsState:
    inbox: list[dict[str, Any]] = field(default_factory=list)  # oldest first


STATE = web.AppKey("sms_state", SmsState)


def render(sign_name: str, params: dict[str, Any]) -> str:
    """The text the phone would show, driven by the parameters the caller sent."""
    if "code" in params:
        body = f"您的验证码为{params['code']}，5分钟内有效。"
    elif "receiptNo" in params and "status" in params:
        body = f"您的办件{params['receiptNo']}状态已更新为：{params['status']}。"
    else:
        body = "，".join(f"{k}：{v}" for k, v in params.items()) or "您有一条新的通知。"
        body = body if body.endswith("。") else body + "。"
    return f"【{sign_name}】{body}"


async def send(request: web.Request) -> web.Response:
    body = await read_json(request)
    if body is None:
        return json_response({"code": "isv.INVALID_PARAMETERS", "message": "请求体必须是JSON对象"})
    phone, sign_name = body.get("phone"), body.get("signName")
    template, params = body.get("templateCode"), body.get("params", {})
    if not isinstance(phone, str) or not MOBILE_RE.fullmatch(phone):
        return json_response({"code": "isv.MOBILE_NUMBER_ILLEGAL", "message": "手机号码格式错误"})
    if not isinstance(sign_name, str) or not sign_name.strip():
        return json_response({"code": "isv.SMS_SIGNATURE_ILLEGAL", "message": "短信签名不合法"})
    if not isinstance(template, str) or not template.strip():
        return json_response({"code": "isv.SMS_TEMPLATE_ILLEGAL", "message": "短信模板不合法"})
    if not isinstance(params, dict):
        return json_response({"code": "isv.INVALID_PARAMETERS", "message": "params必须是对象"})
    inbox = request.app[STATE].inbox
    inbox.append(
        {
            "phone": phone,
            "signName": sign_name,
            "templateCode": template,
            "params": params,
            "text": render(sign_name, params),
            "sentAt": datetime.now(UTC).isoformat(timespec="milliseconds"),
        }
    )
    del inbox[:-INBOX_LIMIT]
    return json_response({"code": "OK", "message": "OK", "bizId": receipt_no("")})


async def read_inbox(request: web.Request) -> web.Response:
    phone = request.query.get("phone")
    messages = [m for m in reversed(request.app[STATE].inbox) if phone in (None, m["phone"])]
    return json_response({"messages": messages})


async def clear_inbox(request: web.Request) -> web.Response:
    request.app[STATE].inbox.clear()
    return json_response({"messages": []})


def create_app() -> web.Application:
    refusal = {"code": "isv.INVALID_API_KEY", "message": "invalid api key"}
    app = new_app("sms", [api_key_middleware(API_KEY, refusal)])
    app[STATE] = SmsState()
    app.router.add_post("/sms/v1/send", send)
    app.router.add_get(ADMIN_PREFIX + "sms/inbox", read_inbox)
    app.router.add_delete(ADMIN_PREFIX + "sms/inbox", clear_inbox)
    return app
