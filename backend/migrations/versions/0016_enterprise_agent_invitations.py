"""Enterprise agents by invitation; messages that are about no application

An agent is now invited by phone and becomes one by accepting (issue 13, finding 8):
``identity_agent_invitation`` keeps the invitations and, once accepted, the agents. Every
agent linked before gets a row of its own, accepted when it was linked, with the link's id
as its id, so the legal representative can list and remove them too.

Identity's notices (an invitation answered, an agent removed) go to the message centre:
``applications_message`` gets a ``kind`` and its ``application_id`` may be null. SQLite
cannot change a column's nullability in place; batch mode copies the table, so its indexes
are dropped first and built again after (the partial one would not survive the copy).
Downgrading deletes the messages that are about no application.

Revision ID: 0016
Revises: 0015
Create Date: 2026-12-08
"""

from __future__ import annotations

from collections.abc import Sequence

import sqlalchemy as sa
import sqlmodel
from alembic import op

revision: str = "0016"
down_revision: str | None = "0015"
branch_labels: str | Sequence[str] | None = None
depends_on: str | Sequence[str] | None = None

OPEN = "status IN ('pending', 'accepted')"
UNREAD = "read_at IS NULL"
MESSAGE_INDEXES: list[tuple[str, list[str], str | None]] = [
    ("ix_applications_message_page", ["citizen_id", "created_at", "id"], None),
    ("ix_applications_message_unread_page", ["citizen_id", "created_at", "id"], UNREAD),
]


def _partial(where: str | None) -> dict[str, sa.TextClause]:
    if where is None:
        return {}
    return {"postgresql_where": sa.text(where), "sqlite_where": sa.text(where)}


def _string(length: int | None = None) -> sqlmodel.sql.sqltypes.AutoString:
    return sqlmodel.sql.sqltypes.AutoString(length=length)


def upgrade() -> None:
    op.create_table(
        "identity_agent_invitation",
        sa.Column("id", _string(36), nullable=False),
        sa.Column("enterprise_id", _string(36), nullable=False),
        sa.Column("phone_hash", _string(64), nullable=False),
        sa.Column("phone_enc", _string(), nullable=False),
        sa.Column("invited_by", _string(36), nullable=False),
        sa.Column("status", _string(16), nullable=False),
        sa.Column("citizen_id", _string(36), nullable=True),
        sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("expires_at", sa.DateTime(timezone=True), nullable=False),
        sa.Column("answered_at", sa.DateTime(timezone=True), nullable=True),
        sa.ForeignKeyConstraint(["enterprise_id"], ["identity_enterprise.id"]),
        sa.ForeignKeyConstraint(["citizen_id"], ["identity_citizen.id"]),
        sa.PrimaryKeyConstraint("id"),
    )
    op.create_index(
        "uq_identity_agent_invitation_open",
        "identity_agent_invitation",
        ["enterprise_id", "phone_hash"],
        unique=True,
        **_partial(OPEN),
    )
    op.create_index(
        "ix_identity_agent_invitation_enterprise_page",
        "identity_agent_invitation",
        ["enterprise_id", "created_at", "id"],
    )
    op.create_index(
        "ix_identity_agent_invitation_phone_page",
        "identity_agent_invitation",
        ["phone_hash", "created_at", "id"],
    )
    # The agents linked before invitations existed: accepted when they were linked.
    op.execute(
        "INSERT INTO identity_agent_invitation (id, enterprise_id, phone_hash, phone_enc,"
        " invited_by, status, citizen_id, created_at, expires_at, answered_at)"
        " SELECT l.id, l.enterprise_id, c.phone_hash, c.phone_enc, COALESCE(l.granted_by, ''),"
        " 'accepted', l.citizen_id, l.created_at, l.created_at, l.created_at"
        " FROM identity_enterprise_link l JOIN identity_citizen c ON c.id = l.citizen_id"
        " WHERE l.role = 'agent'"
    )

    for name, _, _ in MESSAGE_INDEXES:
        op.drop_index(name, table_name="applications_message")
    with op.batch_alter_table("applications_message") as batch_op:
        batch_op.add_column(
            sa.Column("kind", _string(32), nullable=False, server_default="application")
        )
        batch_op.alter_column("application_id", existing_type=_string(36), nullable=True)
    for name, columns, where in MESSAGE_INDEXES:
        op.create_index(name, "applications_message", columns, **_partial(where))


def downgrade() -> None:
    op.execute("DELETE FROM applications_message WHERE application_id IS NULL")
    for name, _, _ in MESSAGE_INDEXES:
        op.drop_index(name, table_name="applications_message")
    with op.batch_alter_table("applications_message") as batch_op:
        batch_op.alter_column("application_id", existing_type=_string(36), nullable=False)
        batch_op.drop_column("kind")
    for name, columns, where in MESSAGE_INDEXES:
        op.create_index(name, "applications_message", columns, **_partial(where))

    op.drop_index("ix_identity_agent_invitation_phone_page", "identity_agent_invitation")
    op.drop_index("ix_identity_agent_invitation_enterprise_page", "identity_agent_invitation")
    op.drop_index("uq_identity_agent_invitation_open", "identity_agent_invitation")
    op.drop_table("identity_agent_invitation")
