"""Durable 'revoked but not yet published' state per CRL shard.

`crl_shards.revision` counts the revocations recorded in a shard (bumped in the same
transaction as the revocation); `published_revision` is the revision the last published
CRL of the shard includes. A shard whose revision is ahead holds revocations that are on
no CRL yet, and every publisher finishes it.

Existing revocations recorded at or after their shard's last publication (or in a shard
never published) count as pending, so an upgrade never hides one.

Revision ID: 0008
Revises: 0007
Create Date: 2026-12-04
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0008"
down_revision: str | None = "0007"
branch_labels: str | None = None
depends_on: str | None = None


def upgrade() -> None:
    op.add_column(
        "crl_shards",
        sa.Column("revision", sa.BigInteger(), server_default="0", nullable=False),
    )
    op.add_column(
        "crl_shards",
        sa.Column("published_revision", sa.BigInteger(), server_default="0", nullable=False),
    )
    # Shards holding revocations but never leased have no row yet: create it.
    op.execute(
        "INSERT INTO crl_shards (issuer_id, shard, crl_number, entries, size_bytes) "
        "SELECT DISTINCT r.issuer_id, r.crl_shard, '0', 0, 0 FROM revocations r "
        "WHERE NOT EXISTS (SELECT 1 FROM crl_shards s "
        "WHERE s.issuer_id = r.issuer_id AND s.shard = r.crl_shard)"
    )
    op.execute(
        "UPDATE crl_shards SET revision = (SELECT count(*) FROM revocations r "
        "WHERE r.issuer_id = crl_shards.issuer_id AND r.crl_shard = crl_shards.shard "
        "AND (crl_shards.this_update IS NULL OR r.recorded_at >= crl_shards.this_update))"
    )


def downgrade() -> None:
    with op.batch_alter_table("crl_shards") as batch:
        batch.drop_column("published_revision")
        batch.drop_column("revision")
