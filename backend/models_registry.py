"""Imports every feature's tables, so SQLModel.metadata is complete for Alembic and tests."""

from backend.applications import models as applications_models
from backend.catalog import models as catalog_models
from backend.identity import models as identity_models
from backend.providers import models as providers_models

__all__ = ["applications_models", "catalog_models", "identity_models", "providers_models"]
