"""Key identities: the SHA-256 of the DER SubjectPublicKeyInfo, and block lists.

A block list (`certkeeper keys block --file F`) is text holding any mix of PEM blocks
(certificates, CSRs, public keys, unencrypted private keys: a disclosed key is the usual
evidence of compromise) and lines of 64 hexadecimal digits (SPKI SHA-256 values, as
published by compromised-key lists). `#` starts a comment. Pure: bytes in, hashes out.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certkeeper.errors import InputError

_PEM = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----\r?\n(.*?)\r?\n-----END \1-----", re.DOTALL)
_HEX = re.compile(r"[0-9a-fA-F]{64}")


@dataclass(frozen=True)
class KeyEntry:
    spki_sha256: str  # lowercase hex
    what: str  # "certificate line 3", "SPKI hash line 9", ...


def spki_der(key: object) -> bytes:
    """The DER SubjectPublicKeyInfo of a pyca/cryptography public key."""
    return key.public_bytes(  # type: ignore[attr-defined, no-any-return]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def spki_sha256(key: object) -> str:
    return hashlib.sha256(spki_der(key)).hexdigest()


def certificate_spki_sha256(der: bytes) -> str:
    """SPKI SHA-256 of a DER certificate or precertificate."""
    return spki_sha256(x509.load_der_x509_certificate(der).public_key())


def _public_key(kind: bytes, block: bytes) -> object:
    if kind == b"CERTIFICATE":
        return x509.load_pem_x509_certificate(block).public_key()
    if kind in (b"CERTIFICATE REQUEST", b"NEW CERTIFICATE REQUEST"):
        return x509.load_pem_x509_csr(block).public_key()
    if kind in (b"PUBLIC KEY", b"RSA PUBLIC KEY"):
        return serialization.load_pem_public_key(block)
    if kind in (b"PRIVATE KEY", b"RSA PRIVATE KEY", b"EC PRIVATE KEY"):
        return serialization.load_pem_private_key(block, password=None).public_key()
    raise ValueError(f"a {kind.decode()} block holds no key this list can use")


def parse_block_list(data: bytes, source: str) -> list[KeyEntry]:
    """Every key named in `data`; any entry that is not a key is an InputError naming it."""
    entries: list[KeyEntry] = []
    rest = bytearray(data)
    for match in _PEM.finditer(data):
        line = data.count(b"\n", 0, match.start()) + 1
        kind = match.group(1)
        what = f"{kind.decode().lower()} at line {line}"
        try:
            key = _public_key(kind, match.group(0))
        except (ValueError, TypeError) as exc:
            raise InputError(f"{source}: {what}: {exc}") from None
        entries.append(KeyEntry(spki_sha256(key), what))
        rest[match.start() : match.end()] = b" " * (match.end() - match.start())
    for number, raw in enumerate(bytes(rest).decode("utf-8", "replace").splitlines(), 1):
        text = raw.split("#", 1)[0].strip()
        if not text:
            continue
        if not _HEX.fullmatch(text):
            raise InputError(
                f"{source}: line {number}: {text[:40]!r} is neither a PEM block nor an SPKI "
                "SHA-256 (64 hexadecimal digits)"
            )
        entries.append(KeyEntry(text.lower(), f"SPKI hash at line {number}"))
    if not entries:
        raise InputError(f"{source}: no keys, certificates, CSRs or SPKI hashes found")
    return entries
