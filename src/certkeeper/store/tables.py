"""The inventory's tables (SQLAlchemy Core). Only `certkeeper.store` speaks SQL.

Serial numbers are stored as lowercase hexadecimal of their DER content octets' value
(no leading zeros), because 20-octet serials do not fit a BIGINT. Times are UTC,
whole seconds: `UtcDateTime` enforces that on the way in and attaches UTC on the way
out, because SQLite has no time zone storage and would otherwise hand back naive values.
Every change here needs an alembic migration in `store/migrations`.
"""

from __future__ import annotations

from datetime import UTC, datetime

from sqlalchemy import (
    BigInteger,
    Boolean,
    Column,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    LargeBinary,
    MetaData,
    String,
    Table,
    Text,
    UniqueConstraint,
)
from sqlalchemy.engine import Dialect
from sqlalchemy.types import TypeDecorator

metadata = MetaData(
    naming_convention={
        "ix": "ix_%(column_0_label)s",
        "uq": "uq_%(table_name)s_%(column_0_name)s",
        "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
        "pk": "pk_%(table_name)s",
    }
)


class UtcDateTimeType(TypeDecorator[datetime]):
    """TIMESTAMP WITH TIME ZONE that always stores and returns aware UTC, whole seconds.

    Naive datetimes are refused: guessing their zone is how a certificate ends up an
    hour off. Same column type on both backends, so the migrations need nothing special."""

    impl = DateTime(timezone=True)
    cache_ok = True

    def process_bind_param(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None or value.utcoffset() is None:
            raise ValueError(f"naive datetime {value.isoformat()}: the inventory needs aware UTC")
        return value.astimezone(UTC).replace(microsecond=0)

    def process_result_value(self, value: datetime | None, dialect: Dialect) -> datetime | None:
        if value is None:
            return None
        if value.tzinfo is None:
            return value.replace(tzinfo=UTC)
        return value.astimezone(UTC)


UtcDateTime = UtcDateTimeType()

# CA certificates this installation holds keys for or chains to.
issuers = Table(
    "issuers",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("name", String(64), nullable=False, unique=True),  # e.g. "tls-ecdsa-1"
    Column("role", String(16), nullable=False),  # root | issuing | responder
    Column("state", String(16), nullable=False),  # active | standby | retired
    Column("key_type", String(16), nullable=False),  # ecdsa-p256 | ecdsa-p384 | rsa-2048 ...
    Column("parent_id", Integer, ForeignKey("issuers.id"), nullable=True),
    Column("subject", Text, nullable=False),
    Column("ski", String(64), nullable=False),  # hex
    Column("sha256", String(64), nullable=False, unique=True),
    Column("cert_der", LargeBinary, nullable=False),
    Column("key_ref", Text, nullable=False),  # signer reference (file path or pkcs11 uri)
    Column("not_before", UtcDateTime, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# Versioned certificate profiles. A version's text never changes once stored.
profile_versions = Table(
    "profile_versions",
    metadata,
    Column("profile_id", String(64), primary_key=True),
    Column("version", Integer, primary_key=True),
    Column("sha256", String(64), nullable=False),
    Column("source", Text, nullable=False),  # the TOML text
    Column("created_at", UtcDateTime, nullable=False),
    # Who recorded the version (NULL: recorded before owners were kept), and who approved
    # it. A version is live once approved_at is set; without [profiles] require_approval
    # it is set when the version is recorded, and approved_by stays NULL.
    Column("created_by", String(128), nullable=True),
    Column("approved_by", String(128), nullable=True),
    Column("approved_at", UtcDateTime, nullable=True),
)

# Append-only history of stopping and restarting issuance under a profile; the latest
# event of a profile is its state (no event: enabled).
profile_events = Table(
    "profile_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("profile_id", String(64), nullable=False),
    Column("action", String(16), nullable=False),  # disable | enable
    Column("reason", Text, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("incident_id", Integer, nullable=True),  # the incident that disabled it, if any
    Column("at", UtcDateTime, nullable=False),
    Index("ix_profile_events_profile", "profile_id", "id"),
)

subscribers = Table(
    "subscribers",
    metadata,
    Column("id", String(128), primary_key=True),
    Column("name", Text, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

# A serial is assigned (and stored) before anything bearing it is signed.
serials = Table(
    "serials",
    metadata,
    Column("serial", String(40), primary_key=True),
    Column("issuer_id", Integer, ForeignKey("issuers.id"), nullable=False),
    Column("assigned_at", UtcDateTime, nullable=False),
    # assigned -> precertificate -> issued | failed
    Column("state", String(16), nullable=False),
    Column("profile_id", String(64), nullable=False),
    Column("profile_version", Integer, nullable=False),
    Column("crl_shard", Integer, nullable=False),
    Column("failure", Text, nullable=True),
)

precertificates = Table(
    "precertificates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("serial", String(40), ForeignKey("serials.serial"), nullable=False, unique=True),
    Column("issuer_id", Integer, ForeignKey("issuers.id"), nullable=False),
    Column("der", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("tbs_sha256", String(64), nullable=False),  # of the linted TBS
    Column("not_before", UtcDateTime, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

certificates = Table(
    "certificates",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("serial", String(40), ForeignKey("serials.serial"), nullable=False, unique=True),
    Column("issuer_id", Integer, ForeignKey("issuers.id"), nullable=False),
    Column("der", LargeBinary, nullable=False),
    Column("sha256", String(64), nullable=False, unique=True),
    Column("sha1", String(40), nullable=False),
    Column("not_before", UtcDateTime, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),
    Column("key_type", String(16), nullable=False),
    Column("profile_id", String(64), nullable=False),
    Column("profile_version", Integer, nullable=False),
    Column("cps_version", String(32), nullable=False),
    Column("subscriber_id", String(128), ForeignKey("subscribers.id"), nullable=True),
    Column("crl_shard", Integer, nullable=False),
    Column("subject_cn", Text, nullable=True),
    Column("issued_at", UtcDateTime, nullable=False),
    Index("ix_certificates_issuer_not_after", "issuer_id", "not_after"),
    Index("ix_certificates_profile", "profile_id", "profile_version"),
    Index("ix_certificates_not_before", "not_before"),
)

# Every dNSName / IP of a certificate, with the name reversed label-wise
# ("com.example.www") so a suffix query is an indexed prefix query.
certificate_names = Table(
    "certificate_names",
    metadata,
    Column("certificate_id", Integer, ForeignKey("certificates.id"), nullable=False),
    Column("name", Text, nullable=False),
    Column("reversed_name", Text, nullable=False),
    UniqueConstraint("certificate_id", "name", name="uq_certificate_names_cert_name"),
    Index("ix_certificate_names_reversed", "reversed_name"),
)

# Signed certificate timestamps embedded in a certificate (RFC 6962 3.2), one row per
# log, written in the transaction that stores the certificate.
scts = Table(
    "scts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("serial", String(40), ForeignKey("serials.serial"), nullable=False),
    Column("log_id", String(64), nullable=False),  # hex SHA-256 of the log's key
    Column("timestamp_ms", BigInteger, nullable=False),
    Column("signature", LargeBinary, nullable=False),  # the DigitallySigned struct
    Column("sct", LargeBinary, nullable=False),  # the whole TLS-encoded SCT
    UniqueConstraint("serial", "log_id", name="uq_scts_serial_log_id"),
)

# A precertificate whose final certificate waits for SCTs (CT policy not met by the
# deadline): what `issue --resume` needs besides the precertificate, and why it waits.
ct_pending = Table(
    "ct_pending",
    metadata,
    Column("serial", String(40), ForeignKey("serials.serial"), primary_key=True),
    Column("subscriber_id", String(128), nullable=True),
    Column("cps_version", String(32), nullable=False),
    Column("reason", Text, nullable=False),
    Column("attempts", Integer, nullable=False),
    Column("updated_at", UtcDateTime, nullable=False),
)

# Findings stored with a document: waived findings at issuance, relint results later.
lint_findings = Table(
    "lint_findings",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("serial", String(40), ForeignKey("serials.serial"), nullable=False),
    Column("document", String(16), nullable=False),  # precertificate | certificate
    Column("linter", String(32), nullable=False),  # certkeeper | pkilint
    Column("lint_id", String(160), nullable=False),
    Column("severity", String(8), nullable=False),
    Column("location", Text, nullable=False),
    Column("message", Text, nullable=False),
    Column("waived", Boolean, nullable=False),
    Column("waiver_justification", Text, nullable=True),
    Column("waiver_expires", UtcDateTime, nullable=True),
    Column("run_id", Integer, nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_lint_findings_serial", "serial"),
    Index("ix_lint_findings_lint_id", "lint_id"),
)

# --- Status services -------------------------------------------------------------------

# One row per revoked serial. A later keyCompromise may replace the reason (BR 7.2.2);
# the row is never deleted, so a CRL shard can always be rebuilt.
revocations = Table(
    "revocations",
    metadata,
    Column("serial", String(40), ForeignKey("serials.serial"), primary_key=True),
    Column("issuer_id", Integer, ForeignKey("issuers.id"), nullable=False),
    Column("crl_shard", Integer, nullable=False),
    Column("revoked_at", UtcDateTime, nullable=False),
    Column("reason", Integer, nullable=True),  # RFC 5280 CRLReason; NULL = unspecified (absent)
    Column(
        "not_after", UtcDateTime, nullable=False
    ),  # of the certificate: when the entry may leave
    Column("incident_id", Integer, nullable=True),
    Column("evidence", Text, nullable=True),
    Column("recorded_at", UtcDateTime, nullable=False),
    Index("ix_revocations_shard", "issuer_id", "crl_shard", "not_after"),
)

# The current pre-signed OCSP response for every assigned serial that has a
# precertificate. Written in the same transaction as the precertificate (seed 003).
ocsp_responses = Table(
    "ocsp_responses",
    metadata,
    Column("serial", String(40), ForeignKey("serials.serial"), primary_key=True),
    Column("issuer_id", Integer, ForeignKey("issuers.id"), nullable=False),
    Column("status", String(8), nullable=False),  # good | revoked
    Column("der", LargeBinary, nullable=False),
    Column("produced_at", UtcDateTime, nullable=False),
    Column("this_update", UtcDateTime, nullable=False),
    Column("next_update", UtcDateTime, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),  # of the certificate: refresh stops after
    Index("ix_ocsp_responses_next_update", "next_update"),
)

# State of each CRL shard of each issuer: the last number used and what was published.
# CRL numbers only grow; the lease lets several publisher processes share the work.
crl_shards = Table(
    "crl_shards",
    metadata,
    Column("issuer_id", Integer, ForeignKey("issuers.id"), primary_key=True),
    Column("shard", Integer, primary_key=True),
    Column("crl_number", String(40), nullable=False),  # hex; below 2**159
    Column("this_update", UtcDateTime, nullable=True),
    Column("next_update", UtcDateTime, nullable=True),
    Column("entries", Integer, nullable=False),
    Column("size_bytes", Integer, nullable=False),
    Column("sha256", String(64), nullable=True),
    Column("lease_owner", String(64), nullable=True),
    Column("lease_until", UtcDateTime, nullable=True),
    # Revocations recorded in the shard (bumped in the revocation's own transaction)
    # and how many of them the last published CRL includes: pending = the difference.
    Column("revision", BigInteger, nullable=False, server_default="0"),
    Column("published_revision", BigInteger, nullable=False, server_default="0"),
)

# One row per relint of the inventory; its findings carry its id in lint_findings.run_id.
lint_runs = Table(
    "lint_runs",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Column("lint_set", Text, nullable=False),  # description: linters, versions, lint ids, data
    Column("documents", Integer, nullable=False),
    Column("findings", Integer, nullable=False),
)

# --- Incidents and revocation campaigns ---------------------------------------------------

incidents = Table(
    "incidents",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("title", Text, nullable=False),
    Column("br_item", Integer, nullable=False),  # BR 4.9.1.1 item number
    Column("reason", Integer, nullable=False),  # CRLReason the revocations carry
    Column("aware_at", UtcDateTime, nullable=False),
    Column("deadline", UtcDateTime, nullable=False),
    Column("selector", Text, nullable=False),  # JSON of a CertificateFilter: re-runnable
    Column("state", String(16), nullable=False),  # open | closed
    Column("explanation_url", Text, nullable=True),  # served by ARI
    Column("details", Text, nullable=False),  # JSON: report fields (root cause, ...)
    Column("created_at", UtcDateTime, nullable=False),
)

incident_events = Table(
    "incident_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("event", String(64), nullable=False),
    Column("detail", Text, nullable=False),  # JSON
    Index("ix_incident_events_incident", "incident_id", "at"),
)

# The affected set and the plan, one row per certificate (distinct by SHA-256).
campaign_items = Table(
    "campaign_items",
    metadata,
    Column("incident_id", Integer, ForeignKey("incidents.id"), primary_key=True),
    Column("serial", String(40), ForeignKey("serials.serial"), primary_key=True),
    Column("sha256", String(64), nullable=False),
    # certificate | precertificate (a precertificate with no final certificate)
    Column("kind", String(16), nullable=False),
    Column("issuer_id", Integer, ForeignKey("issuers.id"), nullable=False),
    Column("crl_shard", Integer, nullable=False),
    Column("not_after", UtcDateTime, nullable=False),
    Column("subscriber_id", String(128), nullable=True),
    Column("planned_at", UtcDateTime, nullable=True),
    Column("batch", Integer, nullable=True),  # -1: left to expire
    Column("revoked_at", UtcDateTime, nullable=True),  # set when this campaign revoked it
    Index("ix_campaign_items_batch", "incident_id", "batch"),
)

subscriber_contacts = Table(
    "subscriber_contacts",
    metadata,
    Column("subscriber_id", String(128), ForeignKey("subscribers.id"), primary_key=True),
    Column("address", String(320), primary_key=True),
    Column("kind", String(8), nullable=False),  # primary | backup
)

notifications = Table(
    "notifications",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=False),
    Column("subscriber_id", String(128), ForeignKey("subscribers.id"), nullable=False),
    Column("address", String(320), nullable=False),
    Column("kind", String(8), nullable=False),
    Column("state", String(16), nullable=False),  # pending | sent | failed
    Column("attempts", Integer, nullable=False),
    Column("last_error", Text, nullable=True),
    Column("sent_at", UtcDateTime, nullable=True),
    Column("last_attempt_at", UtcDateTime, nullable=True),  # retries back off from it
    UniqueConstraint("incident_id", "subscriber_id", "address", name="uq_notifications_target"),
)

# ARI (RFC 9773) overrides: a suggested renewal window for a serial, set by an incident.
renewal_windows = Table(
    "renewal_windows",
    metadata,
    Column("serial", String(40), ForeignKey("serials.serial"), primary_key=True),
    Column("start", UtcDateTime, nullable=False),
    Column("end", UtcDateTime, nullable=False),
    Column("explanation_url", Text, nullable=True),
    Column("incident_id", Integer, ForeignKey("incidents.id"), nullable=True),
)

# Domain validation (BR 3.2.2.4): one row per successful challenge, with its evidence, the
# corroborating perspectives (BR 3.2.2.9) and the end of its BR 4.2.1 reuse period.
domain_validations = Table(
    "domain_validations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fqdn", String(253), nullable=False),  # lower-case A-labels, no "*." prefix
    Column("wildcard", Boolean, nullable=False),  # validated for "*.fqdn" too
    Column("account_uri", String(512), nullable=False),
    Column("method", String(16), nullable=False),  # BR section, e.g. "3.2.2.4.19"
    Column("challenge_type", String(16), nullable=False),
    Column("evidence", Text, nullable=False),  # JSON: what the primary fetched/resolved
    Column("validated_at", UtcDateTime, nullable=False),
    Column("reuse_until", UtcDateTime, nullable=False),
    Column("perspectives", Text, nullable=False),  # JSON: the corroboration
    # BR 3.2.2.4: "secure" / "insecure" over every DNS answer the primary relied on
    Column("dnssec", String(16), nullable=True),
    Index("ix_domain_validations_lookup", "fqdn", "account_uri", "reuse_until"),
)

# CAA checks (RFC 8659, BR 3.2.2.8): every lookup made at issuance, allowed or not.
caa_checks = Table(
    "caa_checks",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fqdn", String(253), nullable=False),
    Column("wildcard", Boolean, nullable=False),
    Column("account_uri", String(512), nullable=False),
    Column("checked_at", UtcDateTime, nullable=False),
    Column("allowed", Boolean, nullable=False),
    Column("problem_type", String(32), nullable=True),
    Column("detail", Text, nullable=False),
    Column("evidence", Text, nullable=False),  # JSON: relevant RRset and where it was found
    Column("perspectives", Text, nullable=False),  # JSON: the corroboration
    Column("serial", String(40), nullable=True),  # the certificate it was checked for, once known
    Column("context", Text, nullable=False),  # JSON: order, subscriber, ...
    # BR 4.2.2.1.1: "secure" / "insecure" over every CAA answer; NULL when none came back
    Column("dnssec", String(16), nullable=True),
    Index("ix_caa_checks_fqdn", "fqdn", "checked_at"),
)

# --- ACME (RFC 8555) and ARI (RFC 9773) --------------------------------------------------

# One row per ACME account; the account's key is its identity (RFC 7638 thumbprint).
acme_accounts = Table(
    "acme_accounts",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("thumbprint", String(64), nullable=False, unique=True),
    Column("jwk", Text, nullable=False),  # canonical public JWK (required members only)
    Column("status", String(16), nullable=False),  # valid | deactivated | revoked
    Column("contacts", Text, nullable=False),  # JSON list of mailto: URLs
    Column("tos_agreed", Boolean, nullable=False),
    Column("subscriber_id", String(128), ForeignKey("subscribers.id"), nullable=False),
    Column("created_ip", String(64), nullable=True),
    Column("created_at", UtcDateTime, nullable=False),
)

acme_orders = Table(
    "acme_orders",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("acme_accounts.id"), nullable=False),
    # pending | ready | processing | valid | invalid (pending/ready follow the authzs)
    Column("status", String(16), nullable=False),
    Column("identifiers", Text, nullable=False),  # JSON list of names ("*." for wildcards)
    Column("not_before", UtcDateTime, nullable=True),
    Column("not_after", UtcDateTime, nullable=True),
    Column("expires", UtcDateTime, nullable=False),
    Column("replaces", String(255), nullable=True),  # RFC 9773 certID
    Column("replaces_serial", String(40), nullable=True),
    Column("rate_exempt", Boolean, nullable=False),  # replaces a certificate in an incident
    Column("certificate_serial", String(40), nullable=True),
    # RFC 7638 thumbprint of the finalize CSR's key: no account may use a certificate key
    Column("key_thumbprint", String(64), nullable=True),
    Column("error", Text, nullable=True),  # JSON problem document
    Column("created_at", UtcDateTime, nullable=False),
    # the ACME profile the client asked for (draft-ietf-acme-profiles); NULL: the default
    Column("profile", String(32), nullable=True),
    Index("ix_acme_orders_account", "account_id", "created_at"),
    Index("ix_acme_orders_replaces", "replaces_serial"),
    Index("ix_acme_orders_key", "key_thumbprint"),
)

acme_authorizations = Table(
    "acme_authorizations",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("account_id", Integer, ForeignKey("acme_accounts.id"), nullable=False),
    Column("identifier", String(255), nullable=False),  # FQDN without "*."
    Column("wildcard", Boolean, nullable=False),
    Column("status", String(16), nullable=False),  # pending | valid | invalid | deactivated
    Column("expires", UtcDateTime, nullable=False),
    Column("validation_record_id", Integer, nullable=True),  # the VA's domain validation
    Column("created_at", UtcDateTime, nullable=False),
    Index("ix_acme_authorizations_lookup", "account_id", "identifier", "status"),
)

acme_order_authorizations = Table(
    "acme_order_authorizations",
    metadata,
    Column("order_id", Integer, ForeignKey("acme_orders.id"), primary_key=True),
    Column("authorization_id", Integer, ForeignKey("acme_authorizations.id"), primary_key=True),
)

acme_challenges = Table(
    "acme_challenges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("authorization_id", Integer, ForeignKey("acme_authorizations.id"), nullable=False),
    Column("type", String(16), nullable=False),  # http-01 | dns-01 | tls-alpn-01
    Column("token", String(64), nullable=False, unique=True),
    Column("status", String(16), nullable=False),  # pending | processing | valid | invalid
    Column("started_at", UtcDateTime, nullable=True),  # when processing began
    Column("validated", UtcDateTime, nullable=True),
    Column("error", Text, nullable=True),  # JSON problem document
    Index("ix_acme_challenges_authorization", "authorization_id"),
)

# Nonces are HMAC-authenticated (no row while unused); a used one is recorded here until it
# would have expired anyway, so a replay is refused by every front-end process.
acme_used_nonces = Table(
    "acme_used_nonces",
    metadata,
    Column("nonce", String(64), primary_key=True),
    Column("expires", UtcDateTime, nullable=False),
    Index("ix_acme_used_nonces_expires", "expires"),
)

# Rate-limit events: one row per counted action, counted over a sliding window.
acme_rate_events = Table(
    "acme_rate_events",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("key", String(320), nullable=False),
    Column("at", UtcDateTime, nullable=False),
    Index("ix_acme_rate_events_key_at", "key", "at"),
)

# Secrets shared by every ACME front end (the nonce HMAC key).
acme_secrets = Table(
    "acme_secrets",
    metadata,
    Column("name", String(32), primary_key=True),
    Column("value", LargeBinary, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# --- Issuance safeguards (BR 6.1.1.3, BR 3.2.2.4) -------------------------------------------

# Keys that must never be certified again (BR 6.1.1.3 item 4): the SHA-256 of the DER
# SubjectPublicKeyInfo, fed by keyCompromise revocations and by operators' block lists.
blocked_keys = Table(
    "blocked_keys",
    metadata,
    Column("spki_sha256", String(64), primary_key=True),  # lowercase hex
    Column("source", String(32), nullable=False),  # revocation | acme-revocation | operator
    Column("detail", Text, nullable=False),  # which serial, file or actor
    Column("serial", String(40), nullable=True),  # the revoked certificate, when there is one
    Column("blocked_at", UtcDateTime, nullable=False),
)

# Random values handed to an operator for a BR 3.2.2.4 validation outside ACME
# (`certkeeper validate`); usable for 30 days and once (BR 3.2.2.4 Random Value).
operator_challenges = Table(
    "operator_challenges",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("fqdn", String(253), nullable=False),
    Column("wildcard", Boolean, nullable=False),
    Column("challenge_type", String(16), nullable=False),  # dns-01 | http-01
    Column("token", String(64), nullable=False, unique=True),
    Column("key_authorization", String(256), nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
    Column("expires_at", UtcDateTime, nullable=False),
    Column("used_at", UtcDateTime, nullable=True),
    Index("ix_operator_challenges_fqdn", "fqdn", "challenge_type"),
)

# What the hierarchy was created for, written once by `init`: a non-public hierarchy
# (demos, private PKI) never issues under a public configuration, nor the reverse.
hierarchy = Table(
    "hierarchy",
    metadata,
    Column("id", Integer, primary_key=True),  # always 1
    Column("public", Boolean, nullable=False),
    Column("created_at", UtcDateTime, nullable=False),
)

# Batch runs of `issue --batch` (migration 0009). A run that did not finish (a crash) is
# resumed by the same command: the CSRs it already issued are skipped, not issued again.
batches = Table(
    "batches",
    metadata,
    Column("id", Integer, primary_key=True, autoincrement=True),
    Column("directory", Text, nullable=False),
    Column("profile_id", String(64), nullable=False),
    Column("subscriber_id", String(128), nullable=True),
    Column("started_at", UtcDateTime, nullable=False),
    Column("finished_at", UtcDateTime, nullable=True),
    Index("ix_batches_directory", "directory", "profile_id"),
)

# One row per CSR of a batch, written before it is issued (`started_at`) and given its
# serial after; a row without a serial is resolved against the inventory on resume.
batch_items = Table(
    "batch_items",
    metadata,
    Column("batch_id", Integer, ForeignKey("batches.id"), primary_key=True),
    Column("csr_sha256", String(64), primary_key=True),
    Column("file_name", Text, nullable=False),
    Column("started_at", UtcDateTime, nullable=False),
    Column("serial", String(40), ForeignKey("serials.serial"), nullable=True),
)

# The audit log (BR 5.4.1, migration 0011): append-only, each entry hash-chained to the
# one before (certkeeper.audit_chain). `detail` is canonical JSON; `serial` is set for
# events about one certificate so `audit-log show --serial` finds them.
audit_log = Table(
    "audit_log",
    metadata,
    Column("seq", BigInteger, primary_key=True, autoincrement=False),
    Column("at", UtcDateTime, nullable=False),
    Column("actor", String(128), nullable=False),
    Column("event", String(64), nullable=False),
    Column("subject", Text, nullable=False),
    Column("serial", String(40), nullable=True),
    Column("detail", Text, nullable=False),
    Column("prev_hash", String(64), nullable=False),
    Column("hash", String(64), nullable=False),
    Index("ix_audit_log_at", "at"),
    Index("ix_audit_log_serial", "serial"),
    Index("ix_audit_log_event", "event", "seq"),
)
