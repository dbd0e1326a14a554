"""Signed callbacks from department systems that push instead of being called.

The scheme is Standard Webhooks: ``webhook-id``, ``webhook-timestamp`` and
``webhook-signature`` (HMAC-SHA256 of ``"{id}.{timestamp}.{body}"`` with the
department's ``whsec_`` secret), five minutes of clock tolerance.

An event is applied by the very functions the provider API calls (``processing``), and
its receipt is written in the same transaction as the change. So a replayed
``webhook-id`` finds the receipt and changes nothing, while an event that fails (not
this department's application, illegal in the current status) leaves neither change
nor receipt, and the department may fix the cause and send the same event again.
"""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator, Callable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Annotated, Any, Literal, assert_never

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter, ValidationError
from sqlalchemy.exc import IntegrityError
from sqlmodel import select
from sqlmodel.ext.asyncio.session import AsyncSession
from standardwebhooks import Webhook, WebhookVerificationError

from backend.applications import processing
from backend.applications.models import Application, WebhookReceipt, WebhookSecret
from backend.applications.provider_router import (
    Completion,
    ReviewDecision,
    SupplementRequest,
    TripRecord,
)
from backend.catalog import ServiceDetail
from backend.clock import utcnow
from backend.errors import AppError, ValidationFailed
from backend.pagination import PageRequest, fetch_page
from backend.pii import PiiCipher

SECRET_FIELD = "webhook_secret"  # the cipher binds each token to its column
SECRET_PREFIX = "whsec_"
SECRET_BYTES = 32
MAX_BODY_BYTES = 64 * 1024  # events are a few hundred bytes; the route is unauthenticated
MAX_WEBHOOK_ID = 128  # the width of the receipt's column
# Receipts per page when the department names no size: the list showed the latest 50 before
# it had cursors.
RECEIPTS_PER_PAGE = 50
HEADERS = ("webhook-id", "webhook-timestamp", "webhook-signature")
_CHALLENGE = 'Standard-Webhooks realm="hefeitong-callbacks"'
# standardwebhooks has no exception class of its own for a timestamp outside the
# tolerance, only these messages. The tests send stale timestamps, so an upgrade that
# rewords them fails there instead of quietly reporting them as bad signatures.
_STALE_MESSAGES = frozenset({"Message timestamp too old", "Message timestamp too new"})


class CallbackDepartmentUnknown(AppError):
    status = 404
    code = "CALLBACK_DEPARTMENT_UNKNOWN"
    title_zh = "该部门未开通回调"
    title_en = "No callbacks are set up for this department"


class _CallbackUnauthenticated(AppError):
    status = 401

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(detail, headers={"WWW-Authenticate": _CHALLENGE})


class WebhookSignatureInvalid(_CallbackUnauthenticated):
    code = "WEBHOOK_SIGNATURE_INVALID"
    title_zh = "回调签名无效"
    title_en = "The callback's signature is not valid"


class WebhookTimestampStale(_CallbackUnauthenticated):
    code = "WEBHOOK_TIMESTAMP_STALE"
    title_zh = "回调时间戳与当前时间相差超过5分钟"
    title_en = "The callback's timestamp is more than 5 minutes off"


class CallbackTooLarge(AppError):
    status = 413
    code = "CALLBACK_TOO_LARGE"
    title_zh = "回调内容过大（不超过64KB）"
    title_en = "Callback body too large (64 KB at most)"


# --- the events -------------------------------------------------------------------
# The data of each event is the provider API's request body plus the application it is
# about, so both ways in accept exactly the same input.


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ApplicationRef(_Strict):
    application_id: str = Field(max_length=36)


class SupplementData(SupplementRequest, ApplicationRef):
    pass


class ReviewData(ReviewDecision, ApplicationRef):
    pass


class TripData(TripRecord, ApplicationRef):
    pass


class CompletionData(Completion, ApplicationRef):
    pass


class _Event(_Strict):
    timestamp: datetime | None = Field(
        default=None, description="When the department's system produced the event (optional)"
    )


