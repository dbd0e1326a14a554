"""Provider states for the consumer contracts (``mobile_contracts/*/pacts``).

Before each interaction the Pact verifier posts ``{"state", "params", "action"}`` to the
state handler; for ``setup`` the handler makes the state true on the running API and answers
with the values the contract's ``${...}`` expressions need (a token, an application id, an
SMS code), which the verifier puts into the replayed request.

States are set up the way the real world gets there: citizens through the identity service
and the sandbox public-security check, applications through the API as the citizen and the
department would, messages by the outbox worker, an outage by the sandbox department's fault
injection. Two shortcuts, both because the state is about *having* it, not getting it: SMS
codes are sent from the identity service directly (the per-address limit of the sign-in
endpoint is the verifier's own address), and the expired token is signed with a lifetime
already over.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Awaitable, Callable
from typing import Any

import httpx
from fastapi import FastAPI
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse
from starlette.routing import Route

from backend.app_state import state_of
from backend.applications.notifications import deliver_pending
from backend.identity.service import Identity
from backend.identity.tokens import TokenService
from integrations.sandbox import SandboxHandle, data
from tests.applications.helpers import department_token, fill
from tests.gateway.helpers import CATALOG, SandboxAdmin
from tests.identity.helpers import latest_code, new_phone, platform_code

STATE_PATH = "/pact-states"
# Where the provider-state setup asks for SMS codes from: not the verifier's address.
STATE_CLIENT_IP = "pact-provider-state"
# The verifier's address as the API sees it (the API runs on loopback): "a code was just sent"
# means sent to this requester, since the back-off counts per phone and requester.
VERIFIER_IP = "127.0.0.1"

Values = dict[str, Any]
Handler = Callable[..., Awaitable[Values]]


def _licences(id_number: str) -> dict[str, str]:
    """The citizen's licences in the sandbox e-license library, by type."""
    return {lic["licenceType"]: lic["licenceNo"] for lic in data.licences(id_number)}


