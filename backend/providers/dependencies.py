"""Who is calling the provider onboarding API: a provider's client, and in which role."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated, Literal, Protocol, cast

from fastapi import Depends, Request

from backend.db import SessionDep
from backend.errors import AppError
from backend.identity import ClientToken, client_claims
from backend.pii import PiiCipher
from backend.providers.models import Provider
from backend.providers.sync import AdapterSync
from backend.state import CoreState, lifespan_state
from integrations.base import AdapterRegistry
from integrations.invoker import Invoker


class NotAProvider(AppError):
    status = 403
    code = "PROVIDER_REQUIRED"
    title_zh = "需要服务提供方凭证"
    title_en = "A provider's client is required"


class ProviderAdminRequired(AppError):
    status = 403
    code = "PROVIDER_ADMIN_REQUIRED"
    title_zh = "需要服务提供方管理员权限"
    title_en = "The provider's administrator role is required"


@dataclass(frozen=True)
class ProviderCaller:
    provider: Provider
    client_id: str
    role: Literal["admin", "operator"]


async def current_provider(
    request: Request, db: SessionDep, _: ClientToken = None
) -> ProviderCaller:
    claims = await client_claims(request)
    scopes = str(claims["scope"]).split()
    department = claims.get("department")
    provider = await db.get(Provider, str(department)) if department else None
    if provider is None or not {"provider.admin", "provider.operator"} & set(scopes):
        raise NotAProvider()
    role: Literal["admin", "operator"] = "admin" if "provider.admin" in scopes else "operator"
    return ProviderCaller(provider, str(claims["sub"]), role)


async def current_provider_admin(caller: CurrentProvider) -> ProviderCaller:
    if caller.role != "admin":
        raise ProviderAdminRequired()
    return caller


CurrentProvider = Annotated[ProviderCaller, Depends(current_provider)]
CurrentProviderAdmin = Annotated[ProviderCaller, Depends(current_provider_admin)]


class ProvidersState(CoreState, Protocol):
    """What provider onboarding reads of the app's state (see backend/state.py)."""

    @property
    def pii(self) -> PiiCipher: ...
    @property
    def registry(self) -> AdapterRegistry: ...
    @property
    def invoker(self) -> Invoker: ...
    @property
    def adapter_sync(self) -> AdapterSync: ...


async def providers_state(request: Request) -> ProvidersState:
    return cast(ProvidersState, lifespan_state(request.app))


ProvidersStateDep = Annotated[ProvidersState, Depends(providers_state)]
