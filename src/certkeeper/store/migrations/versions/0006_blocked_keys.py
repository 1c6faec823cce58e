"""Blocked (compromised) keys and issuance safeguards.

blocked_keys (BR 6.1.1.3), operator_challenges (random values of `certkeeper validate`)
and hierarchy (public or not, fixed at `init`). A home created before this revision has
no hierarchy row and is treated as public.

Revision ID: 0006
Revises: 0005
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0006"
down_revision: str | None = "0005"
branch_labels: str | None = None
depends_on: str | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "blocked_keys",
        sa.Column("spki_sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.String(length=32), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=True),
        sa.Column("blocked_at", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("spki_sha256", name=op.f("pk_blocked_keys")),
    )
    op.create_table(
        "operator_challenges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("fqdn", sa.String(length=253), nullable=False),
        sa.Column("wildcard", sa.Boolean(), nullable=False),
        sa.Column("challenge_type", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("key_authorization", sa.String(length=256), nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.Column("expires_at", TIMESTAMPTZ, nullable=False),
        sa.Column("used_at", TIMESTAMPTZ, nullable=True),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_operator_challenges")),
        sa.UniqueConstraint("token", name=op.f("uq_operator_challenges_token")),
    )
    op.create_index(
        "ix_operator_challenges_fqdn", "operator_challenges", ["fqdn", "challenge_type"]
    )
    op.create_table(
        "hierarchy",
        sa.Column("id", sa.Integer(), nullable=False),
        sa.Column("public", sa.Boolean(), nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_hierarchy")),
    )


def downgrade() -> None:
    op.drop_table("hierarchy")
    op.drop_index("ix_operator_challenges_fqdn", table_name="operator_challenges")
    op.drop_table("operator_challenges")
    op.drop_table("blocked_keys")
