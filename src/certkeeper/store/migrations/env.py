"""Alembic environment: run migrations on the connection `database.migrate` hands over.

There is no alembic.ini and no URL here; the caller owns the connection and its
transaction, so migrating works the same from tests, the CLI and an installed package.
"""

from __future__ import annotations

from alembic import context
from sqlalchemy import Connection

from certkeeper.store.tables import metadata

connection = context.config.attributes.get("connection")
if not isinstance(connection, Connection):
    raise RuntimeError("run migrations through certkeeper.store.database.migrate(engine)")

context.configure(
    connection=connection,
    target_metadata=metadata,
    # SQLite cannot ALTER most things; batch mode rebuilds the table instead.
    render_as_batch=connection.dialect.name == "sqlite",
    compare_type=True,
)
with context.begin_transaction():
    context.run_migrations()
