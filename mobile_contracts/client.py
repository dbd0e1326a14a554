"""The API as the app and the mini-program call it: the consumer side of the contracts.

This is a model of the two clients' networking layer, kept small on purpose: each method is
one call a screen makes, and it returns the decoded JSON the screen reads. The consumer
tests run it against Pact's mock server, so the contract records exactly the requests the
clients send and the parts of the answers they read. Errors come back as ``ApiProblem``
with the RFC 9457 fields the clients branch on (``status`` and the stable ``code``).
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import httpx

PROBLEM_JSON = "application/problem+json"


@dataclass
class ApiProblem(Exception):
    """An RFC 9457 problem answer; the clients branch on ``code``, never on ``title``."""

    status: int
    code: str
    title: str
    detail: str | None = None
    # Seconds to wait before asking again (429), from the Retry-After header.
    retry_after: int | None = None
    # The bearer challenge of a 401: an app refreshes on error="invalid_token".
    challenge: str | None = None

    @classmethod
    def from_response(cls, response: httpx.Response) -> ApiProblem:
        media_type = response.headers.get("content-type", "").split(";")[0]
        if media_type != PROBLEM_JSON:
            raise AssertionError(f"error {response.status_code} is not a problem: {media_type}")
        body = response.json()
        retry_after = response.headers.get("retry-after")
        return cls(
            status=int(body["status"]),
            code=str(body["code"]),
            title=str(body["title"]),
            detail=body.get("detail"),
            retry_after=int(retry_after) if retry_after else None,
            challenge=response.headers.get("www-authenticate"),
        )


class HefeiTongClient:
    def __init__(self, base_url: str, access_token: str | None = None) -> None:
        self.base_url = base_url
        self.access_token = access_token

    def _send(
        self,
        method: str,
        path: str,
        *,
        json: Any = None,
        params: dict[str, str] | None = None,
        headers: dict[str, str] | None = None,
    ) -> Any:
        sent = dict(headers or {})
        if self.access_token is not None:
            sent["Authorization"] = f"Bearer {self.access_token}"
        response = httpx.request(
            method, self.base_url + path, json=json, params=params, headers=sent, timeout=10
        )
        if response.status_code >= 400:
            raise ApiProblem.from_response(response)
        return response.json() if response.content else None

    # --- catalog --------------------------------------------------------------------

    def domains(self) -> Any:
        return self._send("GET", "/v1/domains")

    def services(self, *, domain: str | None = None, q: str | None = None) -> Any:
        params = {k: v for k, v in (("domain", domain), ("q", q)) if v is not None}
        return self._send("GET", "/v1/services", params=params)

    def service(self, code: str) -> Any:
        return self._send("GET", f"/v1/services/{code}")

    # --- sign-in --------------------------------------------------------------------

    def send_sms_code(self, phone: str) -> Any:
        return self._send("POST", "/v1/auth/sms-codes", json={"phone": phone})

    def login_sms(self, phone: str, code: str, *, client: str, device: str) -> Any:
        body = {"phone": phone, "code": code, "client": client, "device": device}
        return self._send("POST", "/v1/auth/login/sms", json=body)

    def login_mini_program(self, platform: str, code: str) -> Any:
        body = {"platform": platform, "code": code}
        return self._send("POST", "/v1/auth/login/mini-program", json=body)

    def bind_mini_program(self, binding_ticket: str, phone: str, code: str) -> Any:
        body = {"binding_ticket": binding_ticket, "phone": phone, "code": code}
        return self._send("POST", "/v1/auth/login/mini-program/bind", json=body)

    def refresh(self, refresh_token: str) -> Any:
        return self._send("POST", "/v1/auth/refresh", json={"refresh_token": refresh_token})

    # --- services -------------------------------------------------------------------

    def overview(self) -> Any:
        return self._send("GET", "/v1/me/overview")

    def invoke(self, code: str, params: dict[str, Any] | None = None) -> Any:
        return self._send("POST", f"/v1/services/{code}/invoke", json={"params": params or {}})

    # --- applications ---------------------------------------------------------------

    def submit(
        self,
        service_code: str,
        form: dict[str, Any],
        materials: list[dict[str, str]],
        *,
        idempotency_key: str | None = None,
    ) -> Any:
        # One key per tap on "submit": a retry after a lost answer gets the same application.
        key = idempotency_key or f"submit-{uuid.uuid4()}"
        body = {"service_code": service_code, "form": form, "materials": materials}
        return self._send("POST", "/v1/applications", json=body, headers={"Idempotency-Key": key})

    def applications(self) -> Any:
        return self._send("GET", "/v1/applications")

    def application(self, application_id: str) -> Any:
        return self._send("GET", f"/v1/applications/{application_id}")

    def rate(self, application_id: str, score: int, comment: str | None = None) -> Any:
        body = {"score": score, "comment": comment}
        return self._send("POST", f"/v1/applications/{application_id}/rating", json=body)

    def messages(self) -> Any:
        return self._send("GET", "/v1/me/messages")
