"""The service catalog: domains, services, life events, regions and search.

What other features may use; everything else in this package is the catalog's own
(import-linter's "catalog internals" contract in pyproject.toml keeps it so).
"""

from backend.catalog.contributed import (
    ContributedService,
    domain_exists,
    publish_contributed,
    service_code_taken,
)
from backend.catalog.dependencies import CatalogDep, snapshot_of
from backend.catalog.exceptions import ServiceNotFound
from backend.catalog.schemas import ServiceDetail
from backend.catalog.service import CatalogSnapshot

__all__ = [
    "CatalogDep",
    "CatalogSnapshot",
    "ContributedService",
    "ServiceDetail",
    "ServiceNotFound",
    "domain_exists",
    "publish_contributed",
    "service_code_taken",
    "snapshot_of",
]
