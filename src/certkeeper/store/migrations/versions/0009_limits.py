"""Resumable batches: `batches` and `batch_items`.

A batch run of `issue --batch` records each CSR (by the SHA-256 of its file) before it
is issued and the serial after; a run that did not finish is resumed by the same
command, which skips what it already issued. (The finalize-time rate limit needs no
schema: it counts the existing acme_rate_events in one transaction.)

Revision ID: 0009
Revises: 0008
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0009"
down_revision: str | None = "0008"
branch_labels: str | None = None
depends_on: str | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "batches",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("directory", sa.Text(), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("subscriber_id", sa.String(length=128), nullable=True),
        sa.Column("started_at", TIMESTAMPTZ, nullable=False),
        sa.Column("finished_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_batches")),
    )
    op.create_index("ix_batches_directory", "batches", ["directory", "profile_id"])
    op.create_table(
        "batch_items",
        sa.Column("batch_id", sa.Integer(), nullable=False),
        sa.Column("csr_sha256", sa.String(length=64), nullable=False),
        sa.Column("file_name", sa.Text(), nullable=False),
        sa.Column("started_at", TIMESTAMPTZ, nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=True),
        sa.ForeignKeyConstraint(
            ["batch_id"], ["batches.id"], name=op.f("fk_batch_items_batch_id_batches")
        ),
        sa.ForeignKeyConstraint(
            ["serial"], ["serials.serial"], name=op.f("fk_batch_items_serial_serials")
        ),
        sa.PrimaryKeyConstraint("batch_id", "csr_sha256", name=op.f("pk_batch_items")),
    )


def downgrade() -> None:
    op.drop_table("batch_items")
    op.drop_index("ix_batches_directory", table_name="batches")
    op.drop_table("batches")
