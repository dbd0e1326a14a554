"""Request and response bodies of the gateway."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

CacheState = Literal["miss", "hit", "stale"]
SectionStatus = Literal["ok", "stale", "unavailable"]


class InvokeRequest(BaseModel):
    model_config = ConfigDict(extra="forbid")

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
    social_security: OverviewSection
    provident_fund: OverviewSection
    medical_insurance: OverviewSection
    traffic_violations: OverviewSection
    licence_points: OverviewSection
    appointments: OverviewSection
    generated_at: datetime
