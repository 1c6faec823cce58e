"""Selecting certificates by their attributes: the filter behind listings and incidents.

A `CertificateFilter` is a plain value. It compiles to SQLAlchemy WHERE clauses without
touching a database, and round-trips through `to_dict` / `from_dict`, so an incident can
store the exact query that chose its affected set and run it again later.

Domain matching uses `certificate_names.reversed_name` ("www.example.com" is stored as
"com.example.www"): a suffix query becomes an equality or a prefix ending in a label
boundary, so "example.com" matches "example.com" and "a.example.com" but never
"badexample.com".
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, exists, or_, select

from certkeeper.errors import InputError
from certkeeper.store.tables import (
    certificate_names,
    certificates,
    issuers,
    lint_findings,
    precertificates,
    serials,
)

_HEX = re.compile(r"^[0-9a-f]+$")
# 20 octets of DER INTEGER content, the BR 7.1 maximum, is 40 hexadecimal digits.
MAX_SERIAL_HEX = 40


def reverse_name(name: str) -> str:
    """A DNS name (or IP address text) with its labels reversed, lowercase, no final dot."""
    return ".".join(reversed(name.strip().rstrip(".").lower().split(".")))


def normalize_domain(text: str) -> str:
    """The A-label, lowercase, no final dot form that certificates carry."""
    name = text.strip().rstrip(".").lower()
    if not name or name.startswith(".") or ".." in name:
        raise InputError(f"invalid domain {text!r}")
    if not name.isascii():
        try:
            name = name.encode("idna").decode("ascii")
        except UnicodeError:
            raise InputError(f"invalid internationalized domain {text!r}") from None
    return name


def normalize_serial(text: str) -> str:
    """Accept "0A:1b", "0x0a1b", "0a1b" and return "a1b": the inventory's serial form."""
    cleaned = text.strip().lower().replace(":", "").replace(" ", "")
    if cleaned.startswith("0x"):
        cleaned = cleaned[2:]
    if not cleaned or not _HEX.match(cleaned):
        raise InputError(f"invalid serial number {text!r}: expected hexadecimal")
    value = cleaned.lstrip("0") or "0"
    if len(value) > MAX_SERIAL_HEX:
        raise InputError(f"invalid serial number {text!r}: longer than 20 octets")
    return value


def normalize_sha256(text: str) -> str:
    """A SHA-256 fingerprint as 64 lowercase hexadecimal digits (colons allowed on input)."""
    cleaned = text.strip().lower().replace(":", "")
    if len(cleaned) != 64 or not _HEX.match(cleaned):
        raise InputError(f"invalid SHA-256 fingerprint {text!r}: expected 64 hexadecimal digits")
    return cleaned


def _aware(name: str, value: datetime) -> datetime:
    if value.tzinfo is None or value.utcoffset() is None:
        raise InputError(f"{name}: time {value.isoformat()} has no time zone")
    return value.astimezone(UTC)


_TIME_FIELDS = ("issued_after", "issued_before", "expiring_after")
_INT_FIELDS = ("profile_version",)
_LIST_FIELDS = ("serials", "sha256s")


@dataclass(frozen=True, slots=True)
class CertificateFilter:
    """Which certificates to select; every field is optional and they all must hold.

    issued_after / issued_before bound notBefore as a half-open window
    (issued_after <= notBefore < issued_before); expiring_after keeps certificates whose
    notAfter is later than the given time. domain_suffix matches the name itself and
    every name below it. Values are normalized on construction, so two filters that
    select the same certificates compare (and serialize) equal."""

    issuer: str | None = None
    profile_id: str | None = None
    profile_version: int | None = None
    cps_version: str | None = None
    issued_after: datetime | None = None
    issued_before: datetime | None = None
    expiring_after: datetime | None = None
    key_type: str | None = None
    domain_suffix: str | None = None
    serial: str | None = None
    sha256: str | None = None
    subscriber_id: str | None = None
    lint_id: str | None = None  # has a stored finding of this lint (issuance or relint)
    serials: tuple[str, ...] | None = None  # any of these (e.g. from a file)
    sha256s: tuple[str, ...] | None = None  # any of these SHA-256 fingerprints

    def __post_init__(self) -> None:
        for name in _TIME_FIELDS:
            value = getattr(self, name)
            if value is not None:
                object.__setattr__(self, name, _aware(name, value))
        if self.domain_suffix is not None:
            object.__setattr__(self, "domain_suffix", normalize_domain(self.domain_suffix))
        if self.serial is not None:
            object.__setattr__(self, "serial", normalize_serial(self.serial))
        if self.sha256 is not None:
            object.__setattr__(self, "sha256", normalize_sha256(self.sha256))
        if self.serials is not None:
            object.__setattr__(
                self, "serials", tuple(sorted({normalize_serial(v) for v in self.serials}))
            )
        if self.sha256s is not None:
            object.__setattr__(
                self, "sha256s", tuple(sorted({normalize_sha256(v) for v in self.sha256s}))
            )
        if self.profile_version is not None and self.profile_id is None:
            raise InputError("a profile version needs a profile id")
        if self.profile_version is not None and (
            isinstance(self.profile_version, bool) or not isinstance(self.profile_version, int)
        ):
            raise InputError(f"profile version must be an integer, not {self.profile_version!r}")

    def is_empty(self) -> bool:
        return all(getattr(self, f.name) is None for f in fields(self))

    def to_dict(self) -> dict[str, Any]:
        """JSON-ready: only the fields that are set; times as ISO 8601 with offset."""
        out: dict[str, Any] = {}
        for f in fields(self):
            value = getattr(self, f.name)
            if value is None:
                continue
            if isinstance(value, datetime):
                value = value.isoformat()
            elif isinstance(value, tuple):
                value = list(value)
            out[f.name] = value
        return out

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> CertificateFilter:
        """The inverse of `to_dict`; unknown keys and malformed values raise InputError."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise InputError(f"unknown certificate filter field(s): {', '.join(unknown)}")
        values: dict[str, Any] = {}
        for key, value in data.items():
            if value is None:
                continue
            if key in _TIME_FIELDS:
                if not isinstance(value, str):
                    raise InputError(f"{key}: expected an ISO 8601 time, got {value!r}")
                try:
                    values[key] = datetime.fromisoformat(value)
                except ValueError:
                    raise InputError(f"{key}: invalid ISO 8601 time {value!r}") from None
            elif key in _LIST_FIELDS:
                if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
                    raise InputError(f"{key}: expected a list of strings, got {value!r}")
                values[key] = tuple(value)
            elif key in _INT_FIELDS:
                if isinstance(value, bool) or not isinstance(value, int):
                    raise InputError(f"{key}: expected an integer, got {value!r}")
                values[key] = value
            else:
                if not isinstance(value, str):
                    raise InputError(f"{key}: expected a string, got {value!r}")
                values[key] = value
        return cls(**values)


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
