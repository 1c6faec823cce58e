"""ACME Renewal Information (RFC 9773): certificate identifiers and renewal windows.

Pure: certificates, times and stored windows in, values out.

certID (RFC 9773 4.1) = base64url(authorityKeyIdentifier.keyIdentifier) "." base64url(the
content octets of the DER INTEGER serialNumber), both unpadded. The serial's content
octets keep the leading zero octet DER needs when the high bit is set, so the same
serial always yields the same certID.

Suggested window for a certificate with no incident: with V = notAfter - notBefore,

    start = notBefore + 2V/3 - V/30,    end = notBefore + 2V/3 + V/30

i.e. centred at two thirds of the validity and one fifteenth of it wide (for a 90-day
certificate: days 57 to 63), so clients that honour it renew with a third of the
validity left and spread their load over six days. A certificate an incident has put
a `renewal_windows` row on gets that window (in the past: renew now) and the incident's
explanation URL.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509

from certkeeper.acme.jws import b64url, b64url_decode
from certkeeper.acme.problems import AcmeProblem
from certkeeper.x509.time import truncate

# While an incident has set a window, clients hear of changes to it (an earlier
# deadline, a revocation date) sooner than the configured Retry-After (at most
# settings.acme.MAX_RETRY_AFTER_SECONDS) would tell them.
INCIDENT_RETRY_AFTER_SECONDS = 600


def retry_after(configured: int, *, in_incident: bool) -> int:
    """Seconds for the Retry-After of a renewalInfo answer."""
    return min(configured, INCIDENT_RETRY_AFTER_SECONDS) if in_incident else configured


@dataclass(frozen=True)
class CertId:
    key_identifier: bytes
    serial: int

    @property
    def serial_hex(self) -> str:
        return format(self.serial, "x")

    def text(self) -> str:
        return f"{b64url(self.key_identifier)}.{b64url(serial_octets(self.serial))}"


@dataclass(frozen=True)
class Window:
    start: datetime
    end: datetime
    explanation_url: str | None = None

    def to_json(self) -> dict[str, object]:
        doc: dict[str, object] = {
            "suggestedWindow": {"start": _rfc3339(self.start), "end": _rfc3339(self.end)}
        }
        if self.explanation_url:
            doc["explanationURL"] = self.explanation_url
        return doc


def serial_octets(serial: int) -> bytes:
    """Content octets of the DER INTEGER for a positive serial."""
    return serial.to_bytes(serial.bit_length() // 8 + 1, "big")


def cert_id_of(cert: x509.Certificate) -> CertId:
    try:
        aki = cert.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier).value
    except x509.ExtensionNotFound:
        raise AcmeProblem("malformed", "the certificate has no authorityKeyIdentifier") from None
    if aki.key_identifier is None:
        raise AcmeProblem("malformed", "the certificate's authorityKeyIdentifier has no keyId")
    return CertId(aki.key_identifier, cert.serial_number)


def parse_cert_id(text: str) -> CertId:
    """A certID string, checked to be canonical (one encoding per certificate)."""
    parts = text.split(".")
    if len(parts) != 2 or not parts[0] or not parts[1]:
        raise AcmeProblem("malformed", f"certID {text[:80]!r} is not keyIdentifier.serial")
    key_id = b64url_decode(parts[0], "certID keyIdentifier")
    octets = b64url_decode(parts[1], "certID serial")
    if octets[0] & 0x80:
        raise AcmeProblem("malformed", "certID serial is negative")
    if len(octets) > 1 and octets[0] == 0 and not octets[1] & 0x80:
        raise AcmeProblem("malformed", "certID serial is not minimal DER")
    serial = int.from_bytes(octets, "big")
    if serial == 0:
        raise AcmeProblem("malformed", "certID serial is zero")
    return CertId(key_id, serial)


def normal_window(not_before: datetime, not_after: datetime) -> Window:
    validity = not_after - not_before
    centre = not_before + validity * 2 / 3
    half = validity / 30
    return Window(truncate(centre - half), truncate(centre + half))


def _rfc3339(moment: datetime) -> str:
    return truncate(moment).strftime("%Y-%m-%dT%H:%M:%SZ")


def seconds(delta: timedelta) -> int:
    return max(0, int(delta.total_seconds()))
