"""Revoke one certificate: the revocation row and the re-signed OCSP response commit
together, then the certificate's CRL shard is republished (BR 4.9.7: within 24 hours;
certkeeper's default is at once)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.auditlog.record import record
from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import normalize_serial, normalize_sha256
from certkeeper.errors import CertkeeperError, InputError, NotFound
from certkeeper.revocation.publishing import PublicationIncomplete
from certkeeper.revocation.reasons import CrlReason, encoded_reason
from certkeeper.status.ocsp import resign_on_revocation
from certkeeper.store.revocations import RevocationRecord
from certkeeper.x509.time import truncate


@dataclass(frozen=True)
class Revoked:
    serial: str
    action: str  # revoked | updated | unchanged
    reason: CrlReason
    revoked_at: datetime
    issuer_id: int
    crl_shard: int
    published: int  # CRL files republished


def resolve_serial(
    home: CaHome,
    *,
    serial: str | None = None,
    sha256: str | None = None,
    cert_der: bytes | None = None,
) -> str:
    """The inventory serial named by exactly one of serial, SHA-256 or certificate."""
    given = [v for v in (serial, sha256, cert_der) if v is not None]
    if len(given) != 1:
        raise InputError("name the certificate by exactly one of SERIAL, --sha256 or --cert")
    inventory = home.inventory
    if sha256 is not None:
        fingerprint = normalize_sha256(sha256)
        try:
            return inventory.certificate(sha256=fingerprint).serial
        except NotFound:
            raise NotFound(f"no certificate with SHA-256 {fingerprint} in the inventory") from None
    if cert_der is not None:
        try:
            cert = x509.load_der_x509_certificate(cert_der)
        except ValueError:
            try:
                cert = x509.load_pem_x509_certificate(cert_der)
            except ValueError:
                raise InputError("--cert is not a PEM or DER certificate") from None
        fingerprint = hashlib.sha256(cert.public_bytes(Encoding.DER)).hexdigest()
        wanted = format(cert.serial_number, "x")
        if inventory.serial_state(wanted) is None:
            raise NotFound(
                f"certificate with serial {wanted} (SHA-256 {fingerprint}) was not issued here"
            )
        return wanted
    assert serial is not None
    hexserial = normalize_serial(serial)
    if inventory.serial_state(hexserial) is None:
        raise NotFound(f"serial {hexserial} was never assigned by this CA")
    return hexserial


def revoke(
    home: CaHome,
    serial: str,
    reason: CrlReason,
    *,
    now: datetime,
    revoked_at: datetime | None = None,
    evidence: str | None = None,
    incident_id: int | None = None,
    publish: Callable[[set[tuple[int, int]], datetime], int] | None = None,
) -> Revoked:
    """Record the revocation and re-sign the OCSP response in one transaction, then
    `publish` its shard and every shard still pending. A publication failure raises
    (the revocation stays recorded, its shard pending) with the serial named."""
    now = truncate(now)
    when = truncate(revoked_at) if revoked_at is not None else now
    state = home.inventory.serial_state(serial)
    if state in (None, "assigned", "failed"):
        raise InputError(
            f"serial {serial} has no precertificate (state {state or 'unassigned'}): "
            "nothing to revoke"
        )
    store = home.stores.revocations
    with home.stores.transaction() as conn:
        outcome = store.record(
            serial, when, encoded_reason(reason), evidence, incident_id, now, conn
        )
        if outcome.action != "unchanged":
            resign_on_revocation(home, serial, conn, now)
    rec = outcome.record
    record(home, f"revocation.{outcome.action}", serial, serial=serial, detail=_audited(rec))
    published = 0
    if publish is not None:
        # Even an unchanged (repeated) revocation publishes: its shard may still be
        # pending because the run that recorded it died before publishing.
        try:
            published = publish({(rec.issuer_id, rec.crl_shard)}, now)
        except CertkeeperError as exc:
            raise PublicationIncomplete(
                f"serial {serial}: {outcome.action}, OCSP re-signed; but {exc}"
            ) from None
    return Revoked(
        serial,
        outcome.action,
        CrlReason(rec.reason or 0),
        rec.revoked_at,
        rec.issuer_id,
        rec.crl_shard,
        published,
    )


def _audited(rec: RevocationRecord) -> dict[str, object]:
    """What the audit log keeps of a revocation."""
    return {
        "reason": rec.reason_name,
        "revoked_at": rec.revoked_at,
        "incident": rec.incident_id,
        "evidence": rec.evidence,
    }
