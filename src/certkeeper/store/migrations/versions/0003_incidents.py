"""Incidents, their event log and campaign items; subscriber contacts, notifications;
ARI renewal windows.

Revision ID: 0003
Revises: 0002
Create Date: 2026-11-23
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0003"
down_revision: str | None = "0002"
branch_labels: str | None = None
depends_on: str | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "incidents",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("title", sa.Text(), nullable=False),
        sa.Column("br_item", sa.Integer(), nullable=False),
        sa.Column("reason", sa.Integer(), nullable=False),
        sa.Column("aware_at", TIMESTAMPTZ, nullable=False),
        sa.Column("deadline", TIMESTAMPTZ, nullable=False),
        sa.Column("selector", sa.Text(), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("explanation_url", sa.Text(), nullable=True),
        sa.Column("details", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incidents")),
    )
    op.create_table(
        "incident_events",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("at", TIMESTAMPTZ, nullable=False),
        sa.Column("actor", sa.String(length=128), nullable=False),
        sa.Column("event", sa.String(length=64), nullable=False),
        sa.Column("detail", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_incident_events_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_incident_events")),
    )
    op.create_index("ix_incident_events_incident", "incident_events", ["incident_id", "at"])
    op.create_table(
        "campaign_items",
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("kind", sa.String(length=16), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("crl_shard", sa.Integer(), nullable=False),
        sa.Column("not_after", TIMESTAMPTZ, nullable=False),
        sa.Column("subscriber_id", sa.String(length=128), nullable=True),
        sa.Column("planned_at", TIMESTAMPTZ, nullable=True),
        sa.Column("batch", sa.Integer(), nullable=True),
        sa.Column("revoked_at", TIMESTAMPTZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_campaign_items_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["serial"], ["serials.serial"], name=op.f("fk_campaign_items_serial_serials")
        ),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_campaign_items_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("incident_id", "serial", name=op.f("pk_campaign_items")),
    )
    op.create_index("ix_campaign_items_batch", "campaign_items", ["incident_id", "batch"])
    op.create_table(
        "subscriber_contacts",
        sa.Column("subscriber_id", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_subscriber_contacts_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("subscriber_id", "address", name=op.f("pk_subscriber_contacts")),
    )
    op.create_table(
        "notifications",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("incident_id", sa.Integer(), nullable=False),
        sa.Column("subscriber_id", sa.String(length=128), nullable=False),
        sa.Column("address", sa.String(length=320), nullable=False),
        sa.Column("kind", sa.String(length=8), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("attempts", sa.Integer(), nullable=False),
        sa.Column("last_error", sa.Text(), nullable=True),
        sa.Column("sent_at", TIMESTAMPTZ, nullable=True),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_notifications_incident_id_incidents")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_notifications_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_notifications")),
        sa.UniqueConstraint(
            "incident_id", "subscriber_id", "address", name="uq_notifications_target"
        ),
    )
    op.create_table(
        "renewal_windows",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("start", TIMESTAMPTZ, nullable=False),
        sa.Column("end", TIMESTAMPTZ, nullable=False),
        sa.Column("explanation_url", sa.Text(), nullable=True),
        sa.Column("incident_id", sa.Integer(), nullable=True),
        sa.ForeignKeyConstraint(
            ["serial"], ["serials.serial"], name=op.f("fk_renewal_windows_serial_serials")
        ),
        sa.ForeignKeyConstraint(
            ["incident_id"], ["incidents.id"], name=op.f("fk_renewal_windows_incident_id_incidents")
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_renewal_windows")),
    )


def downgrade() -> None:
    op.drop_index("ix_campaign_items_batch", table_name="campaign_items")
    op.drop_index("ix_incident_events_incident", table_name="incident_events")
    for table in (
        "renewal_windows",
        "notifications",
        "subscriber_contacts",
        "campaign_items",
        "incident_events",
        "incidents",
    ):
        op.drop_table(table)
