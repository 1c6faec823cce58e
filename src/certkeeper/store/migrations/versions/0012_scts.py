"""Signed certificate timestamps stored with certificates.

Revision ID: 0012
Revises: 0011
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0012"
down_revision: str | None = "0011"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "scts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("log_id", sa.String(length=64), nullable=False),
        sa.Column("timestamp_ms", sa.BigInteger(), nullable=False),
        sa.Column("signature", sa.LargeBinary(), nullable=False),
        sa.Column("sct", sa.LargeBinary(), nullable=False),
        sa.ForeignKeyConstraint(
            ["serial"], ["serials.serial"], name=op.f("fk_scts_serial_serials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_scts")),
        sa.UniqueConstraint("serial", "log_id", name="uq_scts_serial_log_id"),
    )
    op.create_table(
        "ct_pending",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("subscriber_id", sa.String(length=128), nullable=True),
        sa.Column("cps_version", sa.String(length=32), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("updated_at", sa.DateTime(timezone=True), nullable=False),
        sa.ForeignKeyConstraint(
            ["serial"], ["serials.serial"], name=op.f("fk_ct_pending_serial_serials")
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_ct_pending")),
    )


def downgrade() -> None:
    op.drop_table("ct_pending")
    op.drop_table("scts")
