"""Log entries (RFC 6962 3.4, 4.6): a `get-entries` item back to what was logged. Pure.

A precertificate entry carries the issuer's key hash and the TBS the log signed; its
`extra_data` holds the precertificate as submitted and the chain. An X.509 entry
carries the certificate; its chain is in `extra_data`.
"""

from __future__ import annotations

from dataclasses import dataclass

from certkeeper.ct import merkle, tls
from certkeeper.ct.sct import V1, EntryType, Sct, SignedEntry
from certkeeper.ct.tls import Reader, TlsDecodeError


@dataclass(frozen=True)
class LoggedEntry:
    index: int
    timestamp: int  # milliseconds
    entry: SignedEntry  # what the SCT signature covered
    der: bytes  # the certificate, or the precertificate as submitted
    chain: tuple[bytes, ...]  # issuer first

    @property
    def precertificate(self) -> bool:
        return self.entry.entry_type == EntryType.PRECERT

    @property
    def issuer_key_hash(self) -> bytes | None:
        return self.entry.body[:32] if self.precertificate else None


def leaf_input(timestamp: int, entry: SignedEntry, extensions: bytes = b"") -> bytes:
    """MerkleTreeLeaf (RFC 6962 3.4): v1, timestamped_entry."""
    return (
        tls.uint(V1, 1)
        + tls.uint(0, 1)
        + tls.uint(timestamp, 8)
        + entry.encode()
        + tls.vector(extensions, 2)
    )


def sct_leaf_hash(sct: Sct, entry: SignedEntry) -> bytes:
    """The Merkle leaf hash of the log entry an SCT promises: what `get-proof-by-hash`
    looks up, and how an auditor finds the entry in the log."""
    return merkle.leaf_hash(leaf_input(sct.timestamp, entry, sct.extensions))


def parse_entry(index: int, leaf_input: bytes, extra_data: bytes) -> LoggedEntry:
    r = Reader(leaf_input, f"entry {index} leaf_input")
    version, leaf_type = r.uint(1), r.uint(1)
    if version != 0 or leaf_type != 0:
        raise TlsDecodeError(f"entry {index}: MerkleTreeLeaf v{version} type {leaf_type}")
    timestamp = r.uint(8)
    kind = r.uint(2)
    if kind == EntryType.X509:
        entry = SignedEntry.x509(r.vector(3))
    elif kind == EntryType.PRECERT:
        key_hash = r.take(32)
        entry = SignedEntry.precert(key_hash, r.vector(3))
    else:
        raise TlsDecodeError(f"entry {index}: unknown entry type {kind}")
    r.vector(2)  # CtExtensions
    r.done()
    x = Reader(extra_data, f"entry {index} extra_data")
    der = x.vector(3) if kind == EntryType.PRECERT else entry.body[3:]
    chain = _certs(Reader(x.vector(3), f"entry {index} chain"))
    x.done()
    return LoggedEntry(index, timestamp, entry, der, chain)


def _certs(r: Reader) -> tuple[bytes, ...]:
    out = []
    while r.remaining():
        out.append(r.vector(3))
    return tuple(out)
