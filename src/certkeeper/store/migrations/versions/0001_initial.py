"""Initial inventory schema: issuers, profiles, subscribers, serials, documents, findings.

Written out table by table (not metadata.create_all) so that this revision keeps
describing the schema as it was when later revisions change `tables.py`.

Revision ID: 0001
Revises:
Create Date: 2025-01-01
"""

from __future__ import annotations

import sqlalchemy as sa
from alembic import op

revision = "0001"
down_revision: str | None = None
branch_labels: str | None = None
depends_on: str | None = None

TIMESTAMPTZ = sa.DateTime(timezone=True)


def upgrade() -> None:
    op.create_table(
        "issuers",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("name", sa.String(length=64), nullable=False),
        sa.Column("role", sa.String(length=16), nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("parent_id", sa.Integer(), nullable=True),
        sa.Column("subject", sa.Text(), nullable=False),
        sa.Column("ski", sa.String(length=64), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("cert_der", sa.LargeBinary(), nullable=False),
        sa.Column("key_ref", sa.Text(), nullable=False),
        sa.Column("not_before", TIMESTAMPTZ, nullable=False),
        sa.Column("not_after", TIMESTAMPTZ, nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["parent_id"], ["issuers.id"], name=op.f("fk_issuers_parent_id_issuers")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_issuers")),
        sa.UniqueConstraint("name", name=op.f("uq_issuers_name")),
        sa.UniqueConstraint("sha256", name=op.f("uq_issuers_sha256")),
    )
    op.create_table(
        "profile_versions",
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("version", sa.Integer(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("source", sa.Text(), nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("profile_id", "version", name=op.f("pk_profile_versions")),
    )
    op.create_table(
        "subscribers",
        sa.Column("id", sa.String(length=128), nullable=False),
        sa.Column("name", sa.Text(), nullable=True),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_subscribers")),
    )
    op.create_table(
        "serials",
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("assigned_at", TIMESTAMPTZ, nullable=False),
        sa.Column("state", sa.String(length=16), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("profile_version", sa.Integer(), nullable=False),
        sa.Column("crl_shard", sa.Integer(), nullable=False),
        sa.Column("failure", sa.Text(), nullable=True),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_serials_issuer_id_issuers")
        ),
        sa.PrimaryKeyConstraint("serial", name=op.f("pk_serials")),
    )
    op.create_table(
        "certificates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("sha1", sa.String(length=40), nullable=False),
        sa.Column("not_before", TIMESTAMPTZ, nullable=False),
        sa.Column("not_after", TIMESTAMPTZ, nullable=False),
        sa.Column("key_type", sa.String(length=16), nullable=False),
        sa.Column("profile_id", sa.String(length=64), nullable=False),
        sa.Column("profile_version", sa.Integer(), nullable=False),
        sa.Column("cps_version", sa.String(length=32), nullable=False),
        sa.Column("subscriber_id", sa.String(length=128), nullable=True),
        sa.Column("crl_shard", sa.Integer(), nullable=False),
        sa.Column("subject_cn", sa.Text(), nullable=True),
        sa.Column("issued_at", TIMESTAMPTZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_certificates_issuer_id_issuers")
        ),
        sa.ForeignKeyConstraint(
            ["serial"], ["serials.serial"], name=op.f("fk_certificates_serial_serials")
        ),
        sa.ForeignKeyConstraint(
            ["subscriber_id"],
            ["subscribers.id"],
            name=op.f("fk_certificates_subscriber_id_subscribers"),
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_certificates")),
        sa.UniqueConstraint("serial", name=op.f("uq_certificates_serial")),
        sa.UniqueConstraint("sha256", name=op.f("uq_certificates_sha256")),
    )
    op.create_index(
        "ix_certificates_issuer_not_after", "certificates", ["issuer_id", "not_after"], unique=False
    )
    op.create_index("ix_certificates_not_before", "certificates", ["not_before"], unique=False)
    op.create_index(
        "ix_certificates_profile", "certificates", ["profile_id", "profile_version"], unique=False
    )
    op.create_table(
        "lint_findings",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("document", sa.String(length=16), nullable=False),
        sa.Column("linter", sa.String(length=32), nullable=False),
        sa.Column("lint_id", sa.String(length=160), nullable=False),
        sa.Column("severity", sa.String(length=8), nullable=False),
        sa.Column("location", sa.Text(), nullable=False),
        sa.Column("message", sa.Text(), nullable=False),
        sa.Column("waived", sa.Boolean(), nullable=False),
        sa.Column("waiver_justification", sa.Text(), nullable=True),
        sa.Column("waiver_expires", TIMESTAMPTZ, nullable=True),
        sa.Column("run_id", sa.Integer(), nullable=True),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["serial"], ["serials.serial"], name=op.f("fk_lint_findings_serial_serials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_lint_findings")),
    )
    op.create_index("ix_lint_findings_lint_id", "lint_findings", ["lint_id"], unique=False)
    op.create_index("ix_lint_findings_serial", "lint_findings", ["serial"], unique=False)
    op.create_table(
        "precertificates",
        sa.Column("id", sa.Integer(), autoincrement=True, nullable=False),
        sa.Column("serial", sa.String(length=40), nullable=False),
        sa.Column("issuer_id", sa.Integer(), nullable=False),
        sa.Column("der", sa.LargeBinary(), nullable=False),
        sa.Column("sha256", sa.String(length=64), nullable=False),
        sa.Column("tbs_sha256", sa.String(length=64), nullable=False),
        sa.Column("not_before", TIMESTAMPTZ, nullable=False),
        sa.Column("not_after", TIMESTAMPTZ, nullable=False),
        sa.Column("created_at", TIMESTAMPTZ, nullable=False),
        sa.ForeignKeyConstraint(
            ["issuer_id"], ["issuers.id"], name=op.f("fk_precertificates_issuer_id_issuers")
        ),
        sa.ForeignKeyConstraint(
            ["serial"], ["serials.serial"], name=op.f("fk_precertificates_serial_serials")
        ),
        sa.PrimaryKeyConstraint("id", name=op.f("pk_precertificates")),
        sa.UniqueConstraint("serial", name=op.f("uq_precertificates_serial")),
        sa.UniqueConstraint("sha256", name=op.f("uq_precertificates_sha256")),
    )
    op.create_table(
        "certificate_names",
        sa.Column("certificate_id", sa.Integer(), nullable=False),
        sa.Column("name", sa.Text(), nullable=False),
        sa.Column("reversed_name", sa.Text(), nullable=False),
        sa.ForeignKeyConstraint(
            ["certificate_id"],
            ["certificates.id"],
            name=op.f("fk_certificate_names_certificate_id_certificates"),
        ),
        sa.UniqueConstraint("certificate_id", "name", name="uq_certificate_names_cert_name"),
    )
    op.create_index(
        "ix_certificate_names_reversed", "certificate_names", ["reversed_name"], unique=False
    )


def downgrade() -> None:
    for index, table in (
        ("ix_certificate_names_reversed", "certificate_names"),
        ("ix_lint_findings_serial", "lint_findings"),
        ("ix_lint_findings_lint_id", "lint_findings"),
        ("ix_certificates_profile", "certificates"),
        ("ix_certificates_not_before", "certificates"),
        ("ix_certificates_issuer_not_after", "certificates"),
    ):
        op.drop_index(index, table_name=table)
    for table in (
        "certificate_names",
        "precertificates",
        "lint_findings",
        "certificates",
        "serials",
        "subscribers",
        "profile_versions",
        "issuers",
    ):
        op.drop_table(table)
