"""Platform administration of applications: the working-day calendar and statistics."""

from __future__ import annotations

from fastapi import APIRouter

router = APIRouter(prefix="/v1/admin", tags=["admin"])
