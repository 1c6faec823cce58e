"""The Signer interface: the only code that touches private keys sits behind it.

Signers sign bytes (a TBS structure), not certificate objects, so an HSM-backed signer
and a key-file signer are interchangeable, and the exact TBS bytes that were linted are
the bytes that get signed.
"""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from typing import Protocol

from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPrivateKeyTypes

from certkeeper.x509 import der
from certkeeper.x509.oids import SIG_ECDSA_SHA256, SIG_ECDSA_SHA384, SIG_RSA_SHA256, SIG_RSA_SHA384


@dataclass(frozen=True)
class KeySpec:
    """A key algorithm certkeeper can create and sign with."""

    name: str  # ecdsa-p256 | ecdsa-p384 | rsa-2048 | rsa-3072 | rsa-4096
    hash_name: str
    signature_oid: str

    @property
    def is_rsa(self) -> bool:
        return self.name.startswith("rsa-")

    def hash(self) -> hashes.SHA256 | hashes.SHA384:
        return hashes.SHA384() if self.hash_name == "sha384" else hashes.SHA256()

    def algorithm_identifier(self) -> bytes:
        """DER AlgorithmIdentifier. RSA carries explicit NULL parameters, ECDSA none
        (RFC 5758 3.2, BR 7.1.3.2)."""
        oid = der.encode_oid(self.signature_oid)
        if self.is_rsa:
            return der.sequence(oid, der.tlv(der.NULL, b""))
        return der.sequence(oid)

    def generate(self) -> CertificateIssuerPrivateKeyTypes:
        if self.is_rsa:
            return rsa.generate_private_key(public_exponent=65537, key_size=int(self.name[4:]))
        curve: ec.EllipticCurve = ec.SECP384R1() if self.name == "ecdsa-p384" else ec.SECP256R1()
        return ec.generate_private_key(curve)


KEY_SPECS: dict[str, KeySpec] = {
    "ecdsa-p256": KeySpec("ecdsa-p256", "sha256", SIG_ECDSA_SHA256),
    "ecdsa-p384": KeySpec("ecdsa-p384", "sha384", SIG_ECDSA_SHA384),
    "rsa-2048": KeySpec("rsa-2048", "sha256", SIG_RSA_SHA256),
    "rsa-3072": KeySpec("rsa-3072", "sha256", SIG_RSA_SHA256),
    "rsa-4096": KeySpec("rsa-4096", "sha384", SIG_RSA_SHA384),
}


def key_type_of(public_key: object) -> str:
    """The certkeeper key type name of a public key, or a descriptive unsupported name."""
    if isinstance(public_key, rsa.RSAPublicKey):
        return f"rsa-{public_key.key_size}"
    if isinstance(public_key, ec.EllipticCurvePublicKey):
        return {
            "secp256r1": "ecdsa-p256",
            "secp384r1": "ecdsa-p384",
            "secp521r1": "ecdsa-p521",
        }.get(public_key.curve.name, f"ecdsa-{public_key.curve.name}")
    return type(public_key).__name__


class Signer(Protocol):
    """Signs TBS bytes with one CA key."""

    @property
    def spec(self) -> KeySpec: ...

    def public_key(self) -> object: ...

    def sign(self, data: bytes) -> bytes:
        """The signatureValue over `data`: ECDSA-Sig-Value DER or the RSA signature."""
        ...


class KeySigner:
    """A Signer over a key object held in memory (loaded from an encrypted file)."""

    def __init__(self, key: CertificateIssuerPrivateKeyTypes, spec: KeySpec) -> None:
        self._key = key
        self._spec = spec

    @property
    def spec(self) -> KeySpec:
        return self._spec

    def public_key(self) -> object:
        return self._key.public_key()

    def sign(self, data: bytes) -> bytes:
        key = self._key
        if isinstance(key, rsa.RSAPrivateKey):
            return key.sign(data, padding.PKCS1v15(), self._spec.hash())
        if isinstance(key, ec.EllipticCurvePrivateKey):
            return key.sign(data, ec.ECDSA(self._spec.hash()))
        raise TypeError(f"unsupported key type {type(key).__name__}")


@cache
def throwaway_key(key_type: str) -> CertificateIssuerPrivateKeyTypes:
    """A key of the issuer's algorithm that no one trusts, for the linting copy.

    One per process and algorithm: the linting copy's TBS does not depend on the key
    that signs it, only on the algorithm, so generating one per certificate would only
    waste time (RSA key generation costs tens of milliseconds)."""
    return KEY_SPECS[key_type].generate()
