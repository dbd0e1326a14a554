"""A citizen's enterprises, their agents, and acting for an enterprise."""

from __future__ import annotations

from fastapi import APIRouter, Response

from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity import enterprises
from backend.identity.auth import CurrentCitizen, IdentityDep
from backend.identity.enterprises import (
    AgentNotFound,
    EnterpriseNotLinked,
    EnterpriseNotVerified,
    NotLegalRepresentative,
)
from backend.identity.exceptions import AssuranceLevelTooLow, InvalidToken
from backend.identity.schemas import (
    ActAsRequest,
    AgentRequest,
    EnterpriseLinkRequest,
    EnterpriseList,
    EnterpriseOut,
    TokenPair,
)
from backend.pagination import PageDep

router = APIRouter(tags=["me"])


def _require_l2(level: int) -> None:
    if level < 2:
        raise AssuranceLevelTooLow(
            "Enterprises need a real-name verified account", required_level=2
        )


@router.get(
    "/v1/me/enterprises",
    response_model=EnterpriseList,
    summary="我的企业 / My enterprises",
    description=(
        "当前用户关联的企业及其身份（法定代表人或经办人），最近关联的在前，按游标分页。"
        " The enterprises linked to the citizen, each with the citizen's role (legal representative"
        " or agent), most recently linked first, a page at a time (pass `next_cursor` back as"
        " `cursor`). Citizen token required."
    ),
    responses=problem_responses(InvalidToken),
)
async def list_enterprises(
    signed_in: CurrentCitizen, db: SessionDep, page: PageDep
) -> EnterpriseList:
    links, next_cursor = await enterprises.link_page(db, signed_in.citizen.id, page)
    return EnterpriseList(
        items=[
            EnterpriseOut(credit_code=e.credit_code, name=e.name, role=link.role)
            for link, e in links
        ],
        next_cursor=next_cursor,
    )


@router.post(
    "/v1/me/enterprises",
    response_model=EnterpriseOut,
    status_code=201,
    summary="关联企业（法定代表人）/ Link an enterprise as its legal representative",
    description=(
        "以电子证照库中您名下的营业执照为凭。"
        " Proved by the business licence under your name in the e-license library."
    ),
    responses=problem_responses(InvalidToken, AssuranceLevelTooLow, EnterpriseNotVerified),
)
async def link_enterprise(
    body: EnterpriseLinkRequest, signed_in: CurrentCitizen, db: SessionDep, identity: IdentityDep
) -> EnterpriseOut:
    _require_l2(signed_in.citizen.assurance_level)
    enterprise = await enterprises.link_as_legal_representative(
        identity, db, signed_in.citizen, body.credit_code
    )
    return EnterpriseOut(
        credit_code=enterprise.credit_code, name=enterprise.name, role="legal_representative"
    )


@router.post(
    "/v1/me/enterprises/{credit_code}/agents",
    status_code=204,
    summary="授权经办人 / Authorize an agent",
    description=(
        "法定代表人以手机号指定另一位已实名（L2）的用户为企业经办人。"
        " The legal representative makes another real-name verified (L2) account, named by its"
        " phone, an agent of the enterprise. An agent calling is 403 `NOT_LEGAL_REPRESENTATIVE`; no"
        " L2 account with that phone is 404 `AGENT_ACCOUNT_NOT_FOUND`."
    ),
    responses=problem_responses(
        InvalidToken, EnterpriseNotLinked, NotLegalRepresentative, AgentNotFound
    ),
)
async def authorize_agent(
    credit_code: str,
    body: AgentRequest,
    signed_in: CurrentCitizen,
    db: SessionDep,
    identity: IdentityDep,
) -> Response:
    await enterprises.authorize_agent(identity, db, signed_in.citizen, credit_code, body.phone)
    return Response(status_code=204)


@router.post(
    "/v1/auth/act-as",
    response_model=TokenPair,
    tags=["auth"],
    summary="以企业身份办事 / Act for an enterprise",
    description=(
        "返回带 `act` 声明的新令牌；`credit_code` 为空则恢复个人身份。"
        " Returns tokens whose `act` claim names the enterprise; null acts for yourself."
    ),
    responses=problem_responses(InvalidToken, EnterpriseNotLinked),
)
async def act_as(
    body: ActAsRequest, signed_in: CurrentCitizen, db: SessionDep, identity: IdentityDep
) -> TokenPair:
    return await enterprises.act_as(
        identity,
        db,
        signed_in.citizen,
        signed_in.claims.session_id,
        body.credit_code,
        signed_in.claims.auth_time,
    )
