"""Platform administrators over HTTP: onboarding providers, deciding on proposed services."""

from __future__ import annotations

from typing import Annotated, Literal

from fastapi import APIRouter, Query

from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity import CurrentAdmin, InvalidToken, NotAnAdministrator
from backend.pagination import PageDep
from backend.providers import proposals, service
from backend.providers.schemas import (
    ClientCredentials,
    Decision,
    ProposalList,
    ProposalOut,
    ProviderCreate,
    ProviderCreated,
    ProviderOut,
    proposal_out,
)

admin_router = APIRouter(prefix="/v1/admin", tags=["admin"])
ADMIN = (InvalidToken, NotAnAdministrator)


@admin_router.post(
    "/providers",
    response_model=ProviderCreated,
    status_code=201,
    summary="开通服务提供方 / Create a provider",
    description=(
        "平台管理员为部门开通服务提供方，并返回其第一个管理员凭证；`client_secret` 只返回这一次。"
        "内网主机豁免须写成 host:port，只对该端口有效。"
        " For platform administrators: onboards a department as a provider and returns its first"
        " administrator client; the `client_secret` is shown only this once. 409 `PROVIDER_EXISTS`;"
        " an `allowed_hosts` entry that is not a plain host, an `internal_hosts` entry that is not"
        " host:port (an internal host is exempted on one port only), or whose host is missing"
        " from `allowed_hosts`, is 422 `PROVIDER_HOSTS_INVALID` with each entry in `errors`."
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
    return [ProviderOut(**p.model_dump()) for p in await service.all_providers(db)]


@admin_router.get(
    "/provider-services",
    response_model=ProposalList,
    summary="待审事项 / Service proposals",
    description=(
        "平台管理员查看服务提供方申请上架的事项，默认只列待审的（`status=proposed`），最早的在前，"
        "按游标分页（0.2.0 之前最多返回200条数组，其余无法看到）。"
        " For platform administrators: services proposed by providers, by default only those"
        " awaiting a decision (`status=proposed`), oldest first, a page at a time (pass"
        " `next_cursor` back as `cursor`). Before 0.2.0 a bare array cut off at 200."
    ),
    responses=problem_responses(*ADMIN),
)
async def list_proposals(
    _: CurrentAdmin,
    db: SessionDep,
    page: PageDep,
    status: Annotated[Literal["proposed", "approved", "rejected"], Query()] = "proposed",
) -> ProposalList:
    rows, next_cursor = await proposals.listed(db, status, page)
    return ProposalList(items=[proposal_out(p) for p in rows], next_cursor=next_cursor)


DECISION_PROBLEMS = problem_responses(
    *ADMIN,
    proposals.ProposalNotFound,
    proposals.ProposalDecided,
    proposals.ServiceCodeTaken,
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
    return proposal_out(await proposals.decide(db, proposal_id, True, body.note))


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
    return proposal_out(await proposals.decide(db, proposal_id, False, body.note))


# --- providers --------------------------------------------------------------------
