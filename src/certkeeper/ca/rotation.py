"""Growing and rotating the hierarchy: warm-standby issuing CAs, activation, new OCSP
responder certificates.

A CA certificate is linted like a leaf: the linting copy (signed by a throwaway key) goes
through both linters first, and the real key signs exactly those TBS bytes, so a CA
certificate that fails a lint is never signed. A new issuing CA starts as "standby" with
its own delegated OCSP responder; `activate` makes it the one issuance uses for its key
type and retires the previous one in the same transaction. Retired CAs keep publishing
CRLs and OCSP until their certificates expire (status/crl.py publishes every unexpired
issuing CA).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certkeeper.ca import audit_events
from certkeeper.ca import certs as cacerts
from certkeeper.ca.home import CaHome, record_issuer
from certkeeper.ca.signing_gate import lint_then_sign
from certkeeper.errors import ConfigError, InputError, NotFound
from certkeeper.lint.engine import CertType
from certkeeper.lint.gate import LintGate
from certkeeper.store.records import IssuerRecord
from certkeeper.x509.signer import KEY_SPECS, Signer
from certkeeper.x509.time import truncate

# Issuer names appear in URLs (/crl/<name>/<shard>.crl, /issuers/<name>.der).
_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,62}$")
ISSUING_KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096")


@dataclass(frozen=True)
class NewIssuer:
    issuing: IssuerRecord
    responder: IssuerRecord


def _check_new_name(ca: CaHome, name: str) -> None:
    if not _NAME.match(name):
        raise InputError(
            f"issuer name {name!r}: use 1-63 lower-case letters, digits and hyphens "
            "(it appears in CRL and certificate URLs)"
        )
    try:
        ca.inventory.issuer_by_name(name)
    except NotFound:
        return
    raise InputError(f"an issuer named {name!r} already exists")


def _root(ca: CaHome, now: datetime) -> IssuerRecord:
    roots = [r for r in ca.inventory.issuers(role="root") if r.not_after > now]
    if not roots:
        raise ConfigError("this CA home has no unexpired root to sign a new CA certificate")
    return max(roots, key=lambda r: r.not_after)


def _lint_then_sign(
    ca: CaHome,
    builder: x509.CertificateBuilder,
    cert_type: CertType,
    parent: x509.Certificate,
    parent_signer: Signer,
    gate: LintGate,
    now: datetime,
) -> bytes:
    return lint_then_sign(
        builder, cert_type, parent, parent_signer, gate, ca.config.waivers_in_force(now)
    )


def _public_key(signer: Signer) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
    key = signer.public_key()
    assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    return key


def add_responder(
    ca: CaHome, issuer_name: str, now: datetime, *, gate: LintGate | None = None
) -> IssuerRecord:
    """A new delegated OCSP responder certificate (and key) for an issuing CA; the OCSP
    signer always picks the unexpired responder that lasts longest."""
    now = truncate(now)
    issuer = ca.inventory.issuer_by_name(issuer_name)
    if issuer.role != "issuing":
        raise InputError(f"{issuer_name} is a {issuer.role} CA; responders belong to issuing CAs")
    existing = {r.name for r in ca.inventory.issuers()}
    n = 1
    while f"ocsp-{issuer_name}-{n}" in existing:
        n += 1
    name = f"ocsp-{issuer_name}-{n}"
    if len(name) > 63:
        name = f"ocsp-{issuer.id}-{n}"
    issuer_cert = ca.issuer_certificate(issuer)
    signer, key_ref = ca.new_key(name, issuer.key_type)
    naming = _naming(ca)
    builder = cacerts.responder_builder(
        naming.subject(f"{_cn(issuer_cert)} OCSP {n}"), _public_key(signer), issuer_cert, now
    )
    cert_der = _lint_then_sign(
        ca,
        builder,
        CertType.OCSP_RESPONDER,
        issuer_cert,
        ca.signer(issuer),
        gate or LintGate(ca.config.use_pkilint),
        now,
    )
    responder = record_issuer(
        ca.config.home,
        ca.inventory,
        name,
        "responder",
        issuer.key_type,
        issuer.id,
        cert_der,
        key_ref,
        now,
    )
    audit_events.issuer_created(ca, responder, now)
    return responder


def add_issuing_ca(
    ca: CaHome,
    name: str,
    key_type: str,
    now: datetime,
    *,
    common_name: str | None = None,
    gate: LintGate | None = None,
) -> NewIssuer:
    """A warm-standby issuing CA under the root, with its delegated OCSP responder."""
    now = truncate(now)
    _check_new_name(ca, name)
    if key_type not in ISSUING_KEY_TYPES:
        raise InputError(f"key type {key_type!r}: choose one of {', '.join(ISSUING_KEY_TYPES)}")
    assert key_type in KEY_SPECS
    root = _root(ca, now)
    root_cert = ca.issuer_certificate(root)
    root_signer = ca.signer(root)
    gate = gate or LintGate(ca.config.use_pkilint)
    naming = _naming(ca)
    cn = common_name or f"{ca.config.ca_name} TLS {name}"
    signer, key_ref = ca.new_key(name, key_type)
    builder = cacerts.issuing_ca_builder(
        naming.subject(cn), _public_key(signer), root_cert, root.name, ca.config.base_url, now
    )
    cert_der = _lint_then_sign(
        ca, builder, CertType.SUBORDINATE_CA, root_cert, root_signer, gate, now
    )
    issuing = record_issuer(
        ca.config.home,
        ca.inventory,
        name,
        "issuing",
        key_type,
        root.id,
        cert_der,
        key_ref,
        now,
        state="standby",
    )
    audit_events.issuer_created(ca, issuing, now)
    responder = add_responder(ca, name, now, gate=gate)
    return NewIssuer(issuing, responder)


def activate(ca: CaHome, name: str, now: datetime) -> tuple[IssuerRecord, list[IssuerRecord]]:
    """Make a standby issuing CA the active one for its key type; retire the others."""
    target = ca.inventory.issuer_by_name(name)
    if target.role != "issuing":
        raise InputError(f"{name} is a {target.role} CA; only issuing CAs are activated")
    if target.state == "active":
        raise InputError(f"{name} is already active")
    if target.not_after <= now:
        raise InputError(f"{name} expired on {target.not_after.isoformat()}")
    responders = [
        r
        for r in ca.inventory.issuers(role="responder")
        if r.parent_id == target.id and r.not_before <= now < r.not_after
    ]
    if not responders:
        raise InputError(f"{name} has no valid OCSP responder certificate (ca add-responder)")
    ca.signer(target)  # the key opens and matches the certificate before anything changes
    previous = [
        r
        for r in ca.inventory.issuers(role="issuing")
        if r.state == "active" and r.key_type == target.key_type
    ]
    assert target.id is not None
    requested_by = audit_events.second_person(ca, name, now)
    ca.inventory.rotate_issuers(target.id, [r.id for r in previous if r.id is not None])
    audit_events.activated(ca, name, [r.name for r in previous], requested_by, now)
    return ca.inventory.issuer_by_name(name), previous


def _naming(ca: CaHome) -> cacerts.Naming:
    cfg = ca.config
    return cacerts.Naming(cfg.ca_name, cfg.organization, cfg.country)


def _cn(cert: x509.Certificate) -> str:
    attrs = cert.subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)
    value = attrs[0].value if attrs else "CA"
    return value if isinstance(value, str) else value.decode()
