"""Provider onboarding over HTTP: administrators create providers and approve services;
providers register, version, dry-run and publish their adapters, and propose services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query, Request
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity.clients import create_client, rotate_secret
from backend.identity.exceptions import InvalidToken
from backend.identity.models import OAuthClient
from backend.identity.provider_auth import CurrentAdmin, NotAnAdministrator
from backend.providers import catalog as provider_catalog
from backend.providers import service
from backend.providers.dependencies import (
    CurrentProvider,
    CurrentProviderAdmin,
    NotAProvider,
    ProviderAdminRequired,
)
from backend.providers.dryrun import dry_run
from backend.providers.health import AdapterHealth, adapter_health
from backend.providers.models import AdapterVersion, Provider, ProviderAdapter, ProviderService
from backend.providers.specs import SpecInvalid, compile_spec

admin_router = APIRouter(prefix="/v1/admin", tags=["admin"])
router = APIRouter(prefix="/v1/provider", tags=["provider"])
ADMIN = (InvalidToken, NotAnAdministrator)
PROVIDER = (InvalidToken, NotAProvider)
Code = Annotated[str, Field(pattern=r"^[a-z][a-z0-9-]{1,63}$", examples=["hf-water"])]
Host = Annotated[str, Field(min_length=1, max_length=253, pattern=r"^[A-Za-z0-9.:\[\]-]+$")]


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


# --- platform administrators ------------------------------------------------------


class ProviderCreate(_Body):
    code: Code = Field(description="The department's code in the catalog")
    name_zh: str = Field(min_length=2, max_length=100)
    name_en: str = Field(min_length=2, max_length=200)
    allowed_hosts: list[Host] = Field(min_length=1, max_length=20)
    internal_hosts: list[Host] = Field(
        default_factory=list,
        max_length=20,
        description="Hosts allowed although they are internal (government network)",
    )


class ProviderOut(BaseModel):
    code: str
    name_zh: str
    name_en: str
    allowed_hosts: list[str]
    internal_hosts: list[str]
    created_at: datetime


class ClientCredentials(BaseModel):
    client_id: str
    client_secret: str = Field(description="Shown once; only its hash is kept")


class ProviderCreated(ProviderOut):
    client: ClientCredentials


@admin_router.post(
    "/providers",
    response_model=ProviderCreated,
    status_code=201,
    summary="开通服务提供方 / Create a provider",
    responses=problem_responses(*ADMIN, service.ProviderExists, service.ProviderHostsInvalid),
)
async def create_provider(body: ProviderCreate, _: CurrentAdmin, db: SessionDep) -> ProviderCreated:
    provider, client_id, secret = await service.create_provider(
        db, body.code, body.name_zh, body.name_en, body.allowed_hosts, body.internal_hosts
    )
    return ProviderCreated(
        **provider.model_dump(), client=ClientCredentials(client_id=client_id, client_secret=secret)
    )


@admin_router.get(
    "/providers",
    response_model=list[ProviderOut],
    summary="服务提供方列表 / Providers",
    responses=problem_responses(*ADMIN),
)
async def list_providers(_: CurrentAdmin, db: SessionDep) -> list[ProviderOut]:
    rows = await db.exec(select(Provider).order_by(col(Provider.code)))
    return [ProviderOut(**p.model_dump()) for p in rows.all()]


class ServiceProposal(_Body):
    code: Code = Field(description="The new service's code in the catalog")
    domain: str = Field(max_length=32, examples=["housing"])
    name_zh: str = Field(min_length=2, max_length=100)
    name_en: str = Field(min_length=2, max_length=200)
    summary_zh: str = Field(min_length=2, max_length=500)
    summary_en: str = Field(min_length=2, max_length=1000)
    min_level: int = Field(ge=0, le=3, description="Assurance level a citizen needs")
    keywords: list[Annotated[str, Field(max_length=32)]] = Field(
        default_factory=list, max_length=20
    )
    adapter_id: str = Field(max_length=64)
    operation: str = Field(max_length=64)


class ProposalOut(BaseModel):
    id: str
    code: str
    provider_code: str
    adapter_id: str
    operation: str
    status: Literal["proposed", "approved", "rejected"]
    note: str | None
    entry: dict[str, Any]
    created_at: datetime
    decided_at: datetime | None


class Decision(_Body):
    note: str | None = Field(default=None, max_length=500)


def _proposal(p: ProviderService) -> ProposalOut:
    return ProposalOut.model_validate(p, from_attributes=True)


@admin_router.get(
    "/provider-services",
    response_model=list[ProposalOut],
    summary="待审事项 / Service proposals",
    responses=problem_responses(*ADMIN),
)
async def list_proposals(
    _: CurrentAdmin,
    db: SessionDep,
    status: Annotated[Literal["proposed", "approved", "rejected"] | None, Query()] = "proposed",
) -> list[ProposalOut]:
    query = select(ProviderService).order_by(col(ProviderService.created_at))
    if status is not None:
        query = query.where(ProviderService.status == status)
    return [_proposal(p) for p in (await db.exec(query.limit(200))).all()]


DECISION_PROBLEMS = problem_responses(
    *ADMIN,
    provider_catalog.ProposalNotFound,
    provider_catalog.ProposalDecided,
    provider_catalog.ServiceCodeTaken,
)


@admin_router.post(
    "/provider-services/{proposal_id}/approve",
    response_model=ProposalOut,
    summary="上架事项 / Approve: the service joins the catalog",
    responses=DECISION_PROBLEMS,
)
async def approve(proposal_id: str, body: Decision, _: CurrentAdmin, db: SessionDep) -> ProposalOut:
    return _proposal(await provider_catalog.decide(db, proposal_id, True, body.note))


@admin_router.post(
    "/provider-services/{proposal_id}/reject",
    response_model=ProposalOut,
    summary="驳回事项 / Reject a proposal",
    responses=DECISION_PROBLEMS,
)
async def reject(proposal_id: str, body: Decision, _: CurrentAdmin, db: SessionDep) -> ProposalOut:
    return _proposal(await provider_catalog.decide(db, proposal_id, False, body.note))


# --- providers --------------------------------------------------------------------


class ClientCreate(_Body):
    name: str = Field(min_length=2, max_length=100)
    role: Literal["operator", "admin"] = "operator"


@router.post(
    "/clients",
    response_model=ClientCredentials,
    status_code=201,
    summary="新增接入凭证 / Add a client (operator or admin)",
    responses=problem_responses(*PROVIDER, ProviderAdminRequired),
)
async def add_client(
    body: ClientCreate, caller: CurrentProviderAdmin, db: SessionDep
) -> ClientCredentials:
    scopes = (
        service.PROVIDER_ADMIN_SCOPES
        if body.role == "admin"
        else (service.PROVIDER_OPERATOR_SCOPES)
    )
    client, secret = await create_client(
        db, body.name, kind="department", department_code=caller.provider.code, scopes=scopes
    )
    return ClientCredentials(client_id=client.client_id, client_secret=secret)


@router.post(
    "/client-secret",
    response_model=ClientCredentials,
    summary="轮换本凭证密钥 / Rotate this client's secret",
    responses=problem_responses(*PROVIDER),
)
async def rotate_own_secret(caller: CurrentProvider, db: SessionDep) -> ClientCredentials:
    client = await db.get(OAuthClient, caller.client_id)
    assert client is not None  # it just authenticated
    return ClientCredentials(
        client_id=client.client_id, client_secret=await rotate_secret(db, client)
    )


class SpecBody(_Body):
    spec: dict[str, Any] = Field(
        description="The adapter spec (integrations/spec_schema.json); secrets are write-only:"
        " send '********' to keep a secret of the previous version"
    )


class VersionOut(BaseModel):
    version: int
    created_by: str
    created_at: datetime
    operations: list[str]


class VersionDetail(VersionOut):
    spec: dict[str, Any] = Field(description="Secrets show as '********'")


class AdapterOut(BaseModel):
    adapter_id: str
    active_version: int | None
    latest_version: int
    versions: list[VersionOut]


def _version(v: AdapterVersion) -> VersionOut:
    return VersionOut(
        version=v.version,
        created_by=v.created_by,
        created_at=v.created_at,
        operations=sorted(v.spec.get("operations", {})),
    )


async def _adapter_out(db: SessionDep, adapter: ProviderAdapter) -> AdapterOut:
    return AdapterOut(
        adapter_id=adapter.adapter_id,
        active_version=adapter.active_version,
        latest_version=adapter.latest_version,
        versions=[_version(v) for v in await service.versions(db, adapter.adapter_id)],
    )


SPEC_PROBLEMS = problem_responses(
    *PROVIDER, SpecInvalid, service.AdapterIdTaken, service.AdapterNotFound
)


@router.post(
    "/adapters",
    response_model=AdapterOut,
    status_code=201,
    summary="注册适配器 / Register an adapter (version 1)",
    responses=SPEC_PROBLEMS,
)
async def register_adapter(
    body: SpecBody, caller: CurrentProvider, request: Request, db: SessionDep
) -> AdapterOut:
    adapter, _ = await service.add_version(
        db,
        request.app.state.identity.pii,
        caller.provider,
        body.spec,
        caller.client_id,
        request.app.state.registry,
    )
    return await _adapter_out(db, adapter)


@router.get(
    "/adapters",
    response_model=list[AdapterOut],
    summary="我的适配器 / My adapters",
    responses=problem_responses(*PROVIDER),
)
async def list_adapters(caller: CurrentProvider, db: SessionDep) -> list[AdapterOut]:
    rows = await db.exec(
        select(ProviderAdapter)
        .where(ProviderAdapter.provider_code == caller.provider.code)
        .order_by(col(ProviderAdapter.adapter_id))
    )
    return [await _adapter_out(db, a) for a in rows.all()]


@router.get(
    "/adapters/{adapter_id}",
    response_model=AdapterOut,
    summary="适配器及其版本 / An adapter and its versions",
    responses=problem_responses(*PROVIDER, service.AdapterNotFound),
)
async def get_adapter(adapter_id: str, caller: CurrentProvider, db: SessionDep) -> AdapterOut:
    return await _adapter_out(db, await service.owned_adapter(db, caller.provider.code, adapter_id))


@router.post(
    "/adapters/{adapter_id}/versions",
    response_model=AdapterOut,
    status_code=201,
    summary="新版本 / Add a version",
    responses=SPEC_PROBLEMS,
)
async def add_version(
    adapter_id: str, body: SpecBody, caller: CurrentProvider, request: Request, db: SessionDep
) -> AdapterOut:
    await service.owned_adapter(db, caller.provider.code, adapter_id)
    adapter, _ = await service.add_version(
        db,
        request.app.state.identity.pii,
        caller.provider,
        body.spec,
        caller.client_id,
        request.app.state.registry,
        adapter_id=adapter_id,
    )
    return await _adapter_out(db, adapter)


VERSION_PROBLEMS = problem_responses(*PROVIDER, service.AdapterNotFound, service.VersionNotFound)


@router.get(
    "/adapters/{adapter_id}/versions/{version}",
    response_model=VersionDetail,
    summary="版本详情 / A version's spec",
    responses=VERSION_PROBLEMS,
)
async def get_version(
    adapter_id: str, version: int, caller: CurrentProvider, db: SessionDep
) -> VersionDetail:
    await service.owned_adapter(db, caller.provider.code, adapter_id)
    row = await service.version_of(db, adapter_id, version)
    return VersionDetail(**_version(row).model_dump(), spec=row.spec)


class DiffOut(BaseModel):
    from_version: int
    to_version: int
    diff: str = Field(description="Unified diff of the two specs")


@router.get(
    "/adapters/{adapter_id}/diff",
    response_model=DiffOut,
    summary="版本比较 / Diff two versions",
    responses=VERSION_PROBLEMS,
)
async def diff_versions(
    adapter_id: str,
    caller: CurrentProvider,
    db: SessionDep,
    from_version: Annotated[int, Query(alias="from", ge=1)],
    to_version: Annotated[int, Query(alias="to", ge=1)],
) -> DiffOut:
    await service.owned_adapter(db, caller.provider.code, adapter_id)
    old = await service.version_of(db, adapter_id, from_version)
    new = await service.version_of(db, adapter_id, to_version)
    return DiffOut(from_version=from_version, to_version=to_version, diff=service.diff(old, new))


class DryRunError(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    class_: str = Field(alias="class", description="AdapterBadResponse, RequestRejected, …")
    message: str
    upstream_code: str | None = None
    errors: list[dict[str, Any]] | None = Field(None, description="Parameter errors")


class DryRunOut(BaseModel):
    ok: bool
    result: Any = None
    error: DryRunError | None = None
    elapsed_ms: float
    steps: list[dict[str, Any]] = Field(
        description="request, response, decode, success, result: what was sent, what came"
        " back and what each mapping made of it (credentials masked)"
    )


class DryRunRequest(_Body):
    operation: str = Field(max_length=64)
    params: dict[str, Any] = Field(default_factory=dict)


@router.post(
    "/adapters/{adapter_id}/versions/{version}/dry-run",
    response_model=DryRunOut,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    summary="试调用 / Dry-run one operation against the real endpoint",
    responses=VERSION_PROBLEMS,
)
async def dry_run_version(
    adapter_id: str,
    version: int,
    body: DryRunRequest,
    caller: CurrentProvider,
    request: Request,
    db: SessionDep,
) -> DryRunOut:
    await service.owned_adapter(db, caller.provider.code, adapter_id)
    row = await service.version_of(db, adapter_id, version)
    spec = compile_spec(service.full_document(request.app.state.identity.pii, row))
    transport = request.app.state.adapter_sync.transport_for(caller.provider)
    return DryRunOut.model_validate(await dry_run(spec, transport, body.operation, body.params))


@router.post(
    "/adapters/{adapter_id}/versions/{version}/publish",
    response_model=AdapterOut,
    summary="发布或回滚 / Publish (or roll back to) a version",
    description="所有实例数秒内切换，进行中的调用在旧版本上完成。 Every worker switches"
    " within seconds; calls under way finish on the old version.",
    responses=problem_responses(
        *PROVIDER,
        ProviderAdminRequired,
        service.AdapterNotFound,
        service.VersionNotFound,
        service.PublishWouldBreakServices,
    ),
)
async def publish(
    adapter_id: str, version: int, caller: CurrentProviderAdmin, db: SessionDep
) -> AdapterOut:
    adapter = await service.owned_adapter(db, caller.provider.code, adapter_id)
    await service.publish(db, adapter, await service.version_of(db, adapter_id, version))
    return await _adapter_out(db, adapter)


@router.get(
    "/adapters/{adapter_id}/health",
    response_model=AdapterHealth,
    summary="运行状况 / Health: success rate, latency, breaker, last error",
    description=(
        "每个接口在1分钟、5分钟、1小时窗口内的成功率与p50/p95时延（全部实例汇总）、熔断状态、"
        "最近一次错误。 Per operation over 1 min, 5 min and 1 h (all instances): success rate,"
        " p50/p95 latency, the breaker state and the last error class."
    ),
    responses=problem_responses(*PROVIDER, service.AdapterNotFound),
)
async def adapter_health_route(
    adapter_id: str, caller: CurrentProvider, request: Request, db: SessionDep
) -> AdapterHealth:
    adapter = await service.owned_adapter(db, caller.provider.code, adapter_id)
    if adapter.active_version is None:
        raise service.AdapterNotFound("Not published yet: nothing runs to measure")
    state = request.app.state
    return await adapter_health(state.kv, state.gateway.invoker, state.registry, adapter_id)


@router.post(
    "/services",
    response_model=ProposalOut,
    status_code=201,
    summary="申请上架事项 / Propose a catalog service",
    responses=problem_responses(
        *PROVIDER, provider_catalog.ProposalInvalid, provider_catalog.ServiceCodeTaken
    ),
)
async def propose_service(
    body: ServiceProposal, caller: CurrentProvider, db: SessionDep
) -> ProposalOut:
    return _proposal(await provider_catalog.propose(db, caller.provider, body.model_dump()))


@router.get(
    "/services",
    response_model=list[ProposalOut],
    summary="我的事项 / My services",
    responses=problem_responses(*PROVIDER),
)
async def my_services(caller: CurrentProvider, db: SessionDep) -> list[ProposalOut]:
    rows = await db.exec(
        select(ProviderService)
        .where(ProviderService.provider_code == caller.provider.code)
        .order_by(col(ProviderService.created_at))
    )
    return [_proposal(p) for p in rows.all()]
