"""The applicant's side: submit (idempotently), list, read, withdraw."""

from __future__ import annotations

import math
from typing import Annotated

from fastapi import APIRouter, Header, Path, Query, Request, Response
from fastapi.responses import FileResponse
from pydantic import BaseModel, ConfigDict

from backend import clock
from backend.applications import deadlines, idempotency, ratings, service, uploads
from backend.applications.exceptions import (
    ApplicationNotFound,
    FormInvalid,
    IdempotencyInFlight,
    IdempotencyKeyRequired,
    IdempotencyKeyReused,
    MaterialInvalid,
    NotAnApplicationService,
    NotRatable,
)
from backend.applications.schemas import (
    ApplicationCreate,
    ApplicationList,
    ApplicationOut,
    ApplicationSummary,
    RatingCreate,
    RatingOut,
    SupplementSubmission,
)
from backend.applications.state_machine import IllegalTransition, Status
from backend.applications.uploads import (
    UploadEmpty,
    UploadNotFound,
    UploadQuotaExceeded,
    UploadTooLarge,
    UploadTypeRefused,
)
from backend.catalog import CatalogDep, ServiceNotFound
from backend.db import SessionDep
from backend.errors import problem_responses
from backend.identity import (
    AssuranceLevelTooLow,
    CurrentCitizen,
    EnterpriseNotLinked,
    IdentityDep,
    InvalidToken,
    current_caller,
    link_for,
)
from backend.pagination import PageDep
from backend.state import CoreStateDep, SettingsDep

router = APIRouter(prefix="/v1/applications", tags=["applications"])
uploads_router = APIRouter(prefix="/v1/uploads", tags=["applications"])


class UploadOut(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "019cf443-a5c0-705e-a3da-8caa0069fb7b",
                    "sha256": "b544a7686d1186680a9d8f24ff542b00d8ae60da4dd2613a38f6292a8337cc37",
                    "size": 482133,
                    "content_type": "application/pdf",
                }
            ]
        }
    )

    id: str
    sha256: str
    size: int
    content_type: str


@uploads_router.post(
    "",
    response_model=UploadOut,
    status_code=201,
    summary="上传材料 / Upload a material",
    description=(
        "请求体即文件（PDF/JPEG/PNG，不超过10MB），Content-Type 为文件类型；"
        "每位市民的上传次数有限额，超出返回429与 Retry-After。"
        " The body is the file itself (PDF, JPEG or PNG, 10 MB at most) with its Content-Type."
        " Each citizen may upload a limited number of files (HEFEITONG_UPLOAD_LIMIT_PER_CITIZEN,"
        " default 10 a minute and 100 a day); past it, 429 `UPLOAD_QUOTA_EXCEEDED` with"
        " `Retry-After`."
    ),
    responses=problem_responses(
        InvalidToken, UploadTooLarge, UploadTypeRefused, UploadEmpty, UploadQuotaExceeded
    ),
    # Read as a stream, so no parameter declares it.
    openapi_extra={
        "requestBody": {
            "required": True,
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in uploads.ALLOWED
            },
        }
    },
)
async def upload(
    request: Request,
    signed_in: CurrentCitizen,
    db: SessionDep,
    settings: SettingsDep,
    identity: IdentityDep,
) -> UploadOut:
    media = uploads.check_declared(
        request.headers.get("content-type"), request.headers.get("content-length")
    )
    rules = uploads.quota_rules(settings.upload_limit_per_citizen)
    wait = await identity.limits.hit(rules, "upload", signed_in.citizen.id)
    if wait is not None:
        raise UploadQuotaExceeded(headers={"Retry-After": str(max(1, math.ceil(wait)))})
    directory = settings.var_dir / "uploads"
    sha, size = await uploads.store(directory, media, request.stream())
    record = await uploads.record(db, signed_in.citizen.id, sha, size, media)
    return UploadOut(id=record.id, sha256=sha, size=size, content_type=media)


