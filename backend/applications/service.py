"""Submitting applications and reading them back; the applicant's side of the lifecycle.

Idempotency keys: idempotency.py. Status changes and what each records: timeline.py.
"""

from __future__ import annotations

from typing import Any

import jsonschema
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.applications import deadlines
from backend.applications.exceptions import (
    ApplicationNotFound,
    FormInvalid,
    MaterialInvalid,
    NotAnApplicationService,
)
from backend.applications.models import (
    Application,
    IdempotencyRecord,
    Rating,
    Review,
    TimelineEntry,
    Upload,
)
from backend.applications.numbering import next_number
from backend.applications.schemas import (
    ApplicationCreate,
    ApplicationOut,
    MaterialRef,
    MaterialStatus,
    RatingOut,
    ReviewOut,
    SupplementSubmission,
    TimelineOut,
)
from backend.applications.state_machine import Actor, Status
from backend.applications.timeline import record_change, transition
from backend.catalog import ServiceDetail
from backend.clock import today, utcnow
from backend.identity import Identity, link_for, may_act_for, require_level
from backend.pagination import PageRequest, fetch_page
from integrations.base import Caller


async def submit(
    db: AsyncSession,
    identity: Identity,
    service: ServiceDetail,
    body: ApplicationCreate,
    caller: Caller,
    owner_id: str,
    idempotency_key: str,
    enterprise_id: str | None = None,
) -> Application:
    if service.application is None:
        raise NotAnApplicationService(f"{service.code} is a {service.kind} service")
    require_level(caller, service.min_level)
    # A draft may be half filled in: only what is there is checked until it is submitted.
    _validate_form(service, body.form, partial=body.draft)
    materials = await _check_materials(db, identity, service, body.materials, caller)
    now = utcnow()
    status = Status.DRAFT if body.draft else Status.SUBMITTED
    application = Application(
        number=await next_number(db, now),
        service_code=service.code,
        applicant_id=owner_id,
        enterprise_id=enterprise_id,
        status=status,
        form=body.form,
        delivery=body.delivery.model_dump(mode="json"),
        materials=materials,
        created_at=now,
        updated_at=now,
        submitted_at=None if body.draft else now,
    )
    db.add(application)
    await db.flush()
    await record_change(
        db,
        application,
        None,
        status,
        Actor.APPLICANT,
        owner_id,
        "保存草稿" if body.draft else "提交申请",
    )
    found = await db.exec(
        select(IdempotencyRecord).where(
            IdempotencyRecord.owner_id == owner_id, IdempotencyRecord.key == idempotency_key
        )
    )
    record = found.one()
    record.application_id = application.id
    db.add(record)
    return application


def _validate_form(service: ServiceDetail, form: dict[str, Any], *, partial: bool) -> None:
    schema = service.application.form_schema if service.application else None
    if not schema:
        return
    if partial:
        schema = {k: v for k, v in schema.items() if k != "required"}
    validator = jsonschema.Draft202012Validator(schema, format_checker=jsonschema.FormatChecker())
    errors = [
        {
            "location": ["body", "form", *[str(p) for p in e.absolute_path]],
            "message": e.message,
            "type": str(e.validator),
        }
        for e in validator.iter_errors(form)
    ]
    if errors:
        raise FormInvalid("The form does not match this service's form", errors=errors)


async def _check_materials(
    db: AsyncSession,
    identity: Identity,
    service: ServiceDetail,
    refs: list[MaterialRef],
    caller: Caller,
) -> list[dict[str, Any]]:
    """材料免提交: an e-license is attached by reference after checking the citizen holds it."""
    assert service.application is not None
    required = {m.code: m for m in service.application.materials}
    attached: list[dict[str, Any]] = []
    held: dict[str, str] | None = None
    for ref in refs:
        material = required.get(ref.code)
        if material is None:
            raise MaterialInvalid(f"{ref.code!r} is not a material of {service.code}")
        if ref.licence_no is not None:
            if held is None:
                licences = await identity.department("e_license", "licences", {}, caller)
                held = {lic["licence_no"]: lic["type"] for lic in licences}
            if held.get(ref.licence_no) != material.e_license:
                raise MaterialInvalid(
                    f"licence {ref.licence_no} is not your {material.e_license} licence"
                )
            attached.append({"code": ref.code, "source": "e_license", "ref": ref.licence_no})
        else:
            upload = await db.get(Upload, ref.upload_id)
            if upload is None or upload.owner_id != caller.subject:
                raise MaterialInvalid(f"upload {ref.upload_id} is not one of yours")
            attached.append({"code": ref.code, "source": "upload", "ref": ref.upload_id})
    return attached


