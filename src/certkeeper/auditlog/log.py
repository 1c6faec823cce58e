"""Appending to the audit log, mirroring each entry, and verifying the chain.

Every entry goes to the inventory (the chain) and, in the same write transaction, to
the mirror: a JSON-lines file (append-only, locked so concurrent writers never
interleave) and/or syslog. An entry whose mirror cannot be written is not committed:
an event the CA cannot record twice is an error, not a silent gap.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Callable, Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certkeeper.audit_chain import (
    AuditFilter,
    Checkpoint,
    Entry,
    Problem,
    Verification,
    canonical_json,
    verify,
)
from certkeeper.errors import ConfigError, InputError
from certkeeper.settings.audit_log import AuditLogSettings
from certkeeper.store.audit_log import AuditLogStore

if TYPE_CHECKING:
    from sqlalchemy import Connection

MAX_FIELD = 4096  # subject and actor are names, not documents


@dataclass
class MirrorCheck:
    """How the mirror file compares with the chain in the inventory."""

    lines: int = 0
    problems: list[Problem] = field(default_factory=list)


class AuditLog:
    def __init__(
        self,
        store: AuditLogStore,
        settings: AuditLogSettings,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self.store = store
        self.settings = settings
        self.clock = clock

    def append(
        self,
        event: str,
        subject: str,
        actor: str,
        *,
        serial: str | None = None,
        detail: Mapping[str, Any] | None = None,
        at: datetime | None = None,
        conn: Connection | None = None,
    ) -> Entry:
        """Append one entry; with `conn`, inside that (write) transaction."""
        when = (at or self.clock()).astimezone(UTC).replace(microsecond=0)
        fields = (when, actor[:128], event[:64], subject[:MAX_FIELD], serial, detail or {})
        if conn is not None:
            return self.store.append_in(conn, *fields, also=self._mirror)
        return self.store.append(*fields, also=self._mirror)

    def _mirror(self, entry: Entry) -> None:
        line = canonical_json(entry.to_dict())
        if self.settings.mirror is not None:
            _append_line(self.settings.mirror, line)
        if self.settings.syslog:
            import syslog

            syslog.openlog("certkeeper", 0, syslog.LOG_AUTHPRIV)
            syslog.syslog(syslog.LOG_INFO, f"audit {line}")

    def entries(self, flt: AuditFilter | None = None) -> Iterator[Entry]:
        return self.store.entries(flt)

    def checkpoint(self) -> Checkpoint:
        """The head of the chain now (seq 0 and the genesis hash for an empty log)."""
        seq, digest = self.store.head()
        return Checkpoint(seq, digest, self.clock().astimezone(UTC).replace(microsecond=0))

    def verify(self, checkpoints: Iterable[Checkpoint] = ()) -> Verification:
        return verify(self.store.entries(), checkpoints)

    def check_mirror(self, path: Path) -> MirrorCheck:
        """Every mirrored line must equal the chain's entry of the same number, and the
        chain's entries must all be there (from the mirror's first line on)."""
        result = MirrorCheck()
        by_seq: dict[int, dict[str, Any]] = {}
        for number, data in _read_lines(path):
            result.lines += 1
            seq = data.get("seq")
            if not isinstance(seq, int):
                result.problems.append(Problem(0, "mirror", f"{path}:{number}: no seq"))
                continue
            by_seq[seq] = data
        first = min(by_seq, default=None)
        for entry in self.store.entries():
            if first is None or entry.seq < first:
                continue
            mirrored = by_seq.pop(entry.seq, None)
            if mirrored is None:
                result.problems.append(
                    Problem(entry.seq, "mirror", f"entry {entry.seq} is not in {path}")
                )
            elif mirrored != entry.to_dict():
                result.problems.append(
                    Problem(entry.seq, "mirror", f"entry {entry.seq} differs from {path}")
                )
        for seq in sorted(by_seq):
            result.problems.append(
                Problem(seq, "mirror", f"{path} has entry {seq}, the inventory does not")
            )
        return result


def _append_line(path: Path, line: str) -> None:
    try:
        fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    except OSError as exc:
        raise ConfigError(f"cannot open the audit log mirror {path}: {exc.strerror}") from None
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        data = (line + "\n").encode("ascii")
        written = os.write(fd, data)
        if written != len(data):
            raise ConfigError(f"short write to the audit log mirror {path}")
        os.fsync(fd)
    except OSError as exc:
        raise ConfigError(f"cannot write the audit log mirror {path}: {exc.strerror}") from None
    finally:
        os.close(fd)


def _read_lines(path: Path) -> Iterator[tuple[int, dict[str, Any]]]:
    try:
        fh = path.open(encoding="utf-8")
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None
    with fh:
        for number, line in enumerate(fh, 1):
            if not line.strip():
                continue
            try:
                data = json.loads(line)
            except ValueError:
                raise InputError(f"{path}:{number}: not a JSON line") from None
            if not isinstance(data, dict):
                raise InputError(f"{path}:{number}: not a JSON object")
            yield number, data
