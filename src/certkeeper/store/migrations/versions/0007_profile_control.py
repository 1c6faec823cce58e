"""Profile state (enabled/disabled) and version ownership.

profile_versions gains who recorded each version and who approved it; versions stored
before this revision were already in use, so they count as approved when recorded.
profile_events is the append-only history of disabling and enabling profiles.

Revision ID: 0007
Revises: 0006
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0007"
down_revision: str | None = "0006"
branch_labels: str | None = None
depends_on: str | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.add_column("profile_versions", sa.Column("created_by", sa.String(length=128), nullable=True))
    op.add_column(
        "profile_versions", sa.Column("approved_by", sa.String(length=128), nullable=True)
    )
    op.add_column("profile_versions", sa.Column("approved_at", TIMESTAMPTZ, nullable=True))
    op.execute("UPDATE profile_versions SET approved_at = created_at")
    op.create_table(
        "profile_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("action", sa.String(length=16), nullable=False),
        sa.Column("reason", sa.Text(), nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("at", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_profile_events")),
    )
    op.create_index("ix_profile_events_profile", "profile_events", ["profile_id", "id"])


def downgrade() -> None:
    op.drop_index("ix_profile_events_profile", table_name="profile_events")
    op.drop_table("profile_events")
    with op.batch_alter_table("profile_versions") as batch:
        batch.drop_column("approved_at")
        batch.drop_column("approved_by")
        batch.drop_column("created_by")
