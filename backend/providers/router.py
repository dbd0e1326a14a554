"""Provider onboarding over HTTP: administrators create providers and approve services;
providers register, version, dry-run and publish their adapters, and propose services."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal

from fastapi import APIRouter, Query
from pydantic import BaseModel, ConfigDict, Field
from sqlmodel import col, select

from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity import (
    CurrentAdmin,
    InvalidToken,
    NotAnAdministrator,
    create_client,
    rotate_secret_of,
)
from backend.providers import proposals as provider_catalog
from backend.providers import service
from backend.providers.dependencies import (
    CurrentProvider,
    CurrentProviderAdmin,
    NotAProvider,
    ProviderAdminRequired,
    ProvidersStateDep,
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
    description=(
        "平台管理员为部门开通服务提供方，并返回其第一个管理员凭证；`client_secret` 只返回这一次。"
        " For platform administrators: onboards a department as a provider and returns its first"
        " administrator client; the `client_secret` is shown only this once. 409 `PROVIDER_EXISTS`;"
        " an entry that is not a plain host, or an internal host missing from `allowed_hosts`, is"
        " 422 `PROVIDER_HOSTS_INVALID`."
    ),
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
    description=(
        "平台管理员查看全部服务提供方（部门）及其适配器可访问的主机。"
        " For platform administrators: every onboarded provider (department), with the hosts its"
        " adapters may call."
    ),
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
    description=(
        "平台管理员查看服务提供方申请上架的事项，默认只列待审的（`status=proposed`），最早的在前，"
        "最多200条。"
        " For platform administrators: services proposed by providers, by default only those"
        " awaiting a decision (`status=proposed`), oldest first, at most 200."
    ),
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
    description=(
        "批准上架：事项绑定其适配器已发布版本的接口加入目录，各实例数秒内可见；"
        "须先发布含该接口的版本。"
        " Approves a proposal: the service joins the catalog, bound to an operation of the"
        " adapter's published version, on every worker within seconds. Already decided, or the"
        " operation not published yet: 409 `SERVICE_PROPOSAL_DECIDED`; the code taken meanwhile:"
        " 409 `SERVICE_CODE_TAKEN`."
    ),
    responses=DECISION_PROBLEMS,
)
async def approve(proposal_id: str, body: Decision, _: CurrentAdmin, db: SessionDep) -> ProposalOut:
    return _proposal(await provider_catalog.decide(db, proposal_id, True, body.note))


@admin_router.post(
    "/provider-services/{proposal_id}/reject",
    response_model=ProposalOut,
    summary="驳回事项 / Reject a proposal",
    description=(
        "驳回上架申请，可附给提供方的说明。"
        " Rejects a proposal, with an optional note for the provider; one already decided is 409"
        " `SERVICE_PROPOSAL_DECIDED`."
    ),
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
    description=(
        "提供方管理员为本单位系统新增接入凭证（操作员或管理员角色），密钥只返回这一次。"
        " A provider administrator adds a client for the provider's systems, as operator or"
        " administrator; the secret is shown only this once. Operators get 403"
        " `PROVIDER_ADMIN_REQUIRED`."
    ),
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
    description=(
        "轮换发出请求的凭证的密钥，旧密钥立即失效；新密钥只返回这一次。"
        " Rotates the secret of the calling client: the old secret stops working at once, and the"
        " new one is shown only this once."
    ),
    responses=problem_responses(*PROVIDER),
)
async def rotate_own_secret(caller: CurrentProvider, db: SessionDep) -> ClientCredentials:
    secret = await rotate_secret_of(db, caller.client_id)
    return ClientCredentials(client_id=caller.client_id, client_secret=secret)


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
    description=(
        "提交适配器规格注册新适配器（版本1）；规格整体校验，有误时一并列出且不保存；"
        "发布后才对市民生效。"
        " Registers an adapter from its spec as version 1. The spec is validated whole: any problem"
        " is 422 `ADAPTER_SPEC_INVALID` listing them all, and nothing is stored. Citizens are"
        " served by it only once a version is published; an id in use is 409 `ADAPTER_ID_TAKEN`."
    ),
    responses=SPEC_PROBLEMS,
)
async def register_adapter(
    body: SpecBody, caller: CurrentProvider, state: ProvidersStateDep, db: SessionDep
) -> AdapterOut:
    adapter, _ = await service.add_version(
        db, state.pii, caller.provider, body.spec, caller.client_id, state.registry
    )
    return await _adapter_out(db, adapter)


@router.get(
    "/adapters",
    response_model=list[AdapterOut],
    summary="我的适配器 / My adapters",
    description=(
        "本提供方注册的全部适配器、各自的版本及当前发布的版本。"
        " Every adapter this provider registered, with its versions and the published one. Provider"
        " client token required."
    ),
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
    description=(
        "一个适配器及其全部版本。"
        " One adapter with all its versions; another provider's adapter is 404 `ADAPTER_NOT_FOUND`."
    ),
    responses=problem_responses(*PROVIDER, service.AdapterNotFound),
)
async def get_adapter(adapter_id: str, caller: CurrentProvider, db: SessionDep) -> AdapterOut:
    return await _adapter_out(db, await service.owned_adapter(db, caller.provider.code, adapter_id))


@router.post(
    "/adapters/{adapter_id}/versions",
    response_model=AdapterOut,
    status_code=201,
    summary="新版本 / Add a version",
    description=(
        "为适配器新增一个不可变版本，校验方式同注册；发布前不影响线上调用。"
        " Adds an immutable version to an adapter, validated as on registration; nothing changes"
        " for citizens until it is published. Send '********' for a secret to keep the previous"
        " version's."
    ),
    responses=SPEC_PROBLEMS,
)
async def add_version(
    adapter_id: str,
    body: SpecBody,
    caller: CurrentProvider,
    state: ProvidersStateDep,
    db: SessionDep,
) -> AdapterOut:
    await service.owned_adapter(db, caller.provider.code, adapter_id)
    adapter, _ = await service.add_version(
        db,
        state.pii,
        caller.provider,
        body.spec,
        caller.client_id,
        state.registry,
        adapter_id=adapter_id,
    )
    return await _adapter_out(db, adapter)


VERSION_PROBLEMS = problem_responses(*PROVIDER, service.AdapterNotFound, service.VersionNotFound)


@router.get(
    "/adapters/{adapter_id}/versions/{version}",
    response_model=VersionDetail,
    summary="版本详情 / A version's spec",
    description=(
        "某个版本的完整规格，密钥显示为“********”。"
        " One version's spec, secrets shown as '********'. An unknown version is 404"
        " `ADAPTER_VERSION_NOT_FOUND`."
    ),
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
    description=(
        "两个版本规格（`from`、`to`）的统一 diff，密钥只显示掩码。"
        " A unified diff of two versions' specs (`from`, `to`); secrets show only as the mask. An"
        " unknown version is 404 `ADAPTER_VERSION_NOT_FOUND`."
    ),
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
    description=(
        "用某个版本（不必已发布）对部门真实接口试调用一个操作，返回每一步的请求、"
        "响应和映射结果（凭据已掩码），不影响线上。"
        " Calls one operation of a version, published or not, against the department's real"
        " endpoint and returns every step: the request sent, the response, decoding and mapping"
        " (credentials masked). Citizens are not affected."
    ),
    responses=VERSION_PROBLEMS,
)
async def dry_run_version(
    adapter_id: str,
    version: int,
    body: DryRunRequest,
    caller: CurrentProvider,
    state: ProvidersStateDep,
    db: SessionDep,
) -> DryRunOut:
    await service.owned_adapter(db, caller.provider.code, adapter_id)
    row = await service.version_of(db, adapter_id, version)
    spec = compile_spec(service.full_document(state.pii, row))
    transport = state.adapter_sync.transport_for(caller.provider)
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
    adapter_id: str, caller: CurrentProvider, state: ProvidersStateDep, db: SessionDep
) -> AdapterHealth:
    adapter = await service.owned_adapter(db, caller.provider.code, adapter_id)
    if adapter.active_version is None:
        raise service.AdapterNotFound("Not published yet: nothing runs to measure")
    return await adapter_health(state.kv, state.invoker, state.registry, adapter_id)


@router.post(
    "/services",
    response_model=ProposalOut,
    status_code=201,
    summary="申请上架事项 / Propose a catalog service",
    description=(
        "提供方申请把其适配器的某个接口作为查询类事项上架，由平台管理员审批。"
        " Proposes a query service bound to an operation of one of the provider's adapters, for a"
        " platform administrator to approve. An unknown adapter, operation or domain is 422"
        " `SERVICE_PROPOSAL_INVALID`; a code in use 409 `SERVICE_CODE_TAKEN`."
    ),
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
    description=(
        "本提供方申请上架的全部事项及其审批状态。"
        " Every service this provider proposed, with its decision status. Provider client token"
        " required."
    ),
    responses=problem_responses(*PROVIDER),
)
async def my_services(caller: CurrentProvider, db: SessionDep) -> list[ProposalOut]:
    rows = await db.exec(
        select(ProviderService)
        .where(ProviderService.provider_code == caller.provider.code)
        .order_by(col(ProviderService.created_at))
    )
    return [_proposal(p) for p in rows.all()]
