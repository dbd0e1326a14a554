"""Signed callbacks from department systems that push (Standard Webhooks).

A department first issues itself a signing secret with its client-credentials token;
from then on it may send signed events to ``/v1/callbacks/{department_code}``, which
carries no token: the signature is the authentication.
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Literal

from fastapi import APIRouter, Depends, Request, Response
from pydantic import BaseModel, Field

from backend.applications import callbacks
from backend.applications.callbacks import (
    CallbackDepartmentUnknown,
    CallbackTooLarge,
    WebhookSignatureInvalid,
    WebhookTimestampStale,
)
from backend.applications.exceptions import ApplicationNotFound, NotAReviewer
from backend.applications.schemas import ApplicationOut
from backend.applications.service import describe
from backend.applications.state_machine import IllegalTransition
from backend.catalog import CatalogDep
from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity import CurrentDepartment, IdentityDep, InvalidToken
from backend.pagination import Page, PageRequest, page_params

router = APIRouter(tags=["provider"])


class WebhookSecretOut(BaseModel):
    secret: str = Field(description="whsec_ + base64 of 32 bytes; shown only this once")
    created_at: datetime


class CallbackReceiptOut(BaseModel):
    webhook_id: str
    event_type: str
    application_id: str | None
    outcome: str
    received_at: datetime


class CallbackReceiptList(Page[CallbackReceiptOut]):
    pass


ReceiptPage = Annotated[PageRequest, Depends(page_params(callbacks.RECEIPTS_PER_PAGE))]


class CallbackResult(BaseModel):
    status: Literal["applied", "duplicate"] = Field(
        description="duplicate: this webhook-id was taken in before and nothing changed"
    )
    application: ApplicationOut | None = None


@router.post(
    "/v1/provider/webhook-secret",
    response_model=WebhookSecretOut,
    status_code=201,
    summary="生成回调签名密钥 / Issue a new callback signing secret",
    description=(
        "生成新密钥并立即替换旧密钥，密钥仅返回这一次。"
        " Replaces any earlier secret at once; the secret is returned only this once."
    ),
    responses=problem_responses(InvalidToken),
)
async def issue_webhook_secret(
    department: CurrentDepartment, identity: IdentityDep, db: SessionDep, response: Response
) -> WebhookSecretOut:
    secret, created_at = await callbacks.rotate_secret(db, identity.pii, department)
    response.headers["Cache-Control"] = "no-store"
    return WebhookSecretOut(secret=secret, created_at=created_at)


@router.get(
    "/v1/provider/callbacks",
    response_model=CallbackReceiptList,
    summary="回调接收记录 / The callbacks taken in from this department",
    description="最新在前，按游标分页（把 `next_cursor` 作为 `cursor` 传入取下一页）。"
    " Newest first, a page at a time: pass `next_cursor` back as `cursor` for the next page.",
    responses=problem_responses(InvalidToken),
)
async def list_callback_receipts(
    department: CurrentDepartment, db: SessionDep, page: ReceiptPage
) -> CallbackReceiptList:
    receipts, next_cursor = await callbacks.receipt_page(db, department, page)
    return CallbackReceiptList(
        items=[
            CallbackReceiptOut(
                webhook_id=r.webhook_id,
                event_type=r.event_type,
                application_id=r.application_id,
                outcome=r.outcome,
                received_at=r.received_at,
            )
            for r in receipts
        ],
        next_cursor=next_cursor,
    )


@router.post(
    "/v1/callbacks/{department_code}",
    response_model=CallbackResult,
    summary="接收部门签名回调 / Take in a department's signed callback",
    description=(
        "按 Standard Webhooks 签名（webhook-id、webhook-timestamp、webhook-signature，"
        "容差5分钟）。同一 webhook-id 重复投递返回 duplicate，不再处理；处理失败不留记录，可重试。"
        " Signed per Standard Webhooks (5-minute tolerance). A webhook-id seen before is"
        " answered with `duplicate` and changes nothing; a failed event leaves no record"
        " and may be sent again."
    ),
    responses=problem_responses(
        CallbackDepartmentUnknown,
        ApplicationNotFound,
        WebhookSignatureInvalid,
        WebhookTimestampStale,
        NotAReviewer,
        IllegalTransition,
        CallbackTooLarge,
    ),
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {"application/json": {"schema": callbacks.event_schema()}},
        }
    },
)
async def receive_callback(
    department_code: str,
    request: Request,
    catalog: CatalogDep,
    identity: IdentityDep,
    db: SessionDep,
) -> CallbackResult:
    body = await callbacks.read_body(request.stream(), request.headers.get("content-length"))
    applied = await callbacks.receive(
        db, identity.pii, catalog.service, department_code, body, request.headers
    )
    if applied is None:
        return CallbackResult(status="duplicate")
    out = await describe(db, applied.application, applied.service)
    return CallbackResult(status="applied", application=out)
