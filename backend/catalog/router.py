"""Catalog reads: domains, services (filter, search, pages), life events, regions.

Every service a response shows carries ``degraded``: its department system's breaker is open.
The flags come from the app state's ``open_breakers`` (providers' ``OpenBreakers``, a set
kept fresh in the background), so a catalog read still makes no I/O; the ETag is the
body's hash, so it changes with any flag the response shows and a 304 never hides a change.
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from backend.catalog.data_file import ServiceKind
from backend.catalog.dependencies import CatalogDep, catalog_state
from backend.catalog.exceptions import LifeEventNotFound, ServiceNotFound
from backend.catalog.schemas import (
    DomainList,
    LifeEventDetail,
    LifeEventList,
    RegionList,
    ServiceDetail,
    ServicePage,
    ServiceSummary,
)
from backend.catalog.service import CatalogSnapshot, ServiceFilter, life_event_summary
from backend.errors import problem_responses
from backend.http_cache import cached_json

MAX_PAGE_SIZE = 100
CACHE_SECONDS = 300
# Responses listing services carry `degraded`, which changes within seconds when a department
# fails: clients revalidate them sooner (a 304 costs them little), or the flag would be stale
# for longer than a breaker stays open.
SERVICES_CACHE_SECONDS = 15

router = APIRouter(prefix="/v1", tags=["catalog"])

CodePath = Annotated[str, Path(max_length=64, examples=["hpf-balance-query"])]


def _cached(request: Request, model: BaseModel, max_age: int = CACHE_SECONDS) -> Response:
    return cached_json(request, model, max_age=max_age)


def _open_adapters(request: Request) -> frozenset[str]:
    return catalog_state(request).open_breakers.adapter_ids


class _Degraded:
    """The flagged copies of the services behind open breakers, for one snapshot and one set.

    Built once when the snapshot or the set changes (rarely), so a read while some department
    is down costs one dictionary lookup per service shown; while none is, nothing at all.
    """

    def __init__(self, catalog: CatalogSnapshot, open_adapters: frozenset[str]) -> None:
        self.catalog = catalog
        self.open_adapters = open_adapters
        codes = [
            code
            for code, s in catalog.services.items()
            if s.adapter is not None and s.adapter.id in open_adapters
        ]
        flag = {"degraded": True}
        self.details = {c: catalog.services[c].model_copy(update=flag) for c in codes}
        self.summaries = {c: catalog.summaries[c].model_copy(update=flag) for c in codes}


class _DegradedCache:
    def __init__(self) -> None:
        self._last: _Degraded | None = None

    def get(self, catalog: CatalogSnapshot, open_adapters: frozenset[str]) -> _Degraded:
        last = self._last
        if last is None or last.catalog is not catalog or last.open_adapters != open_adapters:
            last = self._last = _Degraded(catalog, open_adapters)
        return last


_degraded = _DegradedCache()


def _flag(
    request: Request, catalog: CatalogSnapshot, items: list[ServiceSummary]
) -> list[ServiceSummary]:
    open_adapters = _open_adapters(request)
    if not open_adapters:
        return items
    flagged = _degraded.get(catalog, open_adapters).summaries
    if not any(item.code in flagged for item in items):
        return items
    return [flagged.get(item.code, item) for item in items]


@router.get(
    "/domains",
    response_model=DomainList,
    summary="服务领域 / Service domains",
    description="五大领域及其服务数量。The five domains with their service counts.",
    responses=problem_responses(),
)
async def list_domains(request: Request, catalog: CatalogDep) -> Response:
    return _cached(
        request, DomainList(items=catalog.domains, total_services=catalog.total_services)
    )


@router.get(
    "/regions",
    response_model=RegionList,
    summary="区县 / Districts and counties",
    description=(
        "合肥市各区县及其行政区划代码，供 `/v1/services` 的 `region` 筛选使用；无需登录，"
        "可按 ETag 缓存。"
        " Hefei's districts and counties with their administrative codes, for the `region` filter"
        " of `/v1/services`. Public; cacheable with ETag."
    ),
    responses=problem_responses(),
)
async def list_regions(request: Request, catalog: CatalogDep) -> Response:
    return _cached(request, RegionList(items=catalog.regions))


@router.get(
    "/services",
    response_model=ServicePage,
    summary="服务事项列表与搜索 / List and search services",
    description=(
        "按领域、类型、区县、“一件事”筛选；`q` 支持中文、全拼、拼音首字母和英文。"
        " Filter by domain, kind, region and life event; `q` accepts Chinese, full pinyin,"
        " pinyin initials and English, ranked by relevance."
    ),
    responses=problem_responses(),
)
async def list_services(
    request: Request,
    catalog: CatalogDep,
    domain: Annotated[str | None, Query(max_length=32, examples=["housing"])] = None,
    kind: ServiceKind | None = None,
    region: Annotated[str | None, Query(pattern=r"^\d{6}$", examples=["340104"])] = None,
    life_event: Annotated[str | None, Query(max_length=64, examples=["newborn"])] = None,
    q: Annotated[str | None, Query(max_length=64, examples=["gjj", "公积金"])] = None,
    page: Annotated[int, Query(ge=1, le=10_000)] = 1,
    page_size: Annotated[int, Query(ge=1, le=MAX_PAGE_SIZE)] = 20,
) -> Response:
    found = catalog.find_services(
        ServiceFilter(domain=domain, kind=kind, region=region, life_event=life_event, q=q)
    )
    start = (page - 1) * page_size
    items = [catalog.summaries[s.code] for s in found[start : start + page_size]]
    return _cached(
        request,
        ServicePage(
            items=_flag(request, catalog, items), total=len(found), page=page, page_size=page_size
        ),
        SERVICES_CACHE_SECONDS,
    )


@router.get(
    "/services/{code}",
    response_model=ServiceDetail,
    summary="服务事项详情 / Service detail",
    description=(
        "单个服务事项：所需材料（可由电子证照免提交的已标注）、承诺与法定时限、"
        "申请表单结构和对接的部门系统；无需登录，可按 ETag 缓存。"
        " One service in full: its materials (those the e-license library supplies are marked),"
        " promised and statutory working days, the application form's JSON Schema and the"
        " department system behind it. Public; cacheable with ETag; an unknown code is 404"
        " `SERVICE_NOT_FOUND`."
    ),
    responses=problem_responses(ServiceNotFound),
)
async def get_service(request: Request, catalog: CatalogDep, code: CodePath) -> Response:
    detail = catalog.service(code)
    open_adapters = _open_adapters(request)
    if open_adapters:
        detail = _degraded.get(catalog, open_adapters).details.get(code, detail)
    return _cached(request, detail, SERVICES_CACHE_SECONDS)


@router.get(
    "/life-events",
    response_model=LifeEventList,
    summary="“一件事”主题 / Life events",
    description=(
        "“一件事一次办”主题（如新生儿出生、搬家、退休）及各自包含的服务数量；无需登录，"
        "可按 ETag 缓存。"
        " Life-event bundles (a birth, moving house, retirement…) with the number of services each"
        " brings together. Public; cacheable with ETag."
    ),
    responses=problem_responses(),
)
async def list_life_events(request: Request, catalog: CatalogDep) -> Response:
    return _cached(
        request,
        LifeEventList(items=[life_event_summary(e) for e in catalog.life_events.values()]),
    )


@router.get(
    "/life-events/{code}",
    response_model=LifeEventDetail,
    summary="“一件事”详情 / Life event detail",
    description=(
        "一个“一件事”主题及其包含的全部服务；无需登录，可按 ETag 缓存。"
        " One life event with every service it bundles. Public; cacheable with ETag; an unknown"
        " code is 404 `LIFE_EVENT_NOT_FOUND`."
    ),
    responses=problem_responses(LifeEventNotFound),
)
async def get_life_event(request: Request, catalog: CatalogDep, code: CodePath) -> Response:
    event = catalog.life_event(code)
    services = _flag(request, catalog, event.services)
    if services is not event.services:
        event = event.model_copy(update={"services": services})
    return _cached(request, event, SERVICES_CACHE_SECONDS)
