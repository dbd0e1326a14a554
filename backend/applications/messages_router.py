"""The citizen's message centre and live event stream."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator
from datetime import datetime
from typing import Annotated, Any

from fastapi import APIRouter, Depends, Query, Request, Response
from fastapi.responses import StreamingResponse
from pydantic import BaseModel, ConfigDict, Field

from backend.applications import message_centre
from backend.applications.exceptions import MessageNotFound
from backend.applications.notifications import events_channel
from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity import CurrentCitizen, IdentityDep, InvalidToken
from backend.pagination import Page, PageRequest, page_params

router = APIRouter(prefix="/v1/me", tags=["me"])
KEEPALIVE_SECONDS = 15.0


_MESSAGE: dict[str, Any] = {
    "id": "019cf444-97f0-75c4-89bd-4a5801836819",
    "kind": "application",
    "application_id": "019cf443-d4a0-7fdb-b8df-550786fdda34",
    "title": "申请已受理",
    "body": "HF2026031600017 申请已受理：受理",
    "created_at": "2026-03-16T02:05:33Z",
    "read": False,
}


class MessageOut(BaseModel):
    model_config = ConfigDict(json_schema_extra={"examples": [_MESSAGE]})

    id: str
    kind: str = Field(
        description="消息类别：`application` 办件状态，"
        "`enterprise` 企业经办人（邀请的答复、移除）。"
        " What the message is about, for the app to open the right screen: `application` (a"
        " status change of `application_id`) or `enterprise` (the agents of an enterprise:"
        " an invitation answered, an agent removed or leaving). More kinds may come: show"
        " an unknown one as plain text."
    )
    application_id: str | None = Field(
        description="所涉办件；与办件无关的消息为 null。 The application it is about; null for a"
        " message about none."
    )
    title: str
    body: str
    created_at: datetime
    read: bool


class MessageList(Page[MessageOut]):
    model_config = ConfigDict(
        json_schema_extra={"examples": [{"items": [_MESSAGE], "next_cursor": None, "unread": 1}]}
    )

    unread: int = Field(
        description="全部消息中的未读数（不只本页）。 Unread messages of all, not only this page's."
    )


# The message centre handed out 50 at a time before it had cursors; installed apps that ask
# for no size still get 50.
MESSAGES_PER_PAGE = 50
MessagePage = Annotated[PageRequest, Depends(page_params(MESSAGES_PER_PAGE))]


@router.get(
    "/messages",
    response_model=MessageList,
    summary="消息中心 / Messages",
    description=(
        "办件状态变化及企业经办人事项的站内消息，最新在前，按游标分页（把 `next_cursor`"
        " 作为 `cursor` 传入取下一页），并返回全部未读数；`unread_only=true` 只列未读。"
        " Messages about the citizen's applications and enterprises, newest first, a page at a"
        " time (pass `next_cursor` back as `cursor`), with the unread count of all of them;"
        " `unread_only=true` lists only unread ones. Citizen token required."
    ),
    responses=problem_responses(InvalidToken),
)
async def messages(
    signed_in: CurrentCitizen,
    db: SessionDep,
    page: MessagePage,
    unread_only: Annotated[bool, Query()] = False,
) -> MessageList:
    rows, next_cursor, unread = await message_centre.messages_of(
        db, signed_in.citizen.id, unread_only=unread_only, page=page
    )
    return MessageList(
        items=[
            MessageOut(
                id=m.id,
                kind=m.kind,
                application_id=m.application_id,
                title=m.title,
                body=m.body,
                created_at=m.created_at,
                read=m.read_at is not None,
            )
            for m in rows
        ],
        next_cursor=next_cursor,
        unread=unread,
    )


@router.post(
    "/messages/{message_id}/read",
    status_code=204,
    summary="标为已读 / Mark as read",
    description=(
        "将一条消息标为已读，重复调用不改变任何内容。"
        " Marks one message as read; calling it again changes nothing. A message that is not the"
        " caller's is 404 `MESSAGE_NOT_FOUND`."
    ),
    responses=problem_responses(InvalidToken, MessageNotFound),
)
async def mark_read(message_id: str, signed_in: CurrentCitizen, db: SessionDep) -> Response:
    await message_centre.mark_read(db, signed_in.citizen.id, message_id)
    return Response(status_code=204)


@router.get(
    "/events",
    summary="实时事件（SSE）/ Live events (server-sent events)",
    description="办件状态变化实时推送。Application status changes as they happen.",
    responses={200: {"content": {"text/event-stream": {}}}, **problem_responses(InvalidToken)},
)
async def events(
    request: Request, signed_in: CurrentCitizen, identity: IdentityDep
) -> StreamingResponse:
    channel = events_channel(signed_in.citizen.id)

    async def stream() -> AsyncIterator[bytes]:
        async with identity.kv.subscribe(channel) as subscription:
            yield b": connected\n\n"
            iterator = aiter(subscription)
            while not await request.is_disconnected():
                try:
                    _, data = await asyncio.wait_for(anext(iterator), KEEPALIVE_SECONDS)
                except TimeoutError:
                    yield b": keep-alive\n\n"  # proxies close idle connections otherwise
                    continue
                yield b"event: application\ndata: " + data + b"\n\n"

    return StreamingResponse(
        stream(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
    )
