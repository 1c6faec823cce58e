"""What a backup carries for the auditor: the audit log's mirror and the ceremony
transcript, and the checks a restore makes of them.

The mirror is copied before the inventory. An entry reaches the mirror before its
transaction commits, so every line of that copy is in the database snapshot taken
after it (but for an entry whose commit was still under way: its line is dropped):
the restored log is never behind the mirror. Entries committed between the two copies
are then taken from the live mirror, up to the snapshot's last entry, so the restored
log and mirror agree line for line. A mirror kept outside the home is
carried in MIRROR_DIR. A root home has no inventory; its transcript is verified with
its public key when it is restored.
"""

from __future__ import annotations

import json
import os
import sqlite3
from dataclasses import dataclass
from pathlib import Path

from certkeeper.config import Config, load_config

MIRROR_DIR = "audit-log-mirror"


@dataclass(frozen=True)
class MirrorCopy:
    rel: str  # where the copy is in the backup
    source: Path
    copied_bytes: int  # of the live mirror, whole lines only


def mirror_of(config: Config) -> Path | None:
    mirror = config.audit_log.mirror
    return mirror.resolve() if mirror is not None and mirror.is_file() else None


def copy_mirror(config: Config, target: Path) -> MirrorCopy | None:
    """Copy the mirror's whole lines (a line being written is left for the top-up)."""
    source = mirror_of(config)
    if source is None:
        return None
    home = config.home.resolve()
    if source.is_relative_to(home):
        rel = f"home/{source.relative_to(home).as_posix()}"
    else:
        rel = f"{MIRROR_DIR}/{source.name}"
    data = source.read_bytes()
    data = data[: data.rfind(b"\n") + 1]
    dest = target / rel
    dest.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(dest, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as out:
        out.write(data)
    return MirrorCopy(rel, source, len(data))


def settle_mirror(copy: MirrorCopy, target: Path, snapshot: Path) -> None:
    """Make the mirror's copy end where the database snapshot ends: lines of entries
    still uncommitted when the snapshot was taken are dropped from its end (the live
    mirror keeps them), and lines of entries committed since the copy are taken from
    the live mirror."""
    head = _snapshot_head(snapshot)
    if head is None:
        return
    path = target / copy.rel
    lines = path.read_bytes().split(b"\n")[:-1]
    beyond = 0
    while beyond < len(lines) and (_seq(lines[-1 - beyond]) or 0) > head:
        beyond += 1
    if not beyond:
        with copy.source.open("rb") as live:
            live.seek(copy.copied_bytes)
            for line in live.read().split(b"\n")[:-1]:
                seq = _seq(line)
                if seq is None or seq > head:
                    break
                lines.append(line)
    path.write_bytes(b"".join(line + b"\n" for line in lines[: len(lines) - beyond]))


def _seq(line: bytes) -> int | None:
    try:
        seq = json.loads(line).get("seq")
    except (ValueError, AttributeError):
        return None
    return seq if isinstance(seq, int) else None


def _snapshot_head(database: Path) -> int | None:
    # immutable: the copy is read as it is, leaving no -wal or -shm file in the backup
    conn = sqlite3.connect(f"file:{database}?mode=ro&immutable=1", uri=True)
    try:
        (head,) = conn.execute("SELECT max(seq) FROM audit_log").fetchone()
    except sqlite3.DatabaseError:
        return None  # a schema from before the audit log
    finally:
        conn.close()
    return None if head is None else int(head)


def restored_log_problems(home: Path, mirror: Path | None) -> list[str]:
    """The restored inventory's audit log: its chain, and its agreement with `mirror`."""
    from certkeeper.auditlog.log import AuditLog
    from certkeeper.store.audit_log import AuditLogStore
    from certkeeper.store.database import connect

    config = load_config(home)
    engine = connect(config.database_url)
    try:
        log = AuditLog(AuditLogStore(engine), config.audit_log)
        problems = [p.message for p in log.verify().problems or ()]
        if mirror is not None and mirror.is_file():
            problems += [p.message for p in log.check_mirror(mirror).problems]
    finally:
        engine.dispose()
    return problems


def transcript_problems(root: Path) -> list[str]:
    """A restored root home's ceremony transcript, checked with its public key."""
    from certkeeper.ca import transcript

    path, key = root / transcript.TRANSCRIPT, root / transcript.TRANSCRIPT_PUB
    if not path.is_file() and not key.is_file():
        return []  # no ceremony has written one yet
    if not path.is_file() or not key.is_file():
        return [f"the transcript or its public key is missing from {root}"]
    return list(transcript.verify(path, key.read_bytes()).problems)
