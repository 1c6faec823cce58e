"""Plain values the inventory stores and returns, so callers never touch rows or SQL.

Serials are lowercase hexadecimal without leading zeros; times are aware UTC, whole
seconds; fingerprints are lowercase hexadecimal.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True, slots=True)
class IssuerRecord:
    """A CA certificate this installation holds a key for (or chains to)."""

    id: int | None
    name: str
    role: str  # root | issuing | responder
    state: str  # active | standby | retired
    key_type: str
    parent_id: int | None
    subject: str
    ski: str
    sha256: str
    cert_der: bytes
    key_ref: str
    not_before: datetime
    not_after: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class CertificateRecord:
    """A final (non-precertificate) certificate and the facts an incident selects on.

    `names` are the dNSName and iPAddress values of the subjectAltName; the inventory
    returns them sorted, because it does not keep their order in the extension."""

    serial: str
    issuer_id: int
    der: bytes
    sha256: str
    sha1: str
    not_before: datetime
    not_after: datetime
    key_type: str
    profile_id: str
    profile_version: int
    cps_version: str
    subscriber_id: str | None
    crl_shard: int
    subject_cn: str | None
    issued_at: datetime
    names: tuple[str, ...]
    id: int | None = None


@dataclass(frozen=True, slots=True)
class PrecertificateRecord:
    """An RFC 6962 precertificate; counted apart from final certificates, always."""

    serial: str
    issuer_id: int
    der: bytes
    sha256: str
    tbs_sha256: str
    not_before: datetime
    not_after: datetime
    created_at: datetime


@dataclass(frozen=True, slots=True)
class FindingRecord:
    """One lint finding kept with a document (waived at issuance, or from a re-lint)."""

    linter: str
    lint_id: str
    severity: str
    location: str
    message: str
    waived: bool
    waiver_justification: str | None = None
    waiver_expires: datetime | None = None
