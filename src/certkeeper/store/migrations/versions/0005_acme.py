"""ACME accounts, orders, authorizations, challenges; used nonces, rate events, secrets.

Revision ID: 0005
Revises: 0004
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0005"
down_revision: str | None = "0004"
branch_labels: str | None = None
depends_on: str | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "acme_accounts",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("thumbprint", sa.String(length=64), nullable=False),
        sa.Column("jwk", sa.Text(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("contacts", sa.Text(), nullable=False),
        sa.Column("tos_agreed", sa.Boolean(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=128), nullable=False),
        sa.Column("created_ip", sa.String(length=64), nullable=True),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_acme_accounts_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acme_accounts")),
        sa.UniqueConstraint("thumbprint", name=op.f("uq_acme_accounts_thumbprint")),
    )
    op.create_table(
        "acme_orders",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("identifiers", sa.Text(), nullable=False),
        sa.Column("not_before", TIMESTAMPTZ, nullable=True),
        sa.Column("not_after", TIMESTAMPTZ, nullable=True),
        sa.Column("expires", TIMESTAMPTZ, nullable=False),
        sa.Column("replaces", sa.String(length=255), nullable=True),
        sa.Column("replaces_serial", sa.String(length=40), nullable=True),
        sa.Column("rate_exempt", sa.Boolean(), nullable=False),
        sa.Column("certificate_serial", sa.String(length=40), nullable=True),
        sa.Column("key_thumbprint", sa.String(length=64), nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["acme_accounts.id"],
            name=op.f("fk_acme_orders_account_id_acme_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acme_orders")),
    )
    op.create_index("ix_acme_orders_account", "acme_orders", ["account_id", "created_at"])
    op.create_index("ix_acme_orders_replaces", "acme_orders", ["replaces_serial"])
    op.create_index("ix_acme_orders_key", "acme_orders", ["key_thumbprint"])
    op.create_table(
        "acme_authorizations",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("account_id", sa.Integer(), nullable=False),
        sa.Column("identifier", sa.String(length=255), nullable=False),
        sa.Column("wildcard", sa.Boolean(), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("expires", TIMESTAMPTZ, nullable=False),
        sa.Column("validation_record_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["account_id"],
            ["acme_accounts.id"],
            name=op.f("fk_acme_authorizations_account_id_acme_accounts"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acme_authorizations")),
    )
    op.create_index(
        "ix_acme_authorizations_lookup",
        "acme_authorizations",
        ["account_id", "identifier", "status"],
    )
    op.create_table(
        "acme_order_authorizations",
        sa.Column("order_id", sa.Integer(), nullable=False),
        sa.Column("authorization_id", sa.Integer(), nullable=False),
        sa.ForeignKeyConstraint(
            ["order_id"],
            ["acme_orders.id"],
            name=op.f("fk_acme_order_authorizations_order_id_acme_orders"),
        ),
        sa.ForeignKeyConstraint(
            ["authorization_id"],
            ["acme_authorizations.id"],
            name=op.f("fk_acme_order_authorizations_authorization_id_acme_authorizations"),
        ),
        sa.PrimaryKeyConstraint(
            "order_id", "authorization_id", name=op.f("pk_acme_order_authorizations")
        ),
    )
    op.create_table(
        "acme_challenges",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("authorization_id", sa.Integer(), nullable=False),
        sa.Column("type", sa.String(length=16), nullable=False),
        sa.Column("token", sa.String(length=64), nullable=False),
        sa.Column("status", sa.String(length=16), nullable=False),
        sa.Column("started_at", TIMESTAMPTZ, nullable=True),
        sa.Column("validated", TIMESTAMPTZ, nullable=True),
        sa.Column("error", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["authorization_id"],
            ["acme_authorizations.id"],
            name=op.f("fk_acme_challenges_authorization_id_acme_authorizations"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acme_challenges")),
        sa.UniqueConstraint("token", name=op.f("uq_acme_challenges_token")),
    )
    op.create_index("ix_acme_challenges_authorization", "acme_challenges", ["authorization_id"])
    op.create_table(
        "acme_used_nonces",
        sa.Column("nonce", sa.String(length=64), nullable=False),
        sa.Column("expires", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("nonce", name=op.f("pk_acme_used_nonces")),
    )
    op.create_index("ix_acme_used_nonces_expires", "acme_used_nonces", ["expires"])
    op.create_table(
        "acme_rate_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("key", sa.String(length=320), nullable=False),
        sa.Column("at", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_acme_rate_events")),
    )
    op.create_index("ix_acme_rate_events_key_at", "acme_rate_events", ["key", "at"])
    op.create_table(
        "acme_secrets",
        sa.Column("name", sa.String(length=32), nullable=False),
        sa.Column("value", sa.LargeBinary(), nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("name", name=op.f("pk_acme_secrets")),
    )


def downgrade() -> None:
    op.drop_table("acme_secrets")
    op.drop_index("ix_acme_rate_events_key_at", table_name="acme_rate_events")
    op.drop_table("acme_rate_events")
    op.drop_index("ix_acme_used_nonces_expires", table_name="acme_used_nonces")
    op.drop_table("acme_used_nonces")
    op.drop_index("ix_acme_challenges_authorization", table_name="acme_challenges")
    op.drop_table("acme_challenges")
    op.drop_table("acme_order_authorizations")
    op.drop_index("ix_acme_authorizations_lookup", table_name="acme_authorizations")
    op.drop_table("acme_authorizations")
    op.drop_index("ix_acme_orders_key", table_name="acme_orders")
    op.drop_index("ix_acme_orders_replaces", table_name="acme_orders")
    op.drop_index("ix_acme_orders_account", table_name="acme_orders")
    op.drop_table("acme_orders")
    op.drop_table("acme_accounts")