@uploads_router.get(
    "/{upload_id}",
    response_class=FileResponse,
    summary="下载材料 / Download an upload",
    description=(
        "本人上传的文件，作为附件下载，类型为上传时按内容核验的类型。"
        " One of the citizen's own uploads, as an attachment (`Content-Disposition: attachment`)"
        " of the type its bytes were checked to be, never rendered inline. Anyone else's upload"
        " is 404 `UPLOAD_NOT_FOUND`."
    ),
    responses={
        200: {
            "content": {
                media: {"schema": {"type": "string", "format": "binary"}}
                for media in uploads.ALLOWED
            },
            "description": "The file",
        },
        **problem_responses(InvalidToken, UploadNotFound),
    },
)
async def download_upload(
    upload_id: Annotated[str, Path(max_length=64)],
    signed_in: CurrentCitizen,
    db: SessionDep,
    settings: SettingsDep,
) -> FileResponse:
    record = await uploads.owned(db, signed_in.citizen.id, upload_id)
    stored = uploads.stored_path(settings.var_dir / "uploads", record.sha256)
    if not stored.is_file():
        raise UploadNotFound()
    return FileResponse(
        stored,
        media_type=record.content_type,
        filename=record.id + uploads.EXTENSIONS.get(record.content_type, ""),
        content_disposition_type="attachment",
        # A personal document: no cache keeps it, and opened directly it runs nothing.
        headers={
            "Cache-Control": "private, no-store",
            "Content-Security-Policy": "default-src 'none'; sandbox; frame-ancestors 'none'",
        },
    )


IdempotencyKey = Annotated[
    str | None,
    Header(
        max_length=128,
        pattern=r"^[A-Za-z0-9._:-]{8,128}$",
        description="Required: the same key with the same body returns the original application",
    ),
]


@router.post(
    "",
    response_model=ApplicationOut,
    status_code=201,
    summary="提交申请 / Submit an application",
    description=(
        "需带 Idempotency-Key：相同键与内容返回原申请；内容不同 422；处理中 409。"
        " Idempotency-Key required: same key and body returns the original (200); a different"
        " body is 422; while the first is in flight, 409."
    ),
    responses=problem_responses(
        InvalidToken,
        AssuranceLevelTooLow,
        ServiceNotFound,
        NotAnApplicationService,
        FormInvalid,
        MaterialInvalid,
        IdempotencyKeyRequired,
        IdempotencyKeyReused,
        IdempotencyInFlight,
        EnterpriseNotLinked,
    ),
)
async def submit(
    body: ApplicationCreate,
    request: Request,
    response: Response,
    signed_in: CurrentCitizen,
    catalog: CatalogDep,
    db: SessionDep,
    identity: IdentityDep,
    state: CoreStateDep,
    idempotency_key: IdempotencyKey = None,
) -> ApplicationOut:
    if idempotency_key is None:
        raise IdempotencyKeyRequired()
    owner = signed_in.citizen.id
    catalog_service = catalog.service(body.service_code)
    earlier = await idempotency.claim_idempotency_key(
        state.sessions, owner, idempotency_key, idempotency.request_hash(body)
    )
    if earlier is not None:
        response.status_code = 200
        return await service.describe(db, await service.owned(db, earlier, owner), catalog_service)
    caller = await current_caller(request)
    enterprise_id = None
    if signed_in.claims.acting_for is not None:
        # Made for the enterprise the token acts for, if the citizen still may.
        _, enterprise = await link_for(db, owner, signed_in.claims.acting_for)
        enterprise_id = enterprise.id
    application = await service.submit(
        db, identity, catalog_service, body, caller, owner, idempotency_key, enterprise_id
    )
    return await service.describe(db, application, catalog_service)


@router.get(
    "",
    response_model=ApplicationList,
    summary="我的办件 / My applications",
    description=(
        "最新在前，按游标分页：把 `next_cursor` 作为 `cursor` 传入取下一页。"
        "以企业身份（`act`）调用时返回该企业的办件。"
        " Newest first, a page at a time: pass `next_cursor` back as `cursor` for the next page."
        " Acting for an enterprise (`act` claim), the enterprise's applications."
    ),
    responses=problem_responses(InvalidToken, EnterpriseNotLinked),
)
async def list_applications(
    signed_in: CurrentCitizen,
    db: SessionDep,
    page: PageDep,
    status: Annotated[Status | None, Query()] = None,
) -> ApplicationList:
    rows, next_cursor = await service.listed(
        db, signed_in.citizen.id, signed_in.claims.acting_for, status=status, page=page
    )
    today = clock.today()
    return ApplicationList(
        items=[
            ApplicationSummary(
                id=a.id,
                number=a.number,
                service_code=a.service_code,
                status=a.status,
                due_on=a.due_on,
                light=deadlines.light(a, today),
                created_at=a.created_at,
            )
            for a in rows
        ],
        next_cursor=next_cursor,
    )