async def listed(
    db: AsyncSession,
    citizen_id: str,
    acting_for: str | None,
    *,
    status: Status | None,
    page: PageRequest,
) -> tuple[list[Application], str | None]:
    """One page of the citizen's own applications, newest first, and the next page's cursor;
    acting for an enterprise (its credit code), the enterprise's, whichever linked citizen
    made them. Indexes (applicant, created_at, id) and (enterprise, created_at, id) keep the
    last page as cheap as the first."""
    if acting_for is not None:
        _, enterprise = await link_for(db, citizen_id, acting_for)
        query = select(Application).where(Application.enterprise_id == enterprise.id)
    else:
        query = select(Application).where(
            Application.applicant_id == citizen_id,
            col(Application.enterprise_id).is_(None),
        )
    if status is not None:
        query = query.where(Application.status == status)
    return await fetch_page(db, query, page, at=Application.created_at, id=Application.id)


async def owned(db: AsyncSession, application_id: str, citizen_id: str) -> Application:
    """The application if the citizen made it, or may act for the enterprise it was made
    for; 404 otherwise (never 403: another's application is not even confirmed to exist)."""
    application = await db.get(Application, application_id)
    if application is None:
        raise ApplicationNotFound()
    if application.applicant_id == citizen_id:
        return application
    if application.enterprise_id is not None and await may_act_for(
        db, citizen_id, application.enterprise_id
    ):
        return application
    raise ApplicationNotFound()


async def submit_draft(
    db: AsyncSession, application: Application, service: ServiceDetail, owner_id: str
) -> None:
    """A saved draft goes in: the whole form must now be complete."""
    _validate_form(service, application.form, partial=False)
    await transition(db, application, Status.SUBMITTED, Actor.APPLICANT, owner_id, "提交申请")
    application.submitted_at = application.updated_at


async def supplement(
    db: AsyncSession,
    identity: Identity,
    application: Application,
    service: ServiceDetail,
    body: SupplementSubmission,
    caller: Caller,
) -> None:
    """The applicant answers a request for missing material; review resumes."""
    if body.form is not None:
        _validate_form(service, body.form, partial=False)
        application.form = body.form
    if body.materials:
        added = await _check_materials(db, identity, service, body.materials, caller)
        kept = [m for m in application.materials if m["code"] not in {a["code"] for a in added}]
        application.materials = [*kept, *added]
    await transition(
        db, application, Status.IN_REVIEW, Actor.APPLICANT, caller.subject, body.note or "已补正"
    )


async def withdraw(db: AsyncSession, application: Application, owner_id: str) -> None:
    await transition(db, application, Status.WITHDRAWN, Actor.APPLICANT, owner_id, "申请人撤回")


async def describe(
    db: AsyncSession, application: Application, service: ServiceDetail
) -> ApplicationOut:
    entries = await db.exec(
        select(TimelineEntry)
        .where(TimelineEntry.application_id == application.id)
        .order_by(col(TimelineEntry.at), col(TimelineEntry.id))
    )
    reviews = await db.exec(
        select(Review)
        .where(Review.application_id == application.id)
        .order_by(col(Review.department_code))
    )
    rating = await db.get(Rating, application.id)
    attached = {m["code"]: m["source"] for m in application.materials}
    required = service.application.materials if service.application else []
    return ApplicationOut(
        id=application.id,
        number=application.number,
        service_code=application.service_code,
        status=application.status,
        due_on=application.due_on,
        due_estimated=application.due_estimated,
        warn_on=application.warn_on,
        light=deadlines.light(application, today()),
        paused=application.paused_on is not None,
        paused_working_days=application.paused_days,
        trips_over_allowance=bool(
            service.application and application.trips > service.application.trips
        ),
        reviews=[
            ReviewOut(department=r.department_code, decision=r.decision, opinion=r.opinion)
            for r in reviews.all()
        ],
        result=application.result,
        rating=RatingOut.model_validate(rating, from_attributes=True) if rating else None,
        form=application.form,
        delivery=application.delivery,
        materials=[
            MaterialStatus(
                code=m.code,
                name_zh=m.name_zh,
                satisfied=m.code in attached,
                source=attached.get(m.code),
            )
            for m in required
        ],
        trips=application.trips,
        created_at=application.created_at,
        submitted_at=application.submitted_at,
        timeline=[
            TimelineOut(
                at=e.at,
                actor=e.actor,
                from_status=e.from_status,
                to_status=e.to_status,
                note=e.note,
            )
            for e in entries.all()
        ],
    )
