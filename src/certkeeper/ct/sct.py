"""Signed certificate timestamps (RFC 6962 3.2, 3.3): encode, decode, verify. Pure.

An SCT is a log's promise to include an entry; its signature covers the entry the log
saw. For a precertificate that entry is the issuer's key hash and the TBSCertificate
without the poison extension, which is exactly what the final certificate will hold
once the SCT list replaces the poison, so a relying party can check the signature from
the final certificate alone.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from enum import IntEnum

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

from certkeeper.ct import tls
from certkeeper.ct.tls import Reader, TlsDecodeError
from certkeeper.x509.tbs import CT_POISON, remove_extension

V1 = 0
HASH_SHA256 = 4  # RFC 5246 7.4.1.4.1 HashAlgorithm
SIG_RSA = 1  # SignatureAlgorithm
SIG_ECDSA = 3


class SignatureType(IntEnum):
    CERTIFICATE_TIMESTAMP = 0
    TREE_HASH = 1


class EntryType(IntEnum):
    X509 = 0
    PRECERT = 1


class SctError(ValueError):
    """An SCT that does not decode, or does not verify against its log."""


@dataclass(frozen=True)
class Sct:
    log_id: bytes  # SHA-256 of the log's DER SubjectPublicKeyInfo
    timestamp: int  # milliseconds since the epoch
    extensions: bytes
    hash_algorithm: int
    signature_algorithm: int
    signature: bytes
    version: int = V1

    def encode(self) -> bytes:
        if len(self.log_id) != 32:
            raise ValueError("a log id is 32 octets")
        return (
            tls.uint(self.version, 1)
            + self.log_id
            + tls.uint(self.timestamp, 8)
            + tls.vector(self.extensions, 2)
            + self.digitally_signed()
        )

    def digitally_signed(self) -> bytes:
        """The DigitallySigned struct: algorithms and the signature vector."""
        return (
            tls.uint(self.hash_algorithm, 1)
            + tls.uint(self.signature_algorithm, 1)
            + tls.vector(self.signature, 2)
        )


def decode_sct(data: bytes) -> Sct:
    r = Reader(data, "SCT")
    version = r.uint(1)
    if version != V1:
        raise TlsDecodeError(f"SCT: version {version} is not v1")
    sct = Sct(
        log_id=r.take(32),
        timestamp=r.uint(8),
        extensions=r.vector(2),
        hash_algorithm=r.uint(1),
        signature_algorithm=r.uint(1),
        signature=r.vector(2),
        version=version,
    )
    r.done()
    return sct


def decode_digitally_signed(data: bytes) -> tuple[int, int, bytes]:
    r = Reader(data, "DigitallySigned")
    out = (r.uint(1), r.uint(1), r.vector(2))
    r.done()
    return out


def encode_sct_list(scts: list[Sct]) -> bytes:
    """SignedCertificateTimestampList (RFC 6962 3.3): each SCT in a 2-octet vector, the
    whole in another; both vectors must be non-empty."""
    if not scts:
        raise ValueError("an SCT list holds at least one SCT")
    body = b"".join(tls.vector(s.encode(), 2) for s in scts)
    return tls.vector(body, 2)


def decode_sct_list(data: bytes) -> list[Sct]:
    outer = Reader(data, "SCT list")
    body = outer.vector(2)
    outer.done()
    if not body:
        raise TlsDecodeError("SCT list: empty")
    r = Reader(body, "SCT list")
    out = []
    while r.remaining():
        item = r.vector(2)
        if not item:
            raise TlsDecodeError("SCT list: an empty SerializedSCT")
        out.append(decode_sct(item))
    return out


@dataclass(frozen=True)
class SignedEntry:
    """What a log signs and logs: an X.509 certificate or a precertificate."""

    entry_type: EntryType
    body: bytes  # ASN.1Cert, or PreCert (issuer_key_hash[32] + TBS<1..2^24-1>)

    @staticmethod
    def x509(cert_der: bytes) -> SignedEntry:
        return SignedEntry(EntryType.X509, tls.vector(cert_der, 3))

    @staticmethod
    def precert(issuer_key_hash: bytes, tbs_without_poison: bytes) -> SignedEntry:
        if len(issuer_key_hash) != 32:
            raise ValueError("issuer_key_hash is 32 octets")
        return SignedEntry(EntryType.PRECERT, issuer_key_hash + tls.vector(tbs_without_poison, 3))

    def encode(self) -> bytes:
        return tls.uint(self.entry_type, 2) + self.body


def issuer_key_hash(issuer: x509.Certificate) -> bytes:
    """SHA-256 over the issuer's DER SubjectPublicKeyInfo."""
    spki = issuer.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)
    return hashlib.sha256(spki).digest()


def precert_entry(precertificate_der: bytes, issuer: x509.Certificate) -> SignedEntry:
    """The entry an SCT for this precertificate (or for its final certificate) covers."""
    tbs = x509.load_der_x509_certificate(precertificate_der).tbs_certificate_bytes
    return SignedEntry.precert(issuer_key_hash(issuer), remove_extension(tbs, CT_POISON))


def signed_data(timestamp: int, entry: SignedEntry, extensions: bytes) -> bytes:
    """The octets an SCT's signature covers (RFC 6962 3.2)."""
    return (
        tls.uint(V1, 1)
        + tls.uint(SignatureType.CERTIFICATE_TIMESTAMP, 1)
        + tls.uint(timestamp, 8)
        + entry.encode()
        + tls.vector(extensions, 2)
    )


LogKey = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


def log_key(spki_der: bytes) -> LogKey:
    from cryptography.hazmat.primitives.serialization import load_der_public_key

    key = load_der_public_key(spki_der)
    if isinstance(key, ec.EllipticCurvePublicKey):
        if not isinstance(key.curve, ec.SECP256R1):
            raise ValueError(f"log key on {key.curve.name}; RFC 6962 logs use P-256")
        return key
    if isinstance(key, rsa.RSAPublicKey):
        if key.key_size < 2048:
            raise ValueError(f"RSA log key of {key.key_size} bits; at least 2048 needed")
        return key
    raise ValueError("log key is neither ECDSA P-256 nor RSA")


def log_id_of(spki_der: bytes) -> bytes:
    return hashlib.sha256(spki_der).digest()


def verify_signature(
    key: LogKey, hash_alg: int, sig_alg: int, signature: bytes, data: bytes
) -> None:
    """Raise SctError unless `signature` is the log key's SHA-256 signature over `data`."""
    if hash_alg != HASH_SHA256:
        raise SctError(f"hash algorithm {hash_alg} is not SHA-256")
    try:
        if isinstance(key, ec.EllipticCurvePublicKey):
            if sig_alg != SIG_ECDSA:
                raise SctError(f"signature algorithm {sig_alg} does not match the ECDSA log key")
            key.verify(signature, data, ec.ECDSA(hashes.SHA256()))
        else:
            if sig_alg != SIG_RSA:
                raise SctError(f"signature algorithm {sig_alg} does not match the RSA log key")
            key.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())
    except InvalidSignature:
        raise SctError("signature does not verify with the log key") from None


def verify_sct(sct: Sct, spki_der: bytes, entry: SignedEntry) -> None:
    """Raise SctError unless `sct` comes from the log with this key and covers `entry`."""
    if sct.log_id != log_id_of(spki_der):
        raise SctError(f"log id {sct.log_id.hex()} is not this log's")
    verify_signature(
        log_key(spki_der),
        sct.hash_algorithm,
        sct.signature_algorithm,
        sct.signature,
        signed_data(sct.timestamp, entry, sct.extensions),
    )
