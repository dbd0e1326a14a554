"""Indexes for cursor pagination: each list's filter, then (time, id).

A page after the first starts at its cursor (backend/pagination.py: newest first, ties by
id). With the list's filter followed by the time and the id in one index, the database reads
the page from where the cursor points, so the last page costs what the first does, and
nothing is sorted. Each single-column index on the filter alone is the new one's prefix and
goes; the partial ones hold only unread messages (the unread pages and count) and live
sessions.

Revision ID: 0014
Revises: 0013
Create Date: 2026-12-04
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0014"
down_revision: str | None = "0013"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

UNREAD = "read_at IS NULL"
LIVE = "revoked_at IS NULL"

# (table, index dropped, its columns) → (new index, its columns, partial condition or None)
CHANGES: list[tuple[str, str | None, list[str], str, list[str], str | None]] = [
    (
        "applications_application",
        "ix_applications_applicant_created",
        ["applicant_id", "created_at"],
        "ix_applications_applicant_page",
        ["applicant_id", "created_at", "id"],
        None,
    ),
    (
        "applications_application",
        "ix_applications_application_enterprise_id",
        ["enterprise_id"],
        "ix_applications_enterprise_page",
        ["enterprise_id", "created_at", "id"],
        None,
    ),
    (
        "applications_message",
        "ix_applications_message_citizen_id",
        ["citizen_id"],
        "ix_applications_message_page",
        ["citizen_id", "created_at", "id"],
        None,
    ),
    (
        "applications_message",
        None,
        [],
        "ix_applications_message_unread_page",
        ["citizen_id", "created_at", "id"],
        UNREAD,
    ),
    (
        "applications_rectification",
        "ix_applications_rectification_department_code",
        ["department_code"],
        "ix_applications_rectification_page",
        ["department_code", "created_at", "id"],
        None,
    ),
    (
        "applications_rectification",
        None,
        [],
        "ix_applications_rectification_status_page",
        ["department_code", "status", "created_at", "id"],
        None,
    ),
    (
        "applications_webhook_receipt",
        "ix_applications_webhook_receipt_department_code",
        ["department_code"],
        "ix_applications_webhook_receipt_page",
        ["department_code", "received_at", "id"],
        None,
    ),
    (
        "identity_session",
        "ix_identity_session_citizen_id",
        ["citizen_id"],
        "ix_identity_session_live_page",
        ["citizen_id", "created_at", "id"],
        LIVE,
    ),
    (
        "identity_enterprise_link",
        "ix_identity_enterprise_link_citizen_id",
        ["citizen_id"],
        "ix_identity_enterprise_link_citizen_page",
        ["citizen_id", "created_at", "id"],
        None,
    ),
    (
        "providers_adapter",
        "ix_providers_adapter_provider_code",
        ["provider_code"],
        "ix_providers_adapter_page",
        ["provider_code", "created_at", "adapter_id"],
        None,
    ),
    (
        "providers_adapter_version",
        "ix_providers_adapter_version_adapter_id",
        ["adapter_id"],
        "ix_providers_adapter_version_page",
        ["adapter_id", "created_at", "version"],
        None,
    ),
    (
        "providers_service",
        "ix_providers_service_provider_code",
        ["provider_code"],
        "ix_providers_service_provider_page",
        ["provider_code", "created_at", "id"],
        None,
    ),
    (
        "providers_service",
        None,
        [],
        "ix_providers_service_status_page",
        ["status", "created_at", "id"],
        None,
    ),
]


def _create(table: str, name: str, columns: list[str], where: str | None) -> None:
    partial = (
        {}
        if where is None
        else {
            "postgresql_where": sa.text(where),
            "sqlite_where": sa.text(where),
        }
    )
    op.create_index(name, table, columns, **partial)


def upgrade() -> None:
    for table, old, _, new, columns, where in CHANGES:
        _create(table, new, columns, where)
        if old is not None:
            op.drop_index(old, table_name=table)


def downgrade() -> None:
    for table, old, old_columns, new, _, _ in reversed(CHANGES):
        if old is not None:
            op.create_index(old, table, old_columns)
        op.drop_index(new, table_name=table)
