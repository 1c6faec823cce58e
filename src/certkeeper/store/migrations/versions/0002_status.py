"""Status services (revocations, pre-signed OCSP responses, CRL shard state), lint runs.

Revision ID: 0002
Revises: 0001
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

TIMESTAMPTZ = sa.DateTime(timezone=True)

revision = "0002"
down_revision: str | None = "0001"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.create_table(
        "revocations",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("crl_shard", sa.Integer(), nullable=False),
        sa.Column("revoked_at", TIMESTAMPTZ, nullable=False),
        sa.Column("reason", sa.Integer(), nullable=True),
        sa.Column("not_after", TIMESTAMPTZ, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.Column("evidence", sa.Text(), nullable=True),
        sa.Column("recorded_at", TIMESTAMPTZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["serial"], ["serials.serial"], name=op.f("fk_revocations_serial_serials")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_revocations_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_revocations")),
    )
    op.create_index("ix_revocations_shard", "revocations", ["issuer_id", "crl_shard", "not_after"])
    op.create_table(
        "ocsp_responses",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=8), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("produced_at", TIMESTAMPTZ, nullable=False),
        sa.Column("this_update", TIMESTAMPTZ, nullable=False),
        sa.Column("next_update", TIMESTAMPTZ, nullable=False),
        sa.Column("not_after", TIMESTAMPTZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["serial"], ["serials.serial"], name=op.f("fk_ocsp_responses_serial_serials")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_ocsp_responses_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_ocsp_responses")),
    )
    op.create_index("ix_ocsp_responses_next_update", "ocsp_responses", ["next_update"])
    op.create_table(
        "crl_shards",
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("shard", sa.Integer(), nullable=False),
        sa.Column("crl_number", sa.String(length=40), nullable=False),
        sa.Column("this_update", TIMESTAMPTZ, nullable=True),
        sa.Column("next_update", TIMESTAMPTZ, nullable=True),
        sa.Column("entries", sa.Integer(), nullable=False),
        sa.Column("size_bytes", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=True),
        sa.Column("lease_owner", sa.String(length=64), nullable=True),
        sa.Column("lease_until", TIMESTAMPTZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_crl_shards_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("issuer_id", "shard", name=op.f("pk_crl_shards")),
    )
    op.create_table(
        "lint_runs",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("started_at", TIMESTAMPTZ, nullable=False),
        sa.Column("finished_at", TIMESTAMPTZ, nullable=True),
        sa.Column("lint_set", sa.Text(), nullable=False),
        sa.Column("documents", sa.Integer(), nullable=False),
        sa.Column("findings", sa.Integer(), nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lint_runs")),
    )


def downgrade() -> None:
    op.drop_index("ix_ocsp_responses_next_update", table_name="ocsp_responses")
    op.drop_index("ix_revocations_shard", table_name="revocations")
    for table in ("lint_runs", "crl_shards", "ocsp_responses", "revocations"):
        op.drop_table(table)
