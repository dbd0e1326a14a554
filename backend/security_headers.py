"""Response headers that keep browsers from misusing what the API sends.

On every response: ``X-Content-Type-Options: nosniff`` (a JSON body or an uploaded file
is never run as a script or page), ``Referrer-Policy: same-origin`` (the OIDC pages' URLs
carry ``state`` and request ids; not ``no-referrer``, under which a browser sends
``Origin: null`` with our own forms and the sign-in's Origin check could not tell them from
another site's), ``X-Frame-Options: DENY`` with a
``Content-Security-Policy`` whose ``frame-ancestors 'none'`` keeps every page out of other
sites' frames (clickjacking of the consent page), ``Cache-Control: no-store`` unless the
route chose its own (tokens and personal data never rest in a shared cache; the catalog
sets ``public, max-age``), and HSTS where configured (production by default).

HTML pages get a policy that allows only their own inline styles; the interactive API docs
(Swagger UI, ReDoc) load their scripts from a CDN and get a policy of their own.
Plain ASGI, like the observability middleware: it only appends headers.
"""

from __future__ import annotations

from collections.abc import Mapping

from starlette.types import ASGIApp, Message, Receive, Scope, Send

# Not HTML: nothing in it may load or frame anything.
API_POLICY = "default-src 'none'; frame-ancestors 'none'"
# The sign-in, consent and error pages: one inline <style>, no scripts. No form-action:
# the consent form's answer is a redirect to the department, which form-action would block.
PAGE_POLICY = (
    "default-src 'none'; style-src 'unsafe-inline'; img-src 'self' data:; "
    "base-uri 'none'; frame-ancestors 'none'"
)
# FastAPI's Swagger UI and ReDoc pages: scripts and styles from jsDelivr, an inline start-up
# script, ReDoc's fonts and worker.
DOCS_POLICY = (
    "default-src 'none'; script-src 'unsafe-inline' https://cdn.jsdelivr.net; "
    "style-src 'unsafe-inline' https://cdn.jsdelivr.net https://fonts.googleapis.com; "
    "font-src https://fonts.gstatic.com; img-src 'self' data: https://fastapi.tiangolo.com "
    "https://cdn.redoc.ly; connect-src 'self'; worker-src blob:; base-uri 'none'; "
    "frame-ancestors 'none'"
)


class SecurityHeaders:
    def __init__(
        self, app: ASGIApp, *, hsts_max_age: int = 0, page_policies: Mapping[str, str] = {}
    ) -> None:
        self.app = app
        self.always: list[tuple[bytes, bytes]] = [
            (b"x-content-type-options", b"nosniff"),
            (b"referrer-policy", b"same-origin"),
            (b"x-frame-options", b"DENY"),
        ]
        if hsts_max_age > 0:
            value = f"max-age={hsts_max_age}; includeSubDomains".encode()
            self.always.append((b"strict-transport-security", value))
        self.page_policies = {path: policy.encode() for path, policy in page_policies.items()}
        self.no_store = (b"cache-control", b"no-store")
        self.api_policy = (b"content-security-policy", API_POLICY.encode())
        self.page_policy = (b"content-security-policy", PAGE_POLICY.encode())

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return

        async def send_with_headers(message: Message) -> None:
            if message["type"] == "http.response.start":
                headers = list(message.get("headers", []))
                has_cache_control = has_policy = False
                html = False
                for name, value in headers:
                    lowered = name.lower()
                    if lowered == b"cache-control":
                        has_cache_control = True
                    elif lowered == b"content-security-policy":
                        has_policy = True
                    elif lowered == b"content-type":
                        html = value.lower().startswith(b"text/html")
                headers += self.always
                if not has_cache_control:
                    headers.append(self.no_store)
                if not has_policy:
                    policy = self.page_policies.get(scope["path"])
                    if policy is not None:
                        headers.append((b"content-security-policy", policy))
                    else:
                        headers.append(self.page_policy if html else self.api_policy)
                message["headers"] = headers
            await send(message)

        await self.app(scope, receive, send_with_headers)
