"""Selecting certificates by their attributes: the filter behind listings and incidents.

A `CertificateFilter` (a plain value, `certkeeper/certificate_filter.py`) compiles here
to SQLAlchemy WHERE clauses without touching a database.

Domain matching uses `certificate_names.reversed_name` ("www.example.com" is stored as
"com.example.www"): a suffix query becomes an equality or a prefix ending in a label
boundary, so "example.com" matches "example.com" and "a.example.com" but never
"badexample.com".
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select

from certkeeper.certificate_filter import CertificateFilter, normalize_domain
from certkeeper.store.tables import (
    certificate_names,
    certificates,
    issuers,
    lint_findings,
    precertificates,
    serials,
)


def reverse_name(name: str) -> str:
    """A DNS name (or IP address text) with its labels reversed, lowercase, no final dot."""
    return ".".join(reversed(name.strip().rstrip(".").lower().split(".")))


def _issuer_id(name: str) -> Any:
    return select(issuers.c.id).where(issuers.c.name == name).scalar_subquery()


def domain_condition(certificate_id: Any, suffix: str) -> ColumnElement[bool]:
    """EXISTS a name of the certificate equal to `suffix` or under it (label boundary)."""
    rev = reverse_name(normalize_domain(suffix))
    return exists().where(
        certificate_names.c.certificate_id == certificate_id,
        or_(
            certificate_names.c.reversed_name == rev,
            certificate_names.c.reversed_name.startswith(rev + ".", autoescape=True),
        ),
    )


def certificate_conditions(flt: CertificateFilter) -> list[ColumnElement[bool]]:
    """WHERE clauses over `certificates` (AND them); pure, no database access."""
    c = certificates.c
    out: list[ColumnElement[bool]] = []
    if flt.issuer is not None:
        out.append(c.issuer_id == _issuer_id(flt.issuer))
    if flt.profile_id is not None:
        out.append(c.profile_id == flt.profile_id)
    if flt.profile_version is not None:
        out.append(c.profile_version == flt.profile_version)
    if flt.cps_version is not None:
        out.append(c.cps_version == flt.cps_version)
    if flt.issued_after is not None:
        out.append(c.not_before >= flt.issued_after)
    if flt.issued_before is not None:
        out.append(c.not_before < flt.issued_before)
    if flt.expiring_after is not None:
        out.append(c.not_after > flt.expiring_after)
    if flt.key_type is not None:
        out.append(c.key_type == flt.key_type)
    if flt.domain_suffix is not None:
        out.append(domain_condition(c.id, flt.domain_suffix))
    if flt.serial is not None:
        out.append(c.serial == flt.serial)
    if flt.sha256 is not None:
        out.append(c.sha256 == flt.sha256)
    if flt.subscriber_id is not None:
        out.append(c.subscriber_id == flt.subscriber_id)
    if flt.lint_id is not None:
        out.append(_has_finding(c.serial, flt.lint_id))
    if flt.serials is not None:
        out.append(c.serial.in_(flt.serials))
    if flt.sha256s is not None:
        out.append(c.sha256.in_(flt.sha256s))
    return out


def _has_finding(serial: Any, lint_id: str) -> ColumnElement[bool]:
    return exists().where(lint_findings.c.serial == serial, lint_findings.c.lint_id == lint_id)


# Attributes a precertificate row does not carry; they are read from the final
# certificate with the same serial, so a precertificate without one never matches them.
FINAL_ONLY_FIELDS = ("cps_version", "key_type", "domain_suffix", "subscriber_id")


def precertificate_conditions(flt: CertificateFilter) -> list[ColumnElement[bool]]:
    """WHERE clauses over `precertificates` (AND them); pure, no database access.

    Issuer, validity, serial and SHA-256 (of the precertificate itself) are the
    precertificate's own; profile comes from its serial's assignment; the fields in
    FINAL_ONLY_FIELDS come from the final certificate of the same serial."""
    p = precertificates.c
    out: list[ColumnElement[bool]] = []
    if flt.issuer is not None:
        out.append(p.issuer_id == _issuer_id(flt.issuer))
    if flt.profile_id is not None or flt.profile_version is not None:
        conds: list[ColumnElement[bool]] = [serials.c.serial == p.serial]
        if flt.profile_id is not None:
            conds.append(serials.c.profile_id == flt.profile_id)
        if flt.profile_version is not None:
            conds.append(serials.c.profile_version == flt.profile_version)
        out.append(exists().where(*conds))
    if flt.issued_after is not None:
        out.append(p.not_before >= flt.issued_after)
    if flt.issued_before is not None:
        out.append(p.not_before < flt.issued_before)
    if flt.expiring_after is not None:
        out.append(p.not_after > flt.expiring_after)
    if flt.serial is not None:
        out.append(p.serial == flt.serial)
    if flt.sha256 is not None:
        out.append(p.sha256 == flt.sha256)
    if flt.lint_id is not None:
        out.append(_has_finding(p.serial, flt.lint_id))
    if flt.serials is not None:
        out.append(p.serial.in_(flt.serials))
    if flt.sha256s is not None:
        # a fingerprint list names final certificates (crt.sh) or precertificates
        out.append(
            or_(
                p.sha256.in_(flt.sha256s),
                exists().where(
                    certificates.c.serial == p.serial, certificates.c.sha256.in_(flt.sha256s)
                ),
            )
        )
    final_only = CertificateFilter(
        cps_version=flt.cps_version,
        key_type=flt.key_type,
        domain_suffix=flt.domain_suffix,
        subscriber_id=flt.subscriber_id,
    )
    if not final_only.is_empty():
        out.append(
            exists().where(certificates.c.serial == p.serial, *certificate_conditions(final_only))
        )
    return out
