"""revokeCert (RFC 8555 7.6) through the revocation service (BR 7.2.2 reasons).

Who may revoke: the account the certificate was issued to; an account holding valid
authorizations for every name in it; or anyone signing with the certificate's own key
(a jwk request: proof of possession of a key that may be compromised). A reason outside
BR 7.2.2's subscriber set is `badRevocationReason`; a certificate already revoked is
`alreadyRevoked` unless the new reason is keyCompromise, which BR 7.2.2 lets replace an
earlier reason.
"""

from __future__ import annotations

import logging
from typing import Any

from cryptography import x509

from certkeeper.acme import jws
from certkeeper.acme.auth import authenticate
from certkeeper.acme.context import Acme, Request, Response
from certkeeper.acme.problems import AcmeProblem
from certkeeper.errors import CertkeeperError, NotFound
from certkeeper.revocation.reasons import ALLOWED_REASONS, CrlReason

log = logging.getLogger("certkeeper.acme")

# Reasons a subscriber may ask for (BR 7.2.2: privilegeWithdrawn is the CA's to choose).
SUBSCRIBER_REASONS = frozenset(ALLOWED_REASONS - {CrlReason.privilegeWithdrawn})


def revoke_cert(acme: Acme, request: Request) -> Response:
    from certkeeper.revocation.publishing import PublicationIncomplete

    verified = authenticate(acme, request, use_jwk=None)
    payload = verified.jws.payload_json()
    der = jws.b64url_decode(payload.get("certificate"), "certificate")
    try:
        cert = x509.load_der_x509_certificate(der)
    except ValueError:
        raise AcmeProblem("malformed", "certificate is not a DER X.509 certificate") from None
    reason = _reason(payload.get("reason"))
    serial = format(cert.serial_number, "x")
    inventory = acme.ca.stores.inventory
    try:
        record = inventory.certificate(serial=serial)
    except NotFound:
        raise AcmeProblem(
            "malformed", f"certificate {serial} was not issued here", status=404
        ) from None
    if record.der != der:
        raise AcmeProblem(
            "malformed", f"certificate {serial} differs from the one issued here", status=404
        )
    if verified.account is None:
        if jws.thumbprint(cert.public_key()) != jws.thumbprint(verified.key):  # type: ignore[arg-type]
            raise AcmeProblem("unauthorized", "the request is not signed by the certificate's key")
        _block_certificate_key(acme, cert, serial)
    elif record.subscriber_id != verified.account.subscriber_id:
        held = acme.store.valid_authorization_names(verified.account.id, acme.clock())
        missing = [n for n in record.names if n not in held]
        if missing:
            raise AcmeProblem(
                "unauthorized",
                "this account neither owns the certificate nor holds valid authorizations "
                f"for {', '.join(missing)}",
            )
    existing = acme.ca.stores.revocations.get(serial)
    if existing is not None and not (
        reason is CrlReason.keyCompromise and existing.reason != int(CrlReason.keyCompromise)
    ):
        raise AcmeProblem("alreadyRevoked", f"certificate {serial} is already revoked")
    evidence = "ACME revokeCert " + (
        "signed by the certificate key"
        if verified.account is None
        else f"by account {verified.account.id}"
    )
    try:
        acme.ca.revocation.revoke(
            serial,
            reason,
            now=acme.clock(),
            evidence=evidence,
            publish=acme.ca.republisher.publisher(),
        )
    except PublicationIncomplete as exc:
        # Revoked and OCSP re-signed; the shard stays pending for the next publisher.
        log.warning("revoked, CRL publication incomplete", extra={"error": str(exc)})
    except CertkeeperError as exc:
        raise AcmeProblem("malformed", str(exc)) from None
    log.info("certificate revoked", extra={"serial": serial, "reason": int(reason), "by": evidence})
    return Response(200, b"", None)


def _block_certificate_key(acme: Acme, cert: x509.Certificate, serial: str) -> None:
    """A revocation signed with the certificate's key treats that key as compromised
    (BR 6.1.1.3 item 4): it is never certified again, whatever the reason given."""
    from certkeeper.keys.spki import spki_sha256
    from certkeeper.store.blocked_keys import BlockedKey

    entry = BlockedKey(
        spki_sha256(cert.public_key()),
        "acme-revocation",
        f"ACME revokeCert of serial {serial} signed by the certificate key",
        serial,
        acme.clock(),
    )
    acme.ca.stores.blocked_keys.add([entry])


def _reason(value: Any) -> CrlReason:
    if value is None:
        return CrlReason.unspecified
    if not isinstance(value, int) or isinstance(value, bool):
        raise AcmeProblem("badRevocationReason", "reason must be an integer CRLReason code")
    try:
        reason = CrlReason(value)
    except ValueError:
        raise AcmeProblem("badRevocationReason", f"{value} is not a CRLReason code") from None
    if reason not in SUBSCRIBER_REASONS:
        allowed = ", ".join(f"{int(r)} ({r.name})" for r in sorted(SUBSCRIBER_REASONS))
        raise AcmeProblem(
            "badRevocationReason", f"reason {value} ({reason.name}) is not allowed; use {allowed}"
        )
    return reason
