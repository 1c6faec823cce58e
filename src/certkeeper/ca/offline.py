"""The online side of an offline root: CA keys and CSRs made here, certificates signed
in a key ceremony installed here, and the root's CA CRL (ARL) taken as it was signed.

An online home made with `init --root-cert` records the root with the key reference
OFFLINE_KEY: nothing online can load it (`CaHome.signer` refuses by name), so no online
command ever needs the root key. `crl publish` leaves the root's CRL alone; the ARL
from the ceremony is installed by `ca import-crl`, byte for byte.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certkeeper import crl_files
from certkeeper.ca import audit_events
from certkeeper.ca.home import CaHome, record_issuer
from certkeeper.errors import ConfigError, InputError, NotFound
from certkeeper.issuer_keys import OFFLINE_KEY
from certkeeper.store.records import IssuerRecord
from certkeeper.x509 import der
from certkeeper.x509.signer import key_type_of
from certkeeper.x509.time import truncate

PENDING_DIR = "pending"
CA_KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096")


def is_offline(rec: IssuerRecord) -> bool:
    return rec.key_ref == OFFLINE_KEY


def _pending_path(ca: CaHome, name: str) -> Path:
    return ca.config.home / PENDING_DIR / f"{name}.json"


def make_csr(ca: CaHome, name: str, key_type: str, common_name: str | None) -> bytes:
    """A new issuing-CA key (file or token, as the home keeps keys) and its CSR (PEM),
    remembered until `import_ca` installs the certificate the ceremony signs for it."""
    if key_type not in CA_KEY_TYPES:
        raise InputError(f"key type {key_type!r}: choose one of {', '.join(CA_KEY_TYPES)}")
    if not name or len(name) > 48 or not all(c.isalnum() or c == "-" for c in name):
        raise InputError(f"CA name {name!r}: letters, digits and '-', at most 48 characters")
    try:
        ca.inventory.issuer_by_name(name)
    except NotFound:
        pass
    else:
        raise InputError(f"a CA named {name} already exists")
    if _pending_path(ca, name).exists():
        raise InputError(f"a key for {name} is already waiting for its certificate")
    (ca.config.home / PENDING_DIR).mkdir(mode=0o700, exist_ok=True)
    signer, key_ref = ca.new_key(name, key_type)
    cn = common_name or f"{ca.config.ca_name} TLS {name}"
    subject = x509.Name([x509.NameAttribute(x509.oid.NameOID.COMMON_NAME, cn)]).public_bytes()
    own_key = signer.public_key()
    assert isinstance(own_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    spki = own_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    info = der.sequence(der.encode_integer(0), subject, spki, der.tlv(0xA0, b""))
    csr_der = der.assemble_signed(info, signer.spec.algorithm_identifier(), signer.sign(info))
    csr = x509.load_der_x509_csr(csr_der)
    if not csr.is_signature_valid:
        raise ConfigError(f"the CSR made with key {key_ref} does not verify")
    pem = csr.public_bytes(serialization.Encoding.PEM)
    pending = {
        "name": name,
        "key_type": key_type,
        "key_ref": key_ref,
        "csr_sha256": hashlib.sha256(csr_der).hexdigest(),
    }
    _pending_path(ca, name).write_text(json.dumps(pending, indent=2) + "\n", encoding="utf-8")
    audit_events.key_created(ca, name, key_type, key_ref, pending["csr_sha256"])
    return pem


@dataclass(frozen=True)
class Imported:
    issuing: IssuerRecord
    responder: IssuerRecord


def import_ca(ca: CaHome, cert_data: bytes, now: datetime) -> Imported:
    """Install an issuing-CA certificate signed by the root in a ceremony: it must chain
    to this home's root and carry the public key of a key made here with `ca csr`.
    The CA starts in standby with a new delegated OCSP responder."""
    from certkeeper.ca import rotation

    now = truncate(now)
    cert = _load_cert(cert_data)
    root = _root(ca)
    root_cert = ca.issuer_certificate(root)
    try:
        cert.verify_directly_issued_by(root_cert)
    except (ValueError, TypeError, InvalidSignature) as exc:
        raise InputError(
            f"the certificate is not signed by this home's root {root.name} ({type(exc).__name__})"
        ) from None
    pending = _pending_for(ca, cert)
    if cert.not_valid_after_utc <= now:
        raise InputError(f"the certificate expired on {cert.not_valid_after_utc.isoformat()}")
    public_key = cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    der_bytes = cert.public_bytes(serialization.Encoding.DER)
    issuing = record_issuer(
        ca.config.home,
        ca.inventory,
        pending["name"],
        "issuing",
        key_type_of(public_key),
        root.id,
        der_bytes,
        pending["key_ref"],
        now,
        state="standby",
    )
    ca.signer(issuing)  # the key opens and matches before anything else depends on it
    audit_events.certificate_imported(ca, issuing, pending.get("csr_sha256", ""), now)
    responder = rotation.add_responder(ca, issuing.name, now)
    _pending_path(ca, pending["name"]).unlink()
    return Imported(issuing, responder)


def _pending_for(ca: CaHome, cert: x509.Certificate) -> dict[str, str]:
    wanted = cert.public_key().public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    folder = ca.config.home / PENDING_DIR
    for path in sorted(folder.glob("*.json")) if folder.is_dir() else []:
        pending = json.loads(path.read_text(encoding="utf-8"))
        key = ca._load_signer(pending["key_ref"]).public_key()
        assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        have = key.public_bytes(
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )
        if have == wanted:
            return {k: str(v) for k, v in pending.items()}
    raise InputError(
        "no key made here with `certkeeper ca csr` matches the certificate's public key"
    )


def _root(ca: CaHome) -> IssuerRecord:
    roots = ca.inventory.issuers(role="root")
    if not roots:
        raise ConfigError("this CA home has no root certificate")
    return roots[-1]


def _load_cert(data: bytes) -> x509.Certificate:
    try:
        if data.lstrip().startswith(b"-----"):
            return x509.load_pem_x509_certificate(data)
        return x509.load_der_x509_certificate(data)
    except ValueError as exc:
        raise InputError(f"not a certificate (PEM or DER): {exc}") from None


@dataclass(frozen=True)
class ImportedCrl:
    path: Path
    number: int
    next_update: datetime
    sha256: str
    entries: int


def import_ca_crl(ca: CaHome, data: bytes, now: datetime) -> ImportedCrl:
    """Install the root's CA CRL (ARL) signed in a ceremony into `[crl] dir`, unchanged:
    checked to be signed by the root, current, and newer than the one it replaces."""
    try:
        crl = (
            x509.load_pem_x509_crl(data)
            if data.lstrip().startswith(b"-----")
            else x509.load_der_x509_crl(data)
        )
    except ValueError as exc:
        raise InputError(f"not a CRL (PEM or DER): {exc}") from None
    root = _root(ca)
    root_cert = ca.issuer_certificate(root)
    public_key = root_cert.public_key()
    assert isinstance(public_key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
    if crl.issuer != root_cert.subject or not crl.is_signature_valid(public_key):
        raise InputError(f"the CRL is not signed by this home's root {root.name}")
    next_update = crl.next_update_utc
    if next_update is None or next_update <= now:
        raise InputError("the CRL is out of date (its nextUpdate has passed): sign a new one")
    number = crl.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
    target = crl_files.ca_crl_path(ca.config.crl_dir, root.name)
    if target.exists():
        current = x509.load_der_x509_crl(target.read_bytes())
        have = current.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number
        if number <= have:
            raise InputError(f"CRL number {number} is not newer than the installed {have}")
    der_bytes = crl.public_bytes(serialization.Encoding.DER)
    crl_files.write_atomic(target, der_bytes)
    digest = hashlib.sha256(der_bytes).hexdigest()
    from certkeeper.auditlog.record import record

    record(
        ca,
        "ca.crl-installed",
        root.name,
        detail={"crl_number": number, "next_update": next_update, "sha256": digest},
        at=now,
    )
    return ImportedCrl(target, number, next_update, digest, len(list(crl)))