class Accepted(_Event):
    type: Literal["application.accepted"]
    data: ApplicationRef


class SupplementRequired(_Event):
    type: Literal["application.supplement_required"]
    data: SupplementData


class Reviewed(_Event):
    type: Literal["application.reviewed"]
    data: ReviewData


class TripRecorded(_Event):
    type: Literal["application.trip"]
    data: TripData


class Completed(_Event):
    type: Literal["application.completed"]
    data: CompletionData


CallbackEvent = Annotated[
    Accepted | SupplementRequired | Reviewed | TripRecorded | Completed,
    Field(discriminator="type"),
]
_EVENTS: TypeAdapter[CallbackEvent] = TypeAdapter(CallbackEvent)


def event_schema() -> dict[str, Any]:
    """The events' JSON Schema with its definitions inlined, for the route's OpenAPI entry:
    the route reads the raw body (the signature covers its bytes), so FastAPI cannot
    describe it, and a route cannot add component schemas of its own."""
    schema = _EVENTS.json_schema()
    definitions = schema.pop("$defs", {})

    def inline(node: Any) -> Any:
        if isinstance(node, list):
            return [inline(item) for item in node]
        if not isinstance(node, dict):
            return node
        if "$ref" in node:
            return inline(definitions[node["$ref"].rsplit("/", 1)[-1]])
        # The discriminator's mapping points at the definitions that are now inlined.
        return {k: inline(v) for k, v in node.items() if k != "mapping"}

    inlined: dict[str, Any] = inline(schema)
    return inlined


def parse_event(body: bytes) -> CallbackEvent:
    """The event in a verified body; a problem in the usual validation shape otherwise."""
    try:
        return _EVENTS.validate_json(body)
    except ValidationError as exc:
        fields = [
            {"location": ["body", *err["loc"]], "message": err["msg"], "type": err["type"]}
            for err in exc.errors(include_url=False, include_input=False)
        ]
        names = ", ".join(".".join(str(p) for p in f["location"][1:]) or "body" for f in fields)
        raise ValidationFailed(f"Invalid fields: {names}", errors=fields) from None


# --- secrets and signatures -------------------------------------------------------


def new_secret() -> str:
    return SECRET_PREFIX + base64.b64encode(secrets.token_bytes(SECRET_BYTES)).decode("ascii")


async def rotate_secret(db: AsyncSession, pii: PiiCipher, department: str) -> tuple[str, datetime]:
    """A new signing secret for the department, replacing any earlier one at once.

    Only the ciphertext is stored; the plaintext leaves in the return value, for the
    department to see once.
    """
    secret, now = new_secret(), utcnow()
    row = await db.get(WebhookSecret, department)
    if row is None:
        row = WebhookSecret(department_code=department, secret_enc="", created_at=now)
    row.secret_enc, row.created_at = pii.encrypt(secret, field=SECRET_FIELD), now
    db.add(row)
    await db.flush()
    return secret, now


async def secret_of(db: AsyncSession, pii: PiiCipher, department: str) -> str:
    row = await db.get(WebhookSecret, department)
    if row is None:  # an unknown department has no secret either
        raise CallbackDepartmentUnknown()
    return pii.decrypt(row.secret_enc, field=SECRET_FIELD)


def verify(secret: str, body: bytes, headers: Mapping[str, str]) -> str:
    """The ``webhook-id`` of a callback whose signature and timestamp check out."""
    given = {name: headers.get(name, "") for name in HEADERS}
    missing = [name for name, value in given.items() if not value]
    if missing:
        raise WebhookSignatureInvalid(f"Missing header(s): {', '.join(missing)}")
    if len(given["webhook-id"]) > MAX_WEBHOOK_ID:
        raise WebhookSignatureInvalid(f"webhook-id is longer than {MAX_WEBHOOK_ID} characters")
    try:
        Webhook(secret).verify(body, given, json_parse=False)
    except WebhookVerificationError as exc:
        if str(exc) in _STALE_MESSAGES:
            raise WebhookTimestampStale() from None
        raise WebhookSignatureInvalid() from None
    except ValueError:
        # The library unpacks and base64-decodes the header, and decodes the body as
        # UTF-8, without guarding either: malformed input is simply not a valid signature.
        raise WebhookSignatureInvalid() from None
    return given["webhook-id"]


