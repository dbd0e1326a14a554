"""A citizen's enterprises, their agents and invitations, and acting for an enterprise."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Response

from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity import agents, enterprises
from backend.identity.agents import AgentNotFound, InvitationNotFound, TooManyInvitations
from backend.identity.auth import CurrentCitizen, IdentityDep
from backend.identity.enterprises import (
    EnterpriseNotLinked,
    EnterpriseNotVerified,
    NotLegalRepresentative,
)
from backend.identity.exceptions import AssuranceLevelTooLow, InvalidToken
from backend.identity.schemas import (
    ActAsRequest,
    AgentList,
    AgentOut,
    AgentRequest,
    EnterpriseLinkRequest,
    EnterpriseList,
    EnterpriseOut,
    InvitationList,
    InvitationOut,
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


# Ids are UUIDs (36 characters): anything longer is no id of ours, refused before a query.
AgentId = Annotated[str, Path(max_length=36)]
InvitationId = Annotated[str, Path(max_length=36)]


@router.post(
    "/v1/me/enterprises/{credit_code}/agents",
    status_code=204,
    summary="邀请经办人 / Invite an agent",
    description=(
        "法定代表人以手机号邀请经办人；对方登录并完成实名认证（L2）后接受邀请才成为经办人，"
        "邀请7天内有效。无论该手机号是否已注册，回答都相同。"
        " The legal representative invites a phone to act for the enterprise; its owner becomes"
        " an agent by accepting (`POST /v1/me/enterprise-invitations/{invitation_id}/accept`,"
        " with a real-name verified account) within 7 days. The answer is the same whether or"
        " not the phone has an account; inviting an agent or a waiting invitation again changes"
        " nothing but the invitation's 7 days. An agent calling is 403"
        " `NOT_LEGAL_REPRESENTATIVE`; more than 20 invitations waiting is 409"
        " `TOO_MANY_INVITATIONS`."
    ),
    responses=problem_responses(
        InvalidToken, EnterpriseNotLinked, NotLegalRepresentative, TooManyInvitations
    ),
)
async def authorize_agent(
    credit_code: str,
    body: AgentRequest,
    signed_in: CurrentCitizen,
    db: SessionDep,
    identity: IdentityDep,
) -> Response:
    await agents.invite(identity, db, signed_in.citizen, credit_code, body.phone)
    return Response(status_code=204)


@router.get(
    "/v1/me/enterprises/{credit_code}/agents",
    response_model=AgentList,
    summary="经办人与邀请 / Agents and invitations",
    description=(
        "企业的经办人及待答复的邀请（手机号、姓名脱敏），最近的在前，按游标分页；仅法定代表人可查看。"
        " The enterprise's agents and the invitations still waiting for an answer (phone and name"
        " masked), newest first, a page at a time. Legal representative only (403"
        " `NOT_LEGAL_REPRESENTATIVE`)."
    ),
    responses=problem_responses(InvalidToken, EnterpriseNotLinked, NotLegalRepresentative),
)
async def list_agents(
    credit_code: str,
    signed_in: CurrentCitizen,
    db: SessionDep,
    identity: IdentityDep,
    page: PageDep,
) -> AgentList:
    views, next_cursor = await agents.agent_page(identity, db, signed_in.citizen, credit_code, page)
    return AgentList(
        items=[
            AgentOut(
                id=view.invitation.id,
                status="active" if view.invitation.status == agents.ACCEPTED else "invited",
                phone=view.phone,
                name=view.name,
                invited_at=view.invitation.created_at,
                expires_at=None
                if view.invitation.status == agents.ACCEPTED
                else view.invitation.expires_at,
            )
            for view in views
        ],
        next_cursor=next_cursor,
    )


@router.delete(
    "/v1/me/enterprises/{credit_code}/agents/{agent_id}",
    status_code=204,
    summary="移除经办人或撤回邀请 / Remove an agent or withdraw an invitation",
    description=(
        "法定代表人取消经办人授权（其以企业身份取得的令牌随即失效，并收到站内消息），或撤回未答复的邀请。"
        " The legal representative ends an agent's authority (their tokens acting for the"
        " enterprise stop working at once, and they get a message), or withdraws an invitation"
        " not yet answered. An id that is not one of this enterprise's agents or open invitations"
        " is 404 `AGENT_NOT_FOUND`."
    ),
    responses=problem_responses(
        InvalidToken, EnterpriseNotLinked, NotLegalRepresentative, AgentNotFound
    ),
)
async def remove_agent(
    credit_code: str,
    agent_id: AgentId,
    signed_in: CurrentCitizen,
    db: SessionDep,
    identity: IdentityDep,
) -> Response:
    await agents.remove(identity, db, signed_in.citizen, credit_code, agent_id)
    return Response(status_code=204)


@router.delete(
    "/v1/me/enterprises/{credit_code}",
    status_code=204,
    summary="退出企业 / Stop acting for an enterprise",
    description=(
        "经办人退出企业（法定代表人收到站内消息）；法定代表人也可解除关联，之后可凭营业执照重新关联。"
        "以该企业身份取得的令牌随即失效。"
        " An agent stops acting for the enterprise (its legal representative gets a message); a"
        " legal representative may unlink too, and link again with the licence. Tokens acting for"
        " the enterprise stop working at once. Not linked is 404 `ENTERPRISE_NOT_FOUND`."
    ),
    responses=problem_responses(InvalidToken, EnterpriseNotLinked),
)
async def leave_enterprise(
    credit_code: str, signed_in: CurrentCitizen, db: SessionDep, identity: IdentityDep
) -> Response:
    await agents.leave(identity, db, signed_in.citizen, credit_code)
    return Response(status_code=204)


@router.get(
    "/v1/me/enterprise-invitations",
    response_model=InvitationList,
    summary="我收到的经办人邀请 / Invitations to act for an enterprise",
    description=(
        "发给本账号手机号、尚未答复且未过期的经办人邀请，最近的在前，按游标分页。"
        " The invitations to the account's phone that wait for an answer and have not lapsed,"
        " newest first, a page at a time. Citizen token required."
    ),
    responses=problem_responses(InvalidToken),
)
async def list_invitations(
    signed_in: CurrentCitizen, db: SessionDep, page: PageDep
) -> InvitationList:
    views, next_cursor = await agents.invitation_page(db, signed_in.citizen, page)
    return InvitationList(
        items=[
            InvitationOut(
                id=view.invitation.id,
                credit_code=view.enterprise.credit_code,
                enterprise_name=view.enterprise.name,
                invited_at=view.invitation.created_at,
                expires_at=view.invitation.expires_at,
            )
            for view in views
        ],
        next_cursor=next_cursor,
    )


@router.post(
    "/v1/me/enterprise-invitations/{invitation_id}/accept",
    response_model=EnterpriseOut,
    summary="接受经办人邀请 / Accept an invitation",
    description=(
        "成为该企业的经办人，须已实名认证（L2）；法定代表人收到站内消息。"
        " Become the enterprise's agent; needs a real-name verified account (403"
        " `ASSURANCE_LEVEL_TOO_LOW`). The legal representative gets a message. An invitation that"
        " is not to this account's phone, was answered or has lapsed is 404 `INVITATION_NOT_FOUND`."
    ),
    responses=problem_responses(InvalidToken, AssuranceLevelTooLow, InvitationNotFound),
)
async def accept_invitation(
    invitation_id: InvitationId,
    signed_in: CurrentCitizen,
    db: SessionDep,
    identity: IdentityDep,
) -> EnterpriseOut:
    enterprise = await agents.accept(identity, db, signed_in.citizen, invitation_id)
    return EnterpriseOut(credit_code=enterprise.credit_code, name=enterprise.name, role="agent")


@router.post(
    "/v1/me/enterprise-invitations/{invitation_id}/decline",
    status_code=204,
    summary="谢绝经办人邀请 / Decline an invitation",
    description=(
        "谢绝邀请；法定代表人收到站内消息（手机号脱敏）。"
        " Declines the invitation; the legal representative gets a message naming the masked"
        " phone. An invitation that is not to this account's phone, was answered or has lapsed is"
        " 404 `INVITATION_NOT_FOUND`."
    ),
    responses=problem_responses(InvalidToken, InvitationNotFound),
)
async def decline_invitation(
    invitation_id: InvitationId,
    signed_in: CurrentCitizen,
    db: SessionDep,
    identity: IdentityDep,
) -> Response:
    await agents.decline(identity, db, signed_in.citizen, invitation_id)
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
