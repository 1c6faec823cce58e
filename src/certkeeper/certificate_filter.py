"""Which certificates to select: `CertificateFilter`, a plain value, and the normalizers
of the serials, fingerprints and names it is built from.

It knows no database: commands parse options into one, services pass it on, and the
store compiles it to SQL (`store/queries.py`). It round-trips through `to_dict` /
`from_dict`, so an incident can save the exact query that chose its affected set.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, fields
from datetime import UTC, datetime
from typing import Any

from certkeeper.errors import InputError

_HEX = re.compile(r"^[0-9a-f]+$")
# 20 octets of DER INTEGER content, the BR 7.1 maximum, is 40 hexadecimal digits.
MAX_SERIAL_HEX = 40


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
