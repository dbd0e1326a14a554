"""Catalog reads: domains, services (filter, search, pages), life events, regions."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Path, Query, Request, Response
from pydantic import BaseModel

from backend.catalog.data_file import ServiceKind
from backend.catalog.dependencies import CatalogDep
from backend.catalog.exceptions import LifeEventNotFound, ServiceNotFound
from backend.catalog.schemas import (
    DomainList,
    LifeEventDetail,
    LifeEventList,
    RegionList,
    ServiceDetail,
    ServicePage,
)
from backend.catalog.service import ServiceFilter, life_event_summary
from backend.errors import problem_responses
from backend.http_cache import cached_json

MAX_PAGE_SIZE = 100
CACHE_SECONDS = 300

router = APIRouter(prefix="/v1", tags=["catalog"])

CodePath = Annotated[str, Path(max_length=64, examples=["hpf-balance-query"])]


def _cached(request: Request, model: BaseModel) -> Response:
    return cached_json(request, model, max_age=CACHE_SECONDS)


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
    return _cached(
        request,
        ServicePage(
            items=[catalog.summaries[s.code] for s in found[start : start + page_size]],
            total=len(found),
            page=page,
            page_size=page_size,
        ),
    )


@router.get(
    "/services/{code}",
    response_model=ServiceDetail,
    summary="服务事项详情 / Service detail",
    responses=problem_responses(ServiceNotFound),
)
async def get_service(request: Request, catalog: CatalogDep, code: CodePath) -> Response:
    return _cached(request, catalog.service(code))


@router.get(
    "/life-events",
    response_model=LifeEventList,
    summary="“一件事”主题 / Life events",
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
    responses=problem_responses(LifeEventNotFound),
)
async def get_life_event(request: Request, catalog: CatalogDep, code: CodePath) -> Response:
    return _cached(request, catalog.life_event(code))
