"""Request and response bodies of the gateway."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CacheState = Literal["miss", "hit", "stale"]
SectionStatus = Literal["ok", "stale", "unavailable"]


class InvokeRequest(BaseModel):
    # The example asks hpf-deposit-details (provident_fund.deposits) for its first page.
    model_config = ConfigDict(
        extra="forbid", json_schema_extra={"examples": [{"params": {"page": 1, "size": 20}}]}
    )

    params: dict[str, Any] = Field(
        default_factory=dict,
        description="The operation's parameters (see the service's adapter operation)",
        examples=[{"page": 1, "size": 20}],
    )


class Source(BaseModel):
    adapter: str = Field(examples=["provident_fund"])
    operation: str = Field(examples=["balance"])
    name_zh: str = Field(examples=["合肥住房公积金管理中心业务系统"])
    name_en: str


class InvokeResponse(BaseModel):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "data": {
                        "total": 26,
                        "page": 1,
                        "size": 20,
                        "records": [
                            {
                                "month": "2026-02",
                                "amount": "1200.00",
                                "employer": "中国科学技术大学",
                                "type": "汇缴",
                            },
                            {
                                "month": "2026-01",
                                "amount": "1200.00",
                                "employer": "中国科学技术大学",
                                "type": "汇缴",
                            },
                        ],
                    },
                    "source": {
                        "adapter": "provident_fund",
                        "operation": "deposits",
                        "name_zh": "合肥住房公积金管理中心业务系统",
                        "name_en": "Hefei Housing Provident Fund Center",
                    },
                    "fetched_at": "2026-03-16T01:32:05.118Z",
                    "cache": "miss",
                }
            ]
        }
    )

    data: Any = Field(description="Normalized data from the department")
    source: Source
    fetched_at: datetime = Field(description="When the department produced this answer (UTC)")
    cache: CacheState = Field(
        description="miss: fetched now; hit: cached and fresh; stale: cached, served because "
        "the department failed"
    )


class OverviewSection(BaseModel):
    status: SectionStatus
    data: Any = None
    fetched_at: datetime | None = None
    error: str | None = Field(default=None, description="Problem code when unavailable")


class Overview(BaseModel):
    # The traffic police system did not answer within the deadline (both its sections are
    # unavailable) and the medical insurance system failed (a recent answer, marked stale).
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "social_security": {
                        "status": "ok",
                        "data": {
                            "pension_balance": "86420.00",
                            "medical_balance": "3215.40",
                            "unemployment_months": 0,
                        },
                        "fetched_at": "2026-03-16T01:35:00.412Z",
                        "error": None,
                    },
                    "provident_fund": {
                        "status": "ok",
                        "data": {
                            "name": "张三",
                            "account_no": "34018768121334",
                            "balance": "23771.10",
                            "monthly_deposit": "1200.00",
                            "deposit_base": "12000.00",
                            "status": "正常",
                            "last_deposit_month": "2026-02",
                        },
                        "fetched_at": "2026-03-16T01:35:00.398Z",
                        "error": None,
                    },
                    "medical_insurance": {
                        "status": "stale",
                        "data": {
                            "balance": "3215.40",
                            "year_spent": "418.60",
                            "status": "正常参保",
                        },
                        "fetched_at": "2026-03-16T01:20:41.007Z",
                        "error": None,
                    },
                    "traffic_violations": {
                        "status": "unavailable",
                        "data": None,
                        "fetched_at": None,
                        "error": "ADAPTER_TIMEOUT",
                    },
                    "licence_points": {
                        "status": "unavailable",
                        "data": None,
                        "fetched_at": None,
                        "error": "ADAPTER_TIMEOUT",
                    },
                    "appointments": {
                        "status": "ok",
                        "data": [],
                        "fetched_at": "2026-03-16T01:35:00.405Z",
                        "error": None,
                    },
                    "generated_at": "2026-03-16T01:35:01.502Z",
                }
            ]
        }
    )

    social_security: OverviewSection
    provident_fund: OverviewSection
    medical_insurance: OverviewSection
    traffic_violations: OverviewSection
    licence_points: OverviewSection
    appointments: OverviewSection
    generated_at: datetime
