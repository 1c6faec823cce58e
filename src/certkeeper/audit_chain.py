"""Hash chaining of audit-log entries, and its verification. Pure: values in, values out.

Outside `auditlog/` because the store writes the chain: the store depends on these
values, and the audit log's services depend on the store.

Entry n's hash is SHA-256 over a canonical JSON array of its sequence number, time,
actor, event, subject, serial, detail and the hash of entry n-1 (entry 1 chains to
GENESIS). So an edited entry no longer matches its own hash, a deleted or reordered
entry breaks the sequence and the link to its predecessor, and a chain rewritten from
some point on no longer ends in a checkpoint hash exported before the rewrite.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

GENESIS = "0" * 64


def canonical_json(value: Any) -> str:
    """The one JSON spelling of `value`: sorted keys, no spaces, ASCII only; times as
    `time_text`, anything else JSON lacks as its str()."""
    return json.dumps(
        value, sort_keys=True, separators=(",", ":"), ensure_ascii=True, default=_plain
    )


def _plain(value: object) -> str:
    return time_text(value) if isinstance(value, datetime) else str(value)


def time_text(at: datetime) -> str:
    """UTC, whole seconds, ISO 8601 with a Z: the spelling hashed and mirrored."""
    return at.astimezone(UTC).replace(microsecond=0).strftime("%Y-%m-%dT%H:%M:%SZ")


@dataclass(frozen=True)
class Entry:
    seq: int
    at: datetime
    actor: str
    event: str
    subject: str
    serial: str | None
    detail: str  # canonical JSON of a mapping
    prev_hash: str
    hash: str

    def detail_dict(self) -> dict[str, Any]:
        value = json.loads(self.detail)
        return value if isinstance(value, dict) else {"value": value}

    def to_dict(self) -> dict[str, Any]:
        """The entry as mirrored (one JSON line) and shown with --format json."""
        return {
            "seq": self.seq,
            "at": time_text(self.at),
            "actor": self.actor,
            "event": self.event,
            "subject": self.subject,
            "serial": self.serial,
            "detail": self.detail_dict(),
            "prev_hash": self.prev_hash,
            "hash": self.hash,
        }


def entry_hash(entry: Entry) -> str:
    """SHA-256 over everything in the entry but its own hash, the link included."""
    material = canonical_json(
        [
            entry.seq,
            time_text(entry.at),
            entry.actor,
            entry.event,
            entry.subject,
            entry.serial,
            entry.detail,
            entry.prev_hash,
        ]
    )
    return hashlib.sha256(material.encode("ascii")).hexdigest()


def chained(
    seq: int,
    at: datetime,
    actor: str,
    event: str,
    subject: str,
    serial: str | None,
    detail: Mapping[str, Any],
    prev_hash: str,
) -> Entry:
    """The entry that follows `prev_hash` at position `seq`."""
    entry = Entry(
        seq, at, actor, event, subject, serial, canonical_json(dict(detail)), prev_hash, ""
    )
    return replace(entry, hash=entry_hash(entry))


@dataclass(frozen=True)
class AuditFilter:
    """Which entries to read: every condition given must hold."""

    since: datetime | None = None
    until: datetime | None = None
    actor: str | None = None
    event: str | None = None  # exact name, or a prefix ending in "." ("ca." for all CA events)
    serial: str | None = None


@dataclass(frozen=True)
class Checkpoint:
    """The chain's head at one moment, exported so a later rewrite can be detected."""

    seq: int
    hash: str
    at: datetime

    def to_dict(self) -> dict[str, Any]:
        return {"seq": self.seq, "hash": self.hash, "at": time_text(self.at)}

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Checkpoint:
        seq, digest, at = data.get("seq"), data.get("hash"), data.get("at")
        if not isinstance(seq, int) or seq < 0:
            raise ValueError("seq is not a non-negative integer")
        if not isinstance(digest, str) or len(digest) != 64:
            raise ValueError("hash is not 64 hexadecimal digits")
        try:
            int(digest, 16)
        except ValueError:
            raise ValueError("hash is not 64 hexadecimal digits") from None
        if not isinstance(at, str):
            raise ValueError("at is missing")
        try:
            when = datetime.fromisoformat(at.replace("Z", "+00:00"))
        except ValueError:
            raise ValueError(f"at {at!r} is not an ISO 8601 time") from None
        if when.tzinfo is None:
            raise ValueError(f"at {at!r} has no time zone")
        return cls(seq, digest.lower(), when)


@dataclass(frozen=True)
class Problem:
    seq: int
    kind: str  # edited | missing | out-of-order | broken-link | checkpoint
    message: str


@dataclass
class Verification:
    entries: int = 0
    head: Checkpoint | None = None
    problems: list[Problem] | None = None

    @property
    def ok(self) -> bool:
        return not self.problems


def verify(entries: Iterable[Entry], checkpoints: Iterable[Checkpoint] = ()) -> Verification:
    """Walk the chain in storage order and name every break.

    An edited entry fails its own hash; a deleted one leaves a gap in the sequence; a
    reordered one arrives out of sequence or links to the wrong predecessor. Each
    checkpoint must match the entry at its position (a rewritten or truncated chain)."""
    wanted = {c.seq: c for c in checkpoints}
    problems: list[Problem] = []
    expected_seq, prev_hash = 1, GENESIS
    result = Verification(problems=problems)
    last: Entry | None = None
    for entry in entries:
        result.entries += 1
        if entry_hash(entry) != entry.hash:
            problems.append(
                Problem(entry.seq, "edited", f"entry {entry.seq}: content does not match its hash")
            )
        if entry.seq > expected_seq:
            missing = (
                f"{expected_seq}"
                if entry.seq == expected_seq + 1
                else (f"{expected_seq}-{entry.seq - 1}")
            )
            problems.append(Problem(entry.seq, "missing", f"entries {missing} are missing"))
        elif entry.seq < expected_seq:
            problems.append(
                Problem(
                    entry.seq,
                    "out-of-order",
                    f"entry {entry.seq} comes after entry {expected_seq - 1}",
                )
            )
        if entry.prev_hash != prev_hash:
            problems.append(
                Problem(
                    entry.seq,
                    "broken-link",
                    f"entry {entry.seq} does not link to the entry stored before it",
                )
            )
        checkpoint = wanted.pop(entry.seq, None)
        if checkpoint is not None and checkpoint.hash != entry.hash:
            problems.append(
                Problem(
                    entry.seq,
                    "checkpoint",
                    f"entry {entry.seq} differs from the checkpoint of "
                    f"{time_text(checkpoint.at)}: the chain was rewritten",
                )
            )
        expected_seq, prev_hash, last = max(expected_seq, entry.seq + 1), entry.hash, entry
    for checkpoint in wanted.values():
        if checkpoint.seq == 0 and checkpoint.hash == GENESIS:
            continue
        problems.append(
            Problem(
                checkpoint.seq,
                "checkpoint",
                f"entry {checkpoint.seq} of the checkpoint of {time_text(checkpoint.at)} is "
                "gone: the log was truncated",
            )
        )
    if last is not None:
        result.head = Checkpoint(last.seq, last.hash, last.at)
    return result
