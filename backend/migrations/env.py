"""Alembic environment: runs on the connection handed over by ``backend.migrate``."""

from __future__ import annotations

from alembic import context
from sqlmodel import SQLModel

import backend.models_registry  # noqa: F401  (imports every table so metadata is complete)

config = context.config
target_metadata = SQLModel.metadata


def run_migrations_online() -> None:
    connection = config.attributes.get("connection")
    if connection is None:
        raise RuntimeError("run migrations through `hefeitong migrate`, not the alembic CLI")
    context.configure(
        connection=connection,
        target_metadata=target_metadata,
        render_as_batch=True,  # SQLite cannot ALTER most things; batch mode copies the table
        compare_type=True,
    )
    with context.begin_transaction():
        context.run_migrations()


if context.is_offline_mode():
    raise RuntimeError("offline migrations are not supported")
run_migrations_online()
