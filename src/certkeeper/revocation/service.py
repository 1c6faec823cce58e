"""Revoke one certificate: the revocation row and the re-signed OCSP response commit
together, then the certificate's CRL shard is republished (BR 4.9.7: within 24 hours;
certkeeper's default is at once)."""

from __future__ import annotations

import hashlib
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.auditlog.record import Home, record
from certkeeper.certificate_filter import normalize_serial, normalize_sha256
from certkeeper.errors import CertkeeperError, InputError, NotFound
from certkeeper.revocation.publishing import PublicationIncomplete, Publish
from certkeeper.revocation.reasons import CrlReason, encoded_reason
from certkeeper.store.revocations import RevocationRecord
from certkeeper.x509.time import truncate

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from certkeeper.store.inventory import Inventory
    from certkeeper.store.stores import Stores

# The OCSP signer's part (status/ocsp.py): sign and store the "revoked" response of a
# serial whose revocation row exists, inside that row's transaction.
Resign = Callable[[str, "Connection", datetime], object]


@dataclass(frozen=True)
class Revoked:
    serial: str
    action: str  # revoked | updated | unchanged
    reason: CrlReason
    revoked_at: datetime
    issuer_id: int
    crl_shard: int
    published: int  # CRL files republished


class RevocationService:
    """Revokes single certificates: the revocation row and the re-signed OCSP response
    in one transaction, then the audit event and the shard's publication."""

    def __init__(self, stores: Stores, resign: Resign, audit: Home) -> None:
        self.stores = stores
        self.resign = resign
        self.audit = audit

    def resolve_serial(
        self,
        *,
        serial: str | None = None,
        sha256: str | None = None,
        cert_der: bytes | None = None,
    ) -> str:
        """The inventory serial named by exactly one of serial, SHA-256 or certificate."""
        return resolve_serial(
            self.stores.inventory, serial=serial, sha256=sha256, cert_der=cert_der
        )

    def revoke(
        self,
        serial: str,
        reason: CrlReason,
        *,
        now: datetime,
        revoked_at: datetime | None = None,
        evidence: str | None = None,
        incident_id: int | None = None,
        publish: Publish | None = None,
    ) -> Revoked:
        """Record the revocation and re-sign the OCSP response in one transaction, then
        `publish` its shard and every shard still pending. A publication failure raises
        (the revocation stays recorded, its shard pending) with the serial named."""
        now = truncate(now)
        when = truncate(revoked_at) if revoked_at is not None else now
        state = self.stores.inventory.serial_state(serial)
        if state in (None, "assigned", "failed"):
            raise InputError(
                f"serial {serial} has no precertificate (state {state or 'unassigned'}): "
                "nothing to revoke"
            )
        store = self.stores.revocations
        with self.stores.transaction() as conn:
            outcome = store.record(
                serial, when, encoded_reason(reason), evidence, incident_id, now, conn
            )
            if outcome.action != "unchanged":
                self.resign(serial, conn, now)
        rec = outcome.record
        record(
            self.audit, f"revocation.{outcome.action}", serial, serial=serial, detail=_audited(rec)
        )
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


def resolve_serial(
    inventory: Inventory,
    *,
    serial: str | None = None,
    sha256: str | None = None,
    cert_der: bytes | None = None,
) -> str:
    """The inventory serial named by exactly one of serial, SHA-256 or certificate."""
    given = [v for v in (serial, sha256, cert_der) if v is not None]
    if len(given) != 1:
        raise InputError("name the certificate by exactly one of SERIAL, --sha256 or --cert")
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


def _audited(rec: RevocationRecord) -> dict[str, object]:
    """What the audit log keeps of a revocation."""
    return {
        "reason": rec.reason_name,
        "revoked_at": rec.revoked_at,
        "incident": rec.incident_id,
        "evidence": rec.evidence,
    }
