"""DNSSEC status on validation and CAA records; the ACME profile of an order.

Revision ID: 0010
Revises: 0009
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0010"
down_revision: str | None = "0009"
branch_labels: str | None = None
depends_on: str | None = None

DNSSEC_TABLES = ("domain_validations", "caa_checks")


def upgrade() -> None:
    for table in DNSSEC_TABLES:
        with op.batch_alter_table(table) as batch:
            batch.add_column(sa.Column("dnssec", sa.String(length=16), nullable=True))
    with op.batch_alter_table("acme_orders") as batch:
        batch.add_column(sa.Column("profile", sa.String(length=32), nullable=True))


def downgrade() -> None:
    with op.batch_alter_table("acme_orders") as batch:
        batch.drop_column("profile")
    for table in reversed(DNSSEC_TABLES):
        with op.batch_alter_table(table) as batch:
            batch.drop_column("dnssec")
