"""Catalog tables. The reviewed data file is the source; these rows are its loaded copy."""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Column
from sqlmodel import Field, SQLModel


class Region(SQLModel, table=True):
    __tablename__ = "catalog_region"

    code: str = Field(primary_key=True, max_length=6)
    name_zh: str
    name_en: str
    position: int


class Domain(SQLModel, table=True):
    __tablename__ = "catalog_domain"

    code: str = Field(primary_key=True, max_length=32)
    name_zh: str
    name_en: str
    sort: int


class Department(SQLModel, table=True):
    __tablename__ = "catalog_department"

    code: str = Field(primary_key=True, max_length=64)
    name_zh: str
    name_en: str


class Service(SQLModel, table=True):
    __tablename__ = "catalog_service"

    code: str = Field(primary_key=True, max_length=64)
    position: int = Field(description="Order in the data file; the default listing order")
    domain_code: str = Field(foreign_key="catalog_domain.code", index=True)
    department_code: str = Field(foreign_key="catalog_department.code", index=True)
    kind: str = Field(max_length=16, index=True)
    name_zh: str
    name_en: str
    summary_zh: str
    summary_en: str
    min_level: int
    # None means offered in every region of the city.
    regions: list[str] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    keywords: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    adapter_id: str | None = None
    adapter_operation: str | None = None
    trips: int | None = None
    promised_days: int | None = None
    statutory_days: int | None = None
    materials: list[dict[str, Any]] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )
    form_schema: dict[str, Any] | None = Field(default=None, sa_column=Column(JSON, nullable=True))
    review_departments: list[str] | None = Field(
        default=None, sa_column=Column(JSON, nullable=True)
    )


class LifeEvent(SQLModel, table=True):
    __tablename__ = "catalog_life_event"

    code: str = Field(primary_key=True, max_length=64)
    position: int
    name_zh: str
    name_en: str
    summary_zh: str
    summary_en: str


class LifeEventService(SQLModel, table=True):
    __tablename__ = "catalog_life_event_service"

    life_event_code: str = Field(foreign_key="catalog_life_event.code", primary_key=True)
    service_code: str = Field(foreign_key="catalog_service.code", primary_key=True)
    position: int


# Announced on the KV store once a change that bumped the revision is committed (through the
# API): every worker's CatalogStore reloads at once instead of at its next look.
CATALOG_CHANNEL = "catalog:revision"


class CatalogRevision(SQLModel, table=True):
    """One row: bumped on every load, so running servers notice and reload their index."""

    __tablename__ = "catalog_revision"

    id: int = Field(default=1, primary_key=True)
    revision: int
    source: str = Field(description="'bundled', or the path given to `catalog load`")
    source_sha256: str