@router.get(
    "/{application_id}",
    response_model=ApplicationOut,
    summary="办件详情 / Application with its timeline",
    description=(
        "本人的一件办件：状态、期限与红黄绿灯、材料、各部门审查意见、办理结果、评价和完整时间线。"
        " One of the caller's applications: status, deadline and traffic light, materials, each"
        " department's review, the result, the rating and the whole timeline. Another citizen's"
        " application is 404 `APPLICATION_NOT_FOUND`."
    ),
    responses=problem_responses(InvalidToken, ApplicationNotFound),
)
async def get_application(
    application_id: str, signed_in: CurrentCitizen, catalog: CatalogDep, db: SessionDep
) -> ApplicationOut:
    application = await service.owned(db, application_id, signed_in.citizen.id)
    return await service.describe(db, application, catalog.service(application.service_code))


@router.post(
    "/{application_id}/submit",
    response_model=ApplicationOut,
    summary="提交草稿 / Submit a saved draft",
    description=(
        "提交以 `draft=true` 保存的草稿：表单按事项要求校验后状态变为“已提交”。"
        " Submits an application saved with `draft=true`: the form is checked against the service's"
        " schema (422 `FORM_INVALID`) and the status becomes `submitted`; anything but a draft is"
        " 409 `ILLEGAL_TRANSITION`."
    ),
    responses=problem_responses(InvalidToken, ApplicationNotFound, FormInvalid, IllegalTransition),
)
async def submit_draft(
    application_id: str, signed_in: CurrentCitizen, catalog: CatalogDep, db: SessionDep
) -> ApplicationOut:
    application = await service.owned(db, application_id, signed_in.citizen.id)
    catalog_service = catalog.service(application.service_code)
    await service.submit_draft(db, application, catalog_service, signed_in.citizen.id)
    return await service.describe(db, application, catalog_service)


@router.post(
    "/{application_id}/supplements",
    response_model=ApplicationOut,
    summary="提交补正材料 / Send what the department asked for",
    description=(
        "部门要求补正（`supplement_required`）后，提交更正的表单或补充的材料，审查继续，"
        "期限恢复计时。"
        " After the department asked for more (`supplement_required`): send the corrected form"
        " and/or the missing materials; review resumes and the deadline clock runs again. In any"
        " other status, 409 `ILLEGAL_TRANSITION`."
    ),
    responses=problem_responses(
        InvalidToken, ApplicationNotFound, FormInvalid, MaterialInvalid, IllegalTransition
    ),
)
async def supplement(
    application_id: str,
    body: SupplementSubmission,
    request: Request,
    signed_in: CurrentCitizen,
    catalog: CatalogDep,
    db: SessionDep,
    identity: IdentityDep,
) -> ApplicationOut:
    application = await service.owned(db, application_id, signed_in.citizen.id)
    catalog_service = catalog.service(application.service_code)
    caller = await current_caller(request)
    await service.supplement(db, identity, application, catalog_service, body, caller)
    return await service.describe(db, application, catalog_service)


@router.post(
    "/{application_id}/withdraw",
    response_model=ApplicationOut,
    summary="撤回申请 / Withdraw",
    description=(
        "在作出审查决定前撤回申请（草稿、已提交、已受理、审查中、待补正均可）。"
        " Withdraws an application before it is decided (draft, submitted, accepted, in review or"
        " awaiting a supplement); afterwards it is 409 `ILLEGAL_TRANSITION`."
    ),
    responses=problem_responses(InvalidToken, ApplicationNotFound, IllegalTransition),
)
async def withdraw(
    application_id: str, signed_in: CurrentCitizen, catalog: CatalogDep, db: SessionDep
) -> ApplicationOut:
    application = await service.owned(db, application_id, signed_in.citizen.id)
    await service.withdraw(db, application, signed_in.citizen.id)
    return await service.describe(db, application, catalog.service(application.service_code))


@router.post(
    "/{application_id}/rating",
    response_model=RatingOut,
    status_code=201,
    summary="好差评 / Rate a completed application",
    description=(
        "办结后评价一次（1–5星）；1–2星将生成整改事项，部门须在15个工作日内处理。"
        " Once, after completion; a rating of 1–2 opens a rectification for the department"
        " (15 working days)."
    ),
    responses=problem_responses(InvalidToken, ApplicationNotFound, NotRatable),
)
async def rate(
    application_id: str,
    body: RatingCreate,
    signed_in: CurrentCitizen,
    catalog: CatalogDep,
    db: SessionDep,
) -> RatingOut:
    application = await service.owned(db, application_id, signed_in.citizen.id)
    rating = await ratings.rate(
        db, application, catalog.service(application.service_code), body.score, body.comment
    )
    return RatingOut.model_validate(rating, from_attributes=True)
