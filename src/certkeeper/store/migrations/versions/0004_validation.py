"""Domain validation records and CAA checks.

Revision ID: 0004
Revises: 0003
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0004"
down_revision: str | None = "0003"
branch_labels: str | None = None
depends_on: str | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "domain_validations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fqdn", sa.String(length=253), nullable=False),
        sa.Column("wildcard", sa.Boolean(), nullable=False),
        sa.Column("account_uri", sa.String(length=512), nullable=False),
        sa.Column("method", sa.String(length=16), nullable=False),
        sa.Column("challenge_type", sa.String(length=16), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("validated_at", TIMESTAMPTZ, nullable=False),
        sa.Column("reuse_until", TIMESTAMPTZ, nullable=False),
        sa.Column("perspectives", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_domain_validations")),
    )
    op.create_index(
        "ix_domain_validations_lookup",
        "domain_validations",
        ["fqdn", "account_uri", "reuse_until"],
    )
    op.create_table(
        "caa_checks",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fqdn", sa.String(length=253), nullable=False),
        sa.Column("wildcard", sa.Boolean(), nullable=False),
        sa.Column("account_uri", sa.String(length=512), nullable=False),
        sa.Column("checked_at", TIMESTAMPTZ, nullable=False),
        sa.Column("allowed", sa.Boolean(), nullable=False),
        sa.Column("problem_type", sa.String(length=32), nullable=True),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("evidence", sa.Text(), nullable=False),
        sa.Column("perspectives", sa.Text(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=True),
        sa.Column("context", sa.Text(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_caa_checks")),
    )
    op.create_index("ix_caa_checks_fqdn", "caa_checks", ["fqdn", "checked_at"])


def downgrade() -> None:
    op.drop_index("ix_caa_checks_fqdn", table_name="caa_checks")
    op.drop_index("ix_domain_validations_lookup", table_name="domain_validations")
    op.drop_table("caa_checks")
    op.drop_table("domain_validations")