class ProviderStates:
    def __init__(self, app: FastAPI, api: httpx.AsyncClient, sandbox: SandboxHandle) -> None:
        self.app = app
        self.api = api
        self.sandbox = sandbox
        self._departments: dict[str, dict[str, str]] = {}
        self.setups: dict[str, Handler] = {
            "a phone number that has not asked for a code": self.fresh_phone,
            "an SMS code was sent to a phone": self.code_sent,
            "a code was just sent to a phone": self.code_just_sent,
            "a signed-in citizen": self.signed_in,
            "a real-name citizen": self.real_name,
            "an application under review": self.under_review,
            "a completed application": self.completed,
            "a message about an application": self.with_message,
            "an expired access token": self.expired_token,
            "the provident fund system is down": self.provident_fund_down,
            "a WeChat user bound to a citizen": self.bound_wechat_user,
            "a WeChat user not yet bound": self.unbound_wechat_user,
            "a mini-program sign-in waiting for a phone": self.waiting_for_phone,
        }
        self.teardowns: dict[str, Callable[[], Awaitable[None]]] = {
            "the provident fund system is down": self.provident_fund_up,
        }

    @property
    def identity(self) -> Identity:
        identity: Identity = state_of(self.app).identity
        return identity

    # --- the state-change endpoint ------------------------------------------------------

    def asgi(self) -> Starlette:
        return Starlette(routes=[Route(STATE_PATH, self._endpoint, methods=["POST"])])

    async def _endpoint(self, request: Request) -> JSONResponse:
        change = await request.json()
        state, params = change["state"], change.get("params") or {}
        if not state:  # the verifier's set-up call for interactions without a state
            return JSONResponse({})
        if change.get("action") == "teardown":
            teardown = self.teardowns.get(state)
            if teardown is not None:
                await teardown()
            return JSONResponse({})
        setup = self.setups.get(state)
        if setup is None:
            return JSONResponse({"error": f"unknown provider state: {state}"}, status_code=400)
        return JSONResponse(await setup(**params))

    # --- sign-in ----------------------------------------------------------------------

    async def fresh_phone(self) -> Values:
        return {"phone": new_phone()}

    async def code_sent(self) -> Values:
        phone = new_phone()
        await self.identity.send_login_code(phone, STATE_CLIENT_IP)
        return {"phone": phone, "code": await latest_code(self.sandbox, phone)}

    async def code_just_sent(self) -> Values:
        phone = new_phone()
        await self.identity.send_login_code(phone, VERIFIER_IP)
        return {"phone": phone}

    async def signed_in(self, level: int = 1) -> Values:
        assert level in (1, 2), level
        identity, phone = self.identity, new_phone()
        id_number = data.make_id_no(f"pact-{uuid.uuid4()}")
        async with state_of(self.app).sessions() as db, db.begin():
            citizen = await identity.citizen_for_phone(db, phone, identity.phone_hash(phone))
            if level == 2:
                name = data.person_name(id_number)
                citizen = await identity.verify_real_name(db, citizen, name, id_number)
            tokens = await identity.start_session(db, citizen, "app", "pact verifier")
        return {
            "access_token": tokens.access_token,
            "refresh_token": tokens.refresh_token,
            "id_number": id_number,
        }

    async def real_name(self) -> Values:
        citizen = await self.signed_in(level=2)
        return citizen | {"licence_no": _licences(citizen["id_number"])["id_card"]}

    async def expired_token(self) -> Values:
        citizen = await self.signed_in()
        claims = await self.identity.tokens.verify(citizen["access_token"])
        live = self.identity.tokens
        # The same keys, issuer and audience; a lifetime that ended a minute ago.
        expired = TokenService(
            live.keys, live.kv, issuer=live.issuer, audience=live.audience, ttl=-60
        )
        token, _ = expired.issue(
            claims.subject,
            claims.session_id,
            claims.assurance_level,
            auth_time=int(time.time()) - 3600,
        )
        return {"access_token": token}

    # --- applications -----------------------------------------------------------------

    async def _department_headers(self, service_code: str) -> dict[str, str]:
        """The first reviewing department of the service, signed in as its system."""
        service = next(s for s in CATALOG.services if s.code == service_code)
        department = (service.review_departments or [service.department])[0]
        if department not in self._departments:
            token = await department_token(self.app, self.api, department)
            self._departments[department] = {"Authorization": f"Bearer {token}"}
        return self._departments[department]

    async def _call(self, path: str, headers: dict[str, str], body: Any = None) -> Any:
        key = {"Idempotency-Key": f"pact-{uuid.uuid4()}"}
        response = await self.api.post(path, json=body, headers=headers | key)
        assert response.status_code < 300, (path, response.text)
        return response.json()

    async def _submitted(self, service_code: str) -> Values:
        """The citizen's application for the service, its form filled and the materials the
        e-license library holds attached by reference."""
        citizen = await self.real_name()
        service = next(s for s in CATALOG.services if s.code == service_code)
        licences = _licences(citizen["id_number"])
        materials = [
            {"code": m.code, "licence_no": licences[m.e_license]}
            for m in service.materials or []
            if m.e_license in licences
        ]
        body = {"service_code": service_code, "form": fill(service_code), "materials": materials}
        bearer = {"Authorization": f"Bearer {citizen['access_token']}"}
        created = await self._call("/v1/applications", bearer, body)
        return citizen | {"application_id": created["id"]}

    async def under_review(self, service_code: str) -> Values:
        application = await self._submitted(service_code)
        path = f"/v1/provider/applications/{application['application_id']}"
        await self._call(f"{path}/accept", await self._department_headers(service_code))
        return application

    async def completed(self, service_code: str) -> Values:
        application = await self.under_review(service_code)
        path = f"/v1/provider/applications/{application['application_id']}"
        department = await self._department_headers(service_code)
        await self._call(f"{path}/reviews", department, {"decision": "approve", "opinion": "同意"})
        await self._call(f"{path}/complete", department, {"licence_no": "PACT-2026-0001"})
        return application

    async def with_message(self, service_code: str) -> Values:
        application = await self.under_review(service_code)
        await deliver_pending(state_of(self.app).sessions, self.identity)
        return application

    # --- departments ------------------------------------------------------------------

    async def provident_fund_down(self) -> Values:
        citizen = await self.real_name()
        await SandboxAdmin(self.sandbox).fault("provident_fund", error_rate=1.0, status=503)
        return citizen

    async def provident_fund_up(self) -> None:
        await SandboxAdmin(self.sandbox).clear("provident_fund")
        # The outage opened the adapter's breaker; the department being up means a call
        # reaches it again (in production the trial call after the open period does this).
        await state_of(self.app).gateway.invoker.breaker("provident_fund").reset()

    # --- mini-program -----------------------------------------------------------------

    async def _binding_ticket(self, user: str) -> str:
        body = {"platform": "wechat", "code": await platform_code(self.sandbox, "wechat", user)}
        pending = await self.api.post("/v1/auth/login/mini-program", json=body)
        assert pending.status_code == 200 and not pending.json()["bound"], pending.text
        return str(pending.json()["binding_ticket"])

    async def unbound_wechat_user(self) -> Values:
        return {"code": await platform_code(self.sandbox, "wechat", f"pact-{uuid.uuid4()}")}

    async def waiting_for_phone(self) -> Values:
        ticket = await self._binding_ticket(f"pact-{uuid.uuid4()}")
        return {"binding_ticket": ticket} | await self.code_sent()

    async def bound_wechat_user(self) -> Values:
        user = f"pact-{uuid.uuid4()}"
        ticket = await self._binding_ticket(user)
        sms = await self.code_sent()
        bind = {"binding_ticket": ticket, "phone": sms["phone"], "code": sms["code"]}
        bound = await self.api.post("/v1/auth/login/mini-program/bind", json=bind)
        assert bound.status_code == 200, bound.text
        return {"code": await platform_code(self.sandbox, "wechat", user)}
