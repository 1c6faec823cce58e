"""Builders of test inputs: CSRs of every kind, good and bad, and CA homes."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from cryptography.x509.oid import NameOID

if TYPE_CHECKING:
    from public_ct import PublicCt

PASSPHRASE = "test passphrase, not secret"

_KEYS: dict[str, object] = {}


def key(kind: str = "ecdsa-p256") -> object:
    """A cached private key per kind (key generation dominates test time otherwise)."""
    if kind not in _KEYS:
        if kind.startswith("rsa-"):
            _KEYS[kind] = rsa.generate_private_key(65537, int(kind[4:]))
        elif kind == "ed25519":
            _KEYS[kind] = ed25519.Ed25519PrivateKey.generate()
        else:
            curve = {
                "ecdsa-p256": ec.SECP256R1(),
                "ecdsa-p384": ec.SECP384R1(),
                "ecdsa-p521": ec.SECP521R1(),
                "ecdsa-k256": ec.SECP256K1(),
            }[kind]
            _KEYS[kind] = ec.generate_private_key(curve)
    return _KEYS[kind]


def csr(
    names: list[str] | None = None,
    kind: str = "ecdsa-p256",
    common_name: str | None = None,
    extra_sans: list[x509.GeneralName] | None = None,
) -> x509.CertificateSigningRequest:
    names = ["www.example.com"] if names is None else names
    private = key(kind)
    subject = []
    if common_name is not None:
        subject.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
    builder = x509.CertificateSigningRequestBuilder().subject_name(x509.Name(subject))
    sans: list[x509.GeneralName] = [x509.DNSName(n) for n in names] + (extra_sans or [])
    if sans:
        builder = builder.add_extension(x509.SubjectAlternativeName(sans), critical=False)
    algorithm = None if kind == "ed25519" else hashes.SHA256()
    return builder.sign(private, algorithm)  # type: ignore[arg-type]


def csr_pem(names: list[str] | None = None, kind: str = "ecdsa-p256", **kw: object) -> bytes:
    return csr(names, kind, **kw).public_bytes(serialization.Encoding.PEM)  # type: ignore[arg-type]


def csr_der(names: list[str] | None = None, kind: str = "ecdsa-p256") -> bytes:
    return csr(names, kind).public_bytes(serialization.Encoding.DER)


def tampered_csr_der() -> bytes:
    """A CSR whose self-signature no longer verifies: one octet of the name flipped."""
    der = bytearray(csr_der(["tamper.example.com"]))
    index = der.find(b"tamper")
    der[index] ^= 0x01
    return bytes(der)


def make_home(path: Path, ct: PublicCt | None = None, **options: object) -> Path:
    """A CA home; non-public unless `public=True`, since most tests issue for names no
    DNS server here answers for. Tests of domain authorization pass `public=True`, and
    `ct=public_ct` (the fixture) when they issue, as a public home needs SCTs."""
    from certkeeper.ca.home import InitOptions, create_home

    options.setdefault("public", False)
    create_home(path, InitOptions(**options), PASSPHRASE.encode())  # type: ignore[arg-type]
    if ct is not None:
        ct.configure(path)
    return path
