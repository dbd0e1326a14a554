"""Providers over HTTP: clients, registering, versioning, dry-running and publishing adapters,
their health, and proposing services for the catalog."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity import InvalidToken, create_client, rotate_secret_of
from backend.pagination import PageDep
from backend.params import PositiveInt32
from backend.providers import proposals, service
from backend.providers.dependencies import (
    CurrentProvider,
    CurrentProviderAdmin,
    NotAProvider,
    ProviderAdminRequired,
    ProvidersStateDep,
)
from backend.providers.dryrun import dry_run
from backend.providers.health import AdapterHealth, adapter_health
from backend.providers.models import ProviderAdapter
from backend.providers.schemas import (
    AdapterList,
    AdapterOut,
    ClientCreate,
    ClientCredentials,
    DiffOut,
    DryRunOut,
    DryRunRequest,
    ProposalList,
    ProposalOut,
    ServiceProposal,
    SpecBody,
    VersionDetail,
    VersionList,
    proposal_out,
    version_out,
)
from backend.providers.specs import SpecInvalid, compile_spec

router = APIRouter(prefix="/v1/provider", tags=["provider"])
PROVIDER = (InvalidToken, NotAProvider)


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


async def _adapters_out(db: SessionDep, adapters: list[ProviderAdapter]) -> list[AdapterOut]:
    versions = await service.versions(db, [a.adapter_id for a in adapters])
    return [
        AdapterOut(
            adapter_id=adapter.adapter_id,
            active_version=adapter.active_version,
            latest_version=adapter.latest_version,
            versions=[version_out(v) for v in versions[adapter.adapter_id]],
        )
        for adapter in adapters
    ]


async def _adapter_out(db: SessionDep, adapter: ProviderAdapter) -> AdapterOut:
    return (await _adapters_out(db, [adapter]))[0]


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
    response_model=AdapterList,
    summary="我的适配器 / My adapters",
    description=(
        "本提供方注册的适配器、各自的版本及当前发布的版本，最新注册的在前，按游标分页。"
        "（0.2.0 起返回 `items` 与 `next_cursor`，不再是数组。）"
        " The adapters this provider registered, with their versions and the published one,"
        " newest first, a page at a time (pass `next_cursor` back as `cursor`). Since 0.2.0 an"
        " object with `items` and `next_cursor`, no longer a bare array. Provider client token"
        " required."
    ),
    responses=problem_responses(*PROVIDER),
)
async def list_adapters(caller: CurrentProvider, db: SessionDep, page: PageDep) -> AdapterList:
    adapters, next_cursor = await service.adapter_page(db, caller.provider.code, page)
    return AdapterList(items=await _adapters_out(db, adapters), next_cursor=next_cursor)


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


@router.get(
    "/adapters/{adapter_id}/versions",
    response_model=VersionList,
    summary="版本列表 / An adapter's versions",
    description=(
        "一个适配器的版本，最新在前，按游标分页（适配器详情里的 `versions` 列出全部）。"
        " One adapter's versions, newest first, a page at a time (pass `next_cursor` back as"
        " `cursor`); the adapter's own `versions` lists them all at once. Another provider's"
        " adapter is 404 `ADAPTER_NOT_FOUND`."
    ),
    responses=problem_responses(*PROVIDER, service.AdapterNotFound),
)
async def list_versions(
    adapter_id: str, caller: CurrentProvider, db: SessionDep, page: PageDep
) -> VersionList:
    await service.owned_adapter(db, caller.provider.code, adapter_id)
    rows, next_cursor = await service.version_page(db, adapter_id, page)
    return VersionList(items=[version_out(v) for v in rows], next_cursor=next_cursor)


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
    adapter_id: str, version: PositiveInt32, caller: CurrentProvider, db: SessionDep
) -> VersionDetail:
    await service.owned_adapter(db, caller.provider.code, adapter_id)
    row = await service.version_of(db, adapter_id, version)
    return VersionDetail(**version_out(row).model_dump(), spec=row.spec)


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
    from_version: Annotated[PositiveInt32, Query(alias="from")],
    to_version: Annotated[PositiveInt32, Query(alias="to")],
) -> DiffOut:
    await service.owned_adapter(db, caller.provider.code, adapter_id)
    old = await service.version_of(db, adapter_id, from_version)
    new = await service.version_of(db, adapter_id, to_version)
    return DiffOut(from_version=from_version, to_version=to_version, diff=service.diff(old, new))


@router.post(
    "/adapters/{adapter_id}/versions/{version}/dry-run",
    response_model=DryRunOut,
    response_model_by_alias=True,
    response_model_exclude_none=True,
    summary="试调用 / Dry-run one operation against the real endpoint",
    description=(
        "用某个版本（不必已发布）对部门真实接口试调用一个操作，返回每一步的请求、"
        "响应和映射结果（凭据已掩码），不影响线上。应答内容有长度上限；内网主机的应答只显示映射读取的值。"
        " Calls one operation of a version, published or not, against the department's real"
        " endpoint and returns every step: the request sent, the response, decoding and mapping"
        " (credentials masked). Citizens are not affected. What a step shows of a reply is"
        " bounded (a raw body or document 4 KB, a mapped value 16 KB), and a reply from an"
        " internal host (`internal_hosts`) shows only its status and what the mapping reads."
    ),
    responses=VERSION_PROBLEMS,
)
async def dry_run_version(
    adapter_id: str,
    version: PositiveInt32,
    body: DryRunRequest,
    caller: CurrentProvider,
    state: ProvidersStateDep,
    db: SessionDep,
) -> DryRunOut:
    await service.owned_adapter(db, caller.provider.code, adapter_id)
    row = await service.version_of(db, adapter_id, version)
    spec = compile_spec(service.full_document(state.pii, row))
    transport = state.adapter_sync.transport_for(caller.provider)
    policy = service.policy_of(caller.provider)
    outcome = await dry_run(spec, transport, body.operation, body.params, policy=policy)
    return DryRunOut.model_validate(outcome)


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
    adapter_id: str, version: PositiveInt32, caller: CurrentProviderAdmin, db: SessionDep
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
    responses=problem_responses(*PROVIDER, proposals.ProposalInvalid, proposals.ServiceCodeTaken),
)
async def propose_service(
    body: ServiceProposal, caller: CurrentProvider, db: SessionDep
) -> ProposalOut:
    return proposal_out(await proposals.propose(db, caller.provider, body.model_dump()))


@router.get(
    "/services",
    response_model=ProposalList,
    summary="我的事项 / My services",
    description=(
        "本提供方申请上架的事项及其审批状态，最早的在前，按游标分页。"
        "（0.2.0 起返回 `items` 与 `next_cursor`，不再是数组。）"
        " The services this provider proposed, with their decision status, oldest first, a page"
        " at a time (pass `next_cursor` back as `cursor`). Since 0.2.0 an object with `items`"
        " and `next_cursor`, no longer a bare array. Provider client token required."
    ),
    responses=problem_responses(*PROVIDER),
)
async def my_services(caller: CurrentProvider, db: SessionDep, page: PageDep) -> ProposalList:
    rows, next_cursor = await proposals.of_provider(db, caller.provider.code, page)
    return ProposalList(items=[proposal_out(p) for p in rows], next_cursor=next_cursor)
