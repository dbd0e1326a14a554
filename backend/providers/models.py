"""Tables of provider onboarding: providers, their adapters' versions, proposed services."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import JSON, Column, Index, UniqueConstraint
from sqlmodel import Field, SQLModel

from backend.db import UtcDateTime
from backend.ids import uuid7


def _utc(nullable: bool = False) -> Column[datetime]:
    return Column(UtcDateTime(), nullable=nullable)


class Provider(SQLModel, table=True):
    """A department that runs its own systems; its code is its catalog department code."""

    __tablename__ = "providers_provider"

    code: str = Field(primary_key=True, max_length=64)
    name_zh: str = Field(max_length=100)
    name_en: str = Field(max_length=200)
    # Hosts its adapters may call; internal ones only if an administrator listed them in
    # ``internal_hosts`` too (a department inside the government network).
    allowed_hosts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    internal_hosts: list[str] = Field(default_factory=list, sa_column=Column(JSON, nullable=False))
    created_at: datetime = Field(sa_column=_utc())


class ProviderAdapter(SQLModel, table=True):
    """An adapter a provider registered, and which of its versions citizens are served by."""

    __tablename__ = "providers_adapter"
    # The provider's adapters, a page at a time.
    __table_args__ = (
        Index("ix_providers_adapter_page", "provider_code", "created_at", "adapter_id"),
    )

    adapter_id: str = Field(primary_key=True, max_length=64)
    provider_code: str = Field(foreign_key="providers_provider.code", max_length=64)
    latest_version: int = 0
    active_version: int | None = None
    created_at: datetime = Field(sa_column=_utc())
    updated_at: datetime = Field(sa_column=_utc())


class AdapterVersion(SQLModel, table=True):
    """One immutable version of an adapter spec. The spec is kept with its secrets
    replaced by a marker; the secrets themselves are encrypted apart."""

    __tablename__ = "providers_adapter_version"
    __table_args__ = (
        UniqueConstraint("adapter_id", "version"),
        # An adapter's versions, a page at a time.
        Index("ix_providers_adapter_version_page", "adapter_id", "created_at", "version"),
    )

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    adapter_id: str = Field(foreign_key="providers_adapter.adapter_id", max_length=64)
    version: int
    spec: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    secrets_enc: str = Field(max_length=8192)
    created_by: str = Field(max_length=64)
    created_at: datetime = Field(sa_column=_utc())


class ProviderService(SQLModel, table=True):
    """A catalog service a provider proposed, bound to one of its adapter operations."""

    __tablename__ = "providers_service"
    __table_args__ = (
        # A provider's proposals, and the administrators' queue by status, a page at a time.
        Index("ix_providers_service_provider_page", "provider_code", "created_at", "id"),
        Index("ix_providers_service_status_page", "status", "created_at", "id"),
    )

    id: str = Field(default_factory=uuid7, primary_key=True, max_length=36)
    code: str = Field(index=True, max_length=64)
    provider_code: str = Field(foreign_key="providers_provider.code", max_length=64)
    adapter_id: str = Field(max_length=64)
    operation: str = Field(max_length=64)
    # The catalog entry as proposed (domain, names, summaries, min_level, keywords…).
    entry: dict[str, Any] = Field(sa_column=Column(JSON, nullable=False))
    status: str = Field(default="proposed", max_length=16)  # proposed | approved | rejected
    note: str | None = Field(default=None, max_length=500)
    created_at: datetime = Field(sa_column=_utc())
    decided_at: datetime | None = Field(default=None, sa_column=_utc(nullable=True))


class AdaptersRevision(SQLModel, table=True):
    """Bumped by every publish and rollback: each worker compares it with what it loaded."""

    __tablename__ = "providers_revision"

    id: int = Field(default=1, primary_key=True)
    revision: int = 0
