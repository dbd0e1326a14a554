"""Stats read open clocks from a partial covering index; drop two redundant indexes.

Measured with 5 million applications (bench/applications_scale.py): the overdue and
warning counts read ~1 GB of rows through (status, warn_on); a partial index of the
open applications that carries the columns the count needs answers from the index.
applicant_id and status alone are prefixes of composite indexes and cost every insert.

Revision ID: 0013
Revises: 0012
Create Date: 2026-11-26
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
from alembic import op

revision: str = "0013"
down_revision: str | None = "0012"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('accepted', 'in_review', 'supplement_required', 'approved')"
TABLE = "applications_application"


def upgrade() -> None:
    op.drop_index("ix_applications_application_applicant_id", table_name=TABLE)
    op.drop_index("ix_applications_application_status", table_name=TABLE)
    op.create_index(
        "ix_applications_open_clock",
        TABLE,
        ["warn_on"],
        postgresql_include=["due_on", "paused_on", "service_code"],
        postgresql_where=sa.text(OPEN),
        sqlite_where=sa.text(OPEN),
    )


def downgrade() -> None:
    op.drop_index("ix_applications_open_clock", table_name=TABLE)
    op.create_index("ix_applications_application_status", TABLE, ["status"])
    op.create_index("ix_applications_application_applicant_id", TABLE, ["applicant_id"])