async def read_body(chunks: AsyncIterator[bytes], declared_length: str | None) -> bytes:
    """The raw body, cut off as soon as it passes the limit (the sender is not yet known)."""
    if declared_length and declared_length.isdigit() and int(declared_length) > MAX_BODY_BYTES:
        raise CallbackTooLarge()
    body = bytearray()
    async for chunk in chunks:
        body += chunk
        if len(body) > MAX_BODY_BYTES:
            raise CallbackTooLarge()
    return bytes(body)


# --- receiving --------------------------------------------------------------------


@dataclass(frozen=True)
class Applied:
    application: Application
    service: ServiceDetail


async def receive(
    db: AsyncSession,
    pii: PiiCipher,
    service_of: Callable[[str], ServiceDetail],
    department: str,
    body: bytes,
    headers: Mapping[str, str],
) -> Applied | None:
    """Verify, de-duplicate and apply one callback; None when its webhook-id was seen."""
    webhook_id = verify(await secret_of(db, pii, department), body, headers)
    if await _seen(db, department, webhook_id):
        return None
    event = parse_event(body)
    application, service = await processing.for_department(
        db, event.data.application_id, service_of, department
    )
    receipt = WebhookReceipt(
        department_code=department,
        webhook_id=webhook_id,
        event_type=event.type,
        application_id=application.id,
        outcome="applying",
        received_at=utcnow(),
    )
    if not await _claim(db, receipt):
        return None
    await _apply(db, event, application, service, department)
    # Rolled back with the change if the event fails, so the department may send it again.
    receipt.outcome = f"applied, now {application.status}"
    db.add(receipt)
    return Applied(application, service)


async def _seen(db: AsyncSession, department: str, webhook_id: str) -> bool:
    found = await db.exec(
        select(WebhookReceipt.id).where(
            WebhookReceipt.department_code == department, WebhookReceipt.webhook_id == webhook_id
        )
    )
    return found.first() is not None


async def _claim(db: AsyncSession, receipt: WebhookReceipt) -> bool:
    """Insert the receipt before changing anything. Of two deliveries of one webhook-id
    racing past ``_seen``, the unique constraint lets one through; the other waits for it
    to commit and is then refused here (or goes ahead if the first one failed)."""
    db.add(receipt)
    try:
        await db.flush()
    except IntegrityError:
        # Only reads came before, so rolling the whole transaction back loses nothing. Not
        # a savepoint: on SQLite (pysqlite's deferred BEGIN) a transaction's first savepoint
        # is the transaction itself, and releasing it commits the receipt for good.
        await db.rollback()
        return False
    return True


async def _apply(
    db: AsyncSession,
    event: CallbackEvent,
    application: Application,
    service: ServiceDetail,
    department: str,
) -> None:
    match event:
        case Accepted():
            await processing.accept(db, application, service, department)
        case SupplementRequired(data=data):
            await processing.request_supplement(
                db, application, service, department, data.missing, data.note
            )
        case Reviewed(data=data):
            await processing.review(
                db, application, service, department, data.decision == "approve", data.opinion
            )
        case TripRecorded(data=data):
            await processing.record_trip(db, application, department, data.reason)
        case Completed(data=data):
            result = data.model_dump(exclude_none=True, exclude={"application_id"})
            await processing.complete(db, application, service, department, result)
        case _:
            assert_never(event)


async def receipt_page(
    db: AsyncSession, department: str, page: PageRequest
) -> tuple[list[WebhookReceipt], str | None]:
    """One page of the department's receipts, newest first, and the next page's cursor."""
    query = select(WebhookReceipt).where(WebhookReceipt.department_code == department)
    return await fetch_page(db, query, page, at=WebhookReceipt.received_at, id=WebhookReceipt.id)
