"""The server-rendered sign-in and consent pages of the OpenID Provider (zh-CN, phone-sized)."""

from __future__ import annotations

from html import escape

from backend.identity.oidc import SCOPE_TEXT

_STYLE = """
body{font-family:-apple-system,"PingFang SC","Microsoft YaHei","WenQuanYi Micro Hei",sans-serif;
margin:0;background:#f4f6f9;color:#1f2d3d}
main{max-width:420px;margin:0 auto;padding:24px 20px}
h1{font-size:22px;margin:8px 0 4px}p{line-height:1.6}
.card{background:#fff;border-radius:12px;padding:20px;box-shadow:0 1px 3px rgba(0,0,0,.08)}
label{display:block;margin:14px 0 6px;font-size:15px}
input{width:100%;box-sizing:border-box;font-size:17px;padding:12px;border:1px solid #c9d1db;
border-radius:8px}
button{width:100%;font-size:17px;padding:13px;margin-top:16px;border:0;border-radius:8px;
background:#1664ff;color:#fff}
button.secondary{background:#e8edf3;color:#1f2d3d}
ul{padding-left:20px;line-height:1.9}.note{color:#5b6b7c;font-size:14px}
.error{color:#c0262d}
"""


def page(title: str, body: str) -> str:
    return f"""<!doctype html>
<html lang="zh-CN"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{escape(title)} · 合肥通</title><style>{_STYLE}</style></head>
<body><main>{body}</main></body></html>"""


def sign_in_page(
    request_id: str,
    client_name: str,
    phone: str = "",
    message: str = "",
    code_sent: bool = False,
    *,
    csrf: str,
) -> str:
    """``csrf`` binds both forms to this authorize request and this browser (oidc_router)."""
    rid, phone_value = escape(request_id), escape(phone)
    hidden = (
        f'<input type="hidden" name="request" value="{rid}">'
        f'<input type="hidden" name="csrf" value="{escape(csrf)}">'
    )
    note = f'<p class="note" id="message">{escape(message)}</p>' if message else ""
    code_form = (
        f"""<form method="post" action="/oauth2/sign-in">
{hidden}
<input type="hidden" name="phone" value="{phone_value}">
<label for="code">短信验证码</label>
<input id="code" name="code" inputmode="numeric" autocomplete="one-time-code" maxlength="6">
<button id="sign-in" type="submit">登录</button></form>"""
        if code_sent
        else ""
    )
    return page(
        "登录",
        f"""<h1>合肥通统一身份认证</h1>
<p><strong>{escape(client_name)}</strong> 请求使用您的合肥通账号登录。</p>
<div class="card">{note}
<form method="post" action="/oauth2/sign-in/code">
{hidden}
<label for="phone">手机号码</label>
<input id="phone" name="phone" type="tel" inputmode="tel" value="{phone_value}" maxlength="20">
<button id="send-code" type="submit" class="{"secondary" if code_sent else ""}">获取验证码</button>
</form>{code_form}</div>""",
    )


def consent_page(request_id: str, client_name: str, scopes: list[str], csrf: str) -> str:
    items = "".join(f"<li>{escape(SCOPE_TEXT[s])}</li>" for s in scopes)
    rid = escape(request_id)
    return page(
        "授权",
        f"""<h1>授权确认</h1>
<div class="card"><p><strong>{escape(client_name)}</strong> 将获取您的以下信息：</p>
<ul>{items}</ul>
<p class="note">您可以随时在合肥通“我的-授权管理”中撤销授权。</p>
<form method="post" action="/oauth2/consent">
<input type="hidden" name="request" value="{rid}"><input type="hidden" name="csrf" value="{csrf}">
<button id="allow" type="submit" name="decision" value="allow">同意并继续</button>
<button id="deny" type="submit" name="decision" value="deny" class="secondary">拒绝</button>
</form></div>""",
    )


def error_page(message: str, code: str | None = None) -> str:
    """``code``: the refusal's stable code, shown small for support (e.g. CSRF_CHECK_FAILED)."""
    shown = (
        f'<p class="note">错误代码 / Code: <span id="error-code">{escape(code)}</span></p>'
        if code
        else ""
    )
    return page(
        "出错了",
        f'<h1>无法完成登录</h1><div class="card"><p class="error">{escape(message)}</p>'
        f"{shown}</div>",
    )
