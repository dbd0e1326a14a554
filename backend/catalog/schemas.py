"""Response models of the catalog API (both languages in every entry)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, Field

from backend.catalog.data_file import ServiceKind


class Named(BaseModel):
    code: str
    name_zh: str
    name_en: str


class RegionOut(Named):
    pass


class DepartmentOut(Named):
    pass


class DomainOut(Named):
    sort: int
    service_count: int


class AdapterBinding(BaseModel):
    id: str = Field(examples=["provident_fund"])
    operation: str = Field(examples=["balance"])


class MaterialOut(Named):
    e_license: str | None = Field(
        default=None,
        description="Licence type the e-license library holds; such a material needs no upload",
    )


class ApplicationTerms(BaseModel):
    trips: int = Field(description="In-person trips the matter may require (0 or 1)")
    promised_days: int = Field(description="Promised working days")
    statutory_days: int = Field(description="Statutory working days")
    materials: list[MaterialOut]
    form_schema: dict[str, Any] | None = Field(
        default=None, description="JSON Schema of the application form"
    )
    review_departments: list[str] = Field(
        default_factory=list, description="Departments reviewing in parallel (并联审批)"
    )


class ServiceSummary(Named):
    summary_zh: str
    summary_en: str
    domain: str = Field(examples=["housing"])
    kind: ServiceKind
    department: DepartmentOut
    min_level: int = Field(ge=0, le=3, description="Minimum identity assurance level (0–3)")
    citywide: bool = Field(description="Offered in every district and county of Hefei")
    regions: list[str] = Field(description="Administrative codes of the regions it is offered in")
    degraded: bool = Field(
        default=False,
        description=(
            "The department system behind this service is failing right now (its circuit"
            " breaker is open): the app can say so before the citizen taps. Services answered"
            " without a department system are never degraded."
        ),
    )


class ServiceDetail(ServiceSummary):
    keywords: list[str]
    adapter: AdapterBinding | None
    application: ApplicationTerms | None
    life_events: list[str]


class ServicePage(BaseModel):
    items: list[ServiceSummary]
    total: int
    page: int
    page_size: int


class LifeEventSummary(Named):
    summary_zh: str
    summary_en: str
    service_count: int


class LifeEventDetail(LifeEventSummary):
    services: list[ServiceSummary]


class DomainList(BaseModel):
    items: list[DomainOut]
    total_services: int


class LifeEventList(BaseModel):
    items: list[LifeEventSummary]


class RegionList(BaseModel):
    items: list[RegionOut]
