"""Response models of the catalog API (both languages in every entry)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

from backend.catalog.data_file import ServiceKind

# Examples for the OpenAPI document, taken from the real catalog (backend/catalog/data).
_HPF_DEPARTMENT = {
    "code": "hf-hpf",
    "name_zh": "合肥住房公积金管理中心",
    "name_en": "Hefei Housing Provident Fund Management Center",
}
_ALL_REGIONS = [
    "340102",
    "340103",
    "340104",
    "340111",
    "340121",
    "340122",
    "340123",
    "340124",
    "340181",
]
_BALANCE_QUERY: dict[str, Any] = {
    "code": "hpf-balance-query",
    "name_zh": "住房公积金余额查询",
    "name_en": "Housing provident fund balance",
    "summary_zh": "查询个人住房公积金账户余额、缴存基数和缴存状态。",
    "summary_en": "Check your provident fund balance, contribution base and status.",
    "domain": "housing",
    "kind": "query",
    "department": _HPF_DEPARTMENT,
    "min_level": 2,
    "citywide": True,
    "regions": _ALL_REGIONS,
    "degraded": False,
}
_RENT_WITHDRAWAL: dict[str, Any] = {
    "code": "hpf-withdrawal-rent",
    "name_zh": "租房提取住房公积金",
    "name_en": "Provident fund withdrawal for rent",
    "summary_zh": "在本市无自有住房且租房居住的职工，按月或按年提取住房公积金支付房租。",
    "summary_en": (
        "Employees who rent and own no home in Hefei can withdraw provident fund monthly"
        " or yearly to pay rent."
    ),
    "domain": "housing",
    "kind": "application",
    "department": _HPF_DEPARTMENT,
    "min_level": 2,
    "citywide": True,
    "regions": _ALL_REGIONS,
    "degraded": False,
    "keywords": ["租房", "提取", "公积金付房租"],
    "adapter": {"id": "provident_fund", "operation": "withdrawal_apply"},
    "application": {
        "trips": 0,
        "promised_days": 1,
        "statutory_days": 3,
        "materials": [
            {
                "code": "id-card",
                "name_zh": "居民身份证",
                "name_en": "Resident ID card",
                "e_license": "id_card",
            },
            {
                "code": "lease-contract",
                "name_zh": "房屋租赁合同",
                "name_en": "Housing lease contract",
                "e_license": None,
            },
        ],
        "form_schema": {
            "type": "object",
            "additionalProperties": False,
            "required": [
                "rental_address",
                "monthly_rent",
                "lease_start",
                "lease_end",
                "bank_account",
            ],
            "properties": {
                "rental_address": {"title": "租赁地址", "type": "string", "maxLength": 200},
                "monthly_rent": {
                    "title": "月租金（元）",
                    "type": "number",
                    "minimum": 0,
                    "maximum": 100000,
                },
                "lease_start": {"title": "租赁开始日期", "type": "string", "format": "date"},
                "lease_end": {"title": "租赁结束日期", "type": "string", "format": "date"},
                "withdrawal_frequency": {
                    "title": "提取方式",
                    "type": "string",
                    "enum": ["按月提取", "按季提取", "按年提取"],
                },
                "bank_account": {
                    "title": "收款银行账号",
                    "type": "string",
                    "pattern": "^[0-9]{16,19}$",
                    "maxLength": 19,
                },
            },
        },
        "review_departments": ["hf-hpf"],
    },
    "life_events": ["moving-house"],
}


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
    model_config = ConfigDict(json_schema_extra={"examples": [_BALANCE_QUERY]})

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
    # Its own example: the summary's (inherited otherwise) lacks the detail's fields.
    model_config = ConfigDict(json_schema_extra={"examples": [_RENT_WITHDRAWAL]})

    keywords: list[str]
    adapter: AdapterBinding | None
    application: ApplicationTerms | None
    life_events: list[str]


class ServicePage(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [{"items": [_BALANCE_QUERY], "total": 46, "page": 1, "page_size": 1}]
        }
    )

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
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "items": [
                        {
                            "code": "healthcare",
                            "name_zh": "医疗健康",
                            "name_en": "Healthcare",
                            "sort": 1,
                            "service_count": 48,
                        },
                        {
                            "code": "social_security",
                            "name_zh": "社保就业",
                            "name_en": "Social security & employment",
                            "sort": 2,
                            "service_count": 50,
                        },
                        {
                            "code": "housing",
                            "name_zh": "住房公积金",
                            "name_en": "Housing & provident fund",
                            "sort": 3,
                            "service_count": 46,
                        },
                        {
                            "code": "transport",
                            "name_zh": "交通出行",
                            "name_en": "Transport",
                            "sort": 4,
                            "service_count": 48,
                        },
                        {
                            "code": "education",
                            "name_zh": "教育服务",
                            "name_en": "Education",
                            "sort": 5,
                            "service_count": 46,
                        },
                    ],
                    "total_services": 238,
                }
            ]
        }
    )

    items: list[DomainOut]
    total_services: int


class LifeEventList(BaseModel):
    items: list[LifeEventSummary]


class RegionList(BaseModel):
    items: list[RegionOut]
