"""Logout, logout-all and reuse take effect on every instance sharing one Redis."""

from __future__ import annotations

from integrations.sandbox import SandboxHandle
from tests.conftest import SharedApp, running_app
from tests.identity.helpers import bearer, new_phone, sign_in


async def test_revocation_reaches_another_instance(
    production_app: SharedApp, sandbox: SandboxHandle
) -> None:
    # Two workers of one deployment: same database, Redis namespace and signing keys.
    worker_a = production_app.client
    async with running_app(production_app.settings) as (_, worker_b):
        phone = new_phone()
        phone_1 = await sign_in(worker_a, sandbox, phone, device="phone")
        tablet = await sign_in(worker_a, sandbox, phone, device="tablet")
        stranger = await sign_in(worker_a, sandbox)
        for tokens in (phone_1, tablet, stranger):
            assert (await worker_b.get("/v1/me", headers=bearer(tokens))).status_code == 200

        assert (await worker_a.post("/v1/auth/logout", headers=bearer(phone_1))).status_code == 204
        assert (await worker_b.get("/v1/me", headers=bearer(phone_1))).status_code == 401
        assert (await worker_b.get("/v1/me", headers=bearer(tablet))).status_code == 200

        laptop = await sign_in(worker_b, sandbox, phone, device="laptop")
        response = await worker_b.post("/v1/auth/logout-all", headers=bearer(tablet))
        assert response.status_code == 204
        for tokens in (tablet, laptop):
            assert (await worker_a.get("/v1/me", headers=bearer(tokens))).status_code == 401
            refresh = await worker_a.post(
                "/v1/auth/refresh", json={"refresh_token": tokens["refresh_token"]}
            )
            assert refresh.status_code == 401
        assert (await worker_a.get("/v1/me", headers=bearer(stranger))).status_code == 200
