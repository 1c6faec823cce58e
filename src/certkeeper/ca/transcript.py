"""The key ceremony transcript: who did what to the root, hash-chained and signed.

Every ceremony command appends one entry: operator, witnesses, time, the command, and
what it made or touched (key identifiers, certificate and CRL SHA-256). Each entry is
chained to the one before (as the audit log is) and signed by the transcript key, an
Ed25519 key made with the root and kept (encrypted) in the root home. Its public key
is written beside the transcript and given to the auditor at the first ceremony, so
`ceremony verify` detects any edit, deletion, reordering or re-signing with another key.
"""

from __future__ import annotations

import hashlib
import json
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey, Ed25519PublicKey

from certkeeper.audit_chain import GENESIS, canonical_json, time_text
from certkeeper.errors import ConfigError, InputError

TRANSCRIPT = "transcript.jsonl"
TRANSCRIPT_KEY = "keys/transcript.key.pem"
TRANSCRIPT_PUB = "transcript-key.pub.pem"


def check_people(operator: str, witnesses: Sequence[str]) -> tuple[str, tuple[str, ...]]:
    """A ceremony needs an operator and at least one witness who is someone else."""
    op = operator.strip()
    if not op:
        raise InputError("a ceremony needs --operator NAME")
    named = tuple(dict.fromkeys(w.strip() for w in witnesses if w.strip()))
    if not named:
        raise InputError("a ceremony needs at least one --witness NAME")
    if op in named:
        raise InputError(f"--witness {op!r} is the operator; a witness is another person")
    for name in (op, *named):
        if len(name) > 128 or not name.isprintable():
            raise InputError(f"name {name!r}: 1-128 printable characters")
    return op, named


def new_transcript_key(root_dir: Path, passphrase: bytes) -> str:
    """Make the transcript key; returns its public key's SHA-256 (hex, over the SPKI)."""
    key = Ed25519PrivateKey.generate()
    pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.BestAvailableEncryption(passphrase),
    )
    path = root_dir / TRANSCRIPT_KEY
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(pem)
    pub = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    (root_dir / TRANSCRIPT_PUB).write_bytes(pub)
    return key_id(key.public_key())


def key_id(public_key: Ed25519PublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def _load_key(root_dir: Path, passphrase: bytes) -> Ed25519PrivateKey:
    try:
        key = serialization.load_pem_private_key(
            (root_dir / TRANSCRIPT_KEY).read_bytes(), passphrase
        )
    except OSError as exc:
        raise ConfigError(f"cannot read the transcript key: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise ConfigError("the transcript key does not open with this passphrase") from None
    if not isinstance(key, Ed25519PrivateKey):
        raise ConfigError(f"{TRANSCRIPT_KEY} is not an Ed25519 key")
    return key


def _digest(body: Mapping[str, Any]) -> str:
    return hashlib.sha256(canonical_json(dict(body)).encode("ascii")).hexdigest()


def append(
    root_dir: Path,
    passphrase: bytes,
    *,
    command: str,
    operator: str,
    witnesses: Sequence[str],
    at: datetime,
    detail: Mapping[str, Any],
) -> dict[str, Any]:
    """Chain, sign and append one entry (fsynced); returns it."""
    key = _load_key(root_dir, passphrase)
    entries = read(root_dir / TRANSCRIPT)
    prev = entries[-1]["hash"] if entries else GENESIS
    body = {
        "seq": len(entries) + 1,
        "at": time_text(at),
        "command": command,
        "operator": operator,
        "witnesses": list(witnesses),
        "detail": dict(detail),
        "prev_hash": prev,
    }
    body = json.loads(canonical_json(body))  # exactly what a reader will parse back
    digest = _digest(body)
    entry = {**body, "hash": digest, "signature": key.sign(bytes.fromhex(digest)).hex()}
    fd = os.open(root_dir / TRANSCRIPT, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    try:
        os.write(fd, (canonical_json(entry) + "\n").encode("ascii"))
        os.fsync(fd)
    finally:
        os.close(fd)
    return entry


def read(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    out = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        try:
            value = json.loads(line)
        except ValueError:
            raise InputError(f"{path}:{number}: not a JSON line") from None
        if not isinstance(value, dict):
            raise InputError(f"{path}:{number}: not a JSON object")
        out.append(value)
    return out


@dataclass(frozen=True)
class TranscriptCheck:
    entries: int
    problems: tuple[str, ...]
    key_id: str

    @property
    def ok(self) -> bool:
        return not self.problems and self.entries > 0


def verify(path: Path, public_key_pem: bytes) -> TranscriptCheck:
    """Every entry's hash, link, sequence number and signature, against the key the
    auditor holds."""
    try:
        public_key = serialization.load_pem_public_key(public_key_pem)
    except ValueError:
        raise InputError("the transcript public key is not a PEM public key") from None
    if not isinstance(public_key, Ed25519PublicKey):
        raise InputError("the transcript public key is not an Ed25519 key")
    problems: list[str] = []
    prev = GENESIS
    entries = read(path)
    for position, entry in enumerate(entries, 1):
        body = {k: v for k, v in entry.items() if k not in ("hash", "signature")}
        seq = entry.get("seq")
        if seq != position:
            problems.append(f"entry {position}: numbered {seq!r} (deleted or reordered entry)")
        if entry.get("prev_hash") != prev:
            problems.append(f"entry {position}: does not link to the entry before it")
        digest = _digest(body)
        if digest != entry.get("hash"):
            problems.append(f"entry {position}: content does not match its hash (edited)")
        try:
            public_key.verify(bytes.fromhex(str(entry.get("signature", ""))), bytes.fromhex(digest))
        except (InvalidSignature, ValueError):
            problems.append(f"entry {position}: signature does not verify with the transcript key")
        prev = str(entry.get("hash", ""))
    if not entries:
        problems.append(f"{path}: no entries")
    return TranscriptCheck(len(entries), tuple(problems), key_id(public_key))


def now_utc() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
