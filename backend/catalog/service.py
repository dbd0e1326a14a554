"""Loading the catalog into the database, and the in-memory snapshot reads are served from.

The catalog is small (hundreds of rows) and read on every screen of the app, so
each server keeps an immutable snapshot with its search index and swaps it when
the stored revision changes (a ``catalog load`` elsewhere, or a new release).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from sqlalchemy import delete
from sqlmodel import col, select
from sqlmodel.ext.asyncio.session import AsyncSession

from backend.catalog.contributed import ContributedService, add_contributed, service_code_taken
from backend.catalog.data_file import CatalogFile
from backend.catalog.exceptions import LifeEventNotFound, ServiceNotFound
from backend.catalog.models import (
    CatalogRevision,
    Department,
    Domain,
    LifeEvent,
    LifeEventService,
    Region,
    Service,
)
from backend.catalog.schemas import (
    AdapterBinding,
    ApplicationTerms,
    DepartmentOut,
    DomainOut,
    LifeEventDetail,
    LifeEventSummary,
    MaterialOut,
    RegionOut,
    ServiceDetail,
    ServiceSummary,
)
from backend.catalog.search import SearchDocument, SearchIndex


async def replace_catalog(
    session: AsyncSession,
    catalog: CatalogFile,
    *,
    source: str,
    source_sha256: str,
    contributed: Sequence[ContributedService],
) -> int:
    """Replace the stored catalog with ``catalog`` in the caller's transaction.

    ``contributed`` (the services departments brought, oldest first) are added back after
    the file's, unless the file now has a service with that code. Required, so no caller
    forgets them: a data release must not silently drop what departments brought.

    Returns the new revision. The caller commits; on any error it rolls back and
    the previous catalog stays as it was.
    """
    for table in (LifeEventService, LifeEvent, Service, Department, Domain, Region):
        await session.exec(delete(table))
    session.add_all(
        Region(code=r.code, name_zh=r.name_zh, name_en=r.name_en, position=i)
        for i, r in enumerate(catalog.regions)
    )
    session.add_all(
        Domain(code=d.code, name_zh=d.name_zh, name_en=d.name_en, sort=d.sort)
        for d in catalog.domains
    )
    session.add_all(
        Department(code=d.code, name_zh=d.name_zh, name_en=d.name_en) for d in catalog.departments
    )
    await session.flush()
    session.add_all(
        Service(
            code=s.code,
            position=i,
            domain_code=s.domain,
            department_code=s.department,
            kind=s.kind,
            name_zh=s.name_zh,
            name_en=s.name_en,
            summary_zh=s.summary_zh,
            summary_en=s.summary_en,
            min_level=s.min_level,
            regions=None if s.regions == "all" else list(s.regions),
            keywords=list(s.keywords),
            adapter_id=s.adapter.id if s.adapter else None,
            adapter_operation=s.adapter.operation if s.adapter else None,
            trips=s.trips,
            promised_days=s.promised_days,
            statutory_days=s.statutory_days,
            materials=[m.model_dump() for m in s.materials] if s.materials else None,
            form_schema=s.form_schema,
            review_departments=list(s.review_departments) if s.review_departments else None,
        )
        for i, s in enumerate(catalog.services)
    )
    session.add_all(
        LifeEvent(
            code=e.code,
            position=i,
            name_zh=e.name_zh,
            name_en=e.name_en,
            summary_zh=e.summary_zh,
            summary_en=e.summary_en,
        )
        for i, e in enumerate(catalog.life_events)
    )
    await session.flush()
    session.add_all(
        LifeEventService(life_event_code=e.code, service_code=code, position=j)
        for e in catalog.life_events
        for j, code in enumerate(e.services)
    )
    for service in contributed:
        if not await service_code_taken(session, service.code):
            await add_contributed(session, service)
    current = await session.get(CatalogRevision, 1)
    revision = (current.revision if current else 0) + 1
    if current:
        current.revision, current.source, current.source_sha256 = revision, source, source_sha256
        session.add(current)
    else:
        session.add(
            CatalogRevision(id=1, revision=revision, source=source, source_sha256=source_sha256)
        )
    await session.flush()
    return revision


async def stored_revision(session: AsyncSession) -> CatalogRevision | None:
    return await session.get(CatalogRevision, 1)


@dataclass(frozen=True)
class ServiceFilter:
    domain: str | None = None
    kind: str | None = None
    region: str | None = None
    life_event: str | None = None
    q: str | None = None


@dataclass
class CatalogSnapshot:
    revision: int
    regions: list[RegionOut]
    domains: list[DomainOut]
    services: dict[str, ServiceDetail]
    summaries: dict[str, ServiceSummary]
    life_events: dict[str, LifeEventDetail]
    index: SearchIndex
    _life_event_members: dict[str, frozenset[str]] = field(default_factory=dict)

    @property
    def total_services(self) -> int:
        return len(self.services)

    def service(self, code: str) -> ServiceDetail:
        try:
            return self.services[code]
        except KeyError:
            raise ServiceNotFound(f"No service with code {code!r}") from None

    def life_event(self, code: str) -> LifeEventDetail:
        try:
            return self.life_events[code]
        except KeyError:
            raise LifeEventNotFound(f"No life event with code {code!r}") from None

    def find_services(self, flt: ServiceFilter) -> list[ServiceDetail]:
        """Services matching every given filter; ranked by relevance when ``q`` is given."""
        if flt.q and flt.q.strip():
            candidates: Sequence[ServiceDetail] = [
                self.services[key] for key, _ in self.index.search(flt.q)
            ]
        else:
            candidates = list(self.services.values())
        members = None
        if flt.life_event is not None:
            members = self._life_event_members.get(flt.life_event, frozenset())
        return [
            s
            for s in candidates
            if (flt.domain is None or s.domain == flt.domain)
            and (flt.kind is None or s.kind == flt.kind)
            and (flt.region is None or flt.region in s.regions)
            and (members is None or s.code in members)
        ]


async def read_snapshot(session: AsyncSession) -> CatalogSnapshot:
    """Build the in-memory catalog (and its search index) from the database."""
    revision_row = await stored_revision(session)
    regions = (await session.exec(select(Region).order_by(col(Region.position)))).all()
    departments = {d.code: d for d in (await session.exec(select(Department))).all()}
    domains = (await session.exec(select(Domain).order_by(col(Domain.sort)))).all()
    services = (await session.exec(select(Service).order_by(col(Service.position)))).all()
    events = (await session.exec(select(LifeEvent).order_by(col(LifeEvent.position)))).all()
    links = (
        await session.exec(
            select(LifeEventService).order_by(
                col(LifeEventService.life_event_code), col(LifeEventService.position)
            )
        )
    ).all()
    all_regions = [r.code for r in regions]
    members: dict[str, list[str]] = {}
    events_of: dict[str, list[str]] = {}
    for link in links:
        members.setdefault(link.life_event_code, []).append(link.service_code)
        events_of.setdefault(link.service_code, []).append(link.life_event_code)

    domain_by_code = {d.code: d for d in domains}
    details: dict[str, ServiceDetail] = {}
    documents: list[SearchDocument] = []
    for s in services:
        dept = departments[s.department_code]
        details[s.code] = _service_detail(s, dept, all_regions, events_of.get(s.code, []))
        domain = domain_by_code[s.domain_code]
        documents.append(
            SearchDocument.build(
                s.code,
                name_zh=s.name_zh,
                name_en=s.name_en,
                summary_zh=s.summary_zh,
                summary_en=s.summary_en,
                keywords=s.keywords,
                context_zh=f"{domain.name_zh}|{dept.name_zh}",
                context_en=f"{domain.name_en}|{dept.name_en}",
            )
        )
    summaries = {code: summary_of(detail) for code, detail in details.items()}
    counts: dict[str, int] = {}
    for s in services:
        counts[s.domain_code] = counts.get(s.domain_code, 0) + 1
    life_events = {
        e.code: LifeEventDetail(
            code=e.code,
            name_zh=e.name_zh,
            name_en=e.name_en,
            summary_zh=e.summary_zh,
            summary_en=e.summary_en,
            service_count=len(members.get(e.code, [])),
            services=[summaries[c] for c in members.get(e.code, [])],
        )
        for e in events
    }
    return CatalogSnapshot(
        revision=revision_row.revision if revision_row else 0,
        regions=[RegionOut(code=r.code, name_zh=r.name_zh, name_en=r.name_en) for r in regions],
        domains=[
            DomainOut(
                code=d.code,
                name_zh=d.name_zh,
                name_en=d.name_en,
                sort=d.sort,
                service_count=counts.get(d.code, 0),
            )
            for d in domains
        ],
        services=details,
        summaries=summaries,
        life_events=life_events,
        index=SearchIndex(documents),
        _life_event_members={k: frozenset(v) for k, v in members.items()},
    )


def _service_detail(
    s: Service, dept: Department, all_regions: list[str], life_events: list[str]
) -> ServiceDetail:
    application = None
    if s.kind == "application":
        application = ApplicationTerms(
            trips=s.trips or 0,
            promised_days=s.promised_days or 0,
            statutory_days=s.statutory_days or 0,
            materials=[MaterialOut(**m) for m in s.materials or []],
            form_schema=s.form_schema,
            review_departments=s.review_departments or [s.department_code],
        )
    return ServiceDetail(
        code=s.code,
        name_zh=s.name_zh,
        name_en=s.name_en,
        summary_zh=s.summary_zh,
        summary_en=s.summary_en,
        domain=s.domain_code,
        kind=s.kind,
        department=DepartmentOut(code=dept.code, name_zh=dept.name_zh, name_en=dept.name_en),
        min_level=s.min_level,
        citywide=s.regions is None,
        regions=list(all_regions if s.regions is None else s.regions),
        keywords=list(s.keywords),
        adapter=AdapterBinding(id=s.adapter_id, operation=s.adapter_operation)
        if s.adapter_id and s.adapter_operation
        else None,
        application=application,
        life_events=life_events,
    )


def summary_of(detail: ServiceDetail) -> ServiceSummary:
    return ServiceSummary(**detail.model_dump(include=set(ServiceSummary.model_fields)))


def life_event_summary(detail: LifeEventDetail) -> LifeEventSummary:
    return LifeEventSummary(**detail.model_dump(include=set(LifeEventSummary.model_fields)))
