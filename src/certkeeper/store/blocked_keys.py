"""Blocked keys (BR 6.1.1.3 item 4) and the hierarchy's public/non-public marker.

A key is blocked by the SHA-256 of its DER SubjectPublicKeyInfo. Rows are only ever
added: a key once known compromised stays refused. `block_serials` runs inside the
caller's transaction, so a keyCompromise revocation and the block commit together.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, func, insert, select

from certkeeper.keys.spki import certificate_spki_sha256
from certkeeper.store.database import write_transaction
from certkeeper.store.tables import blocked_keys, certificates, hierarchy, precertificates

# SQLite allows 999 bound parameters per statement; stay well under it.
_CHUNK = 500


@dataclass(frozen=True)
class BlockedKey:
    spki_sha256: str
    source: str  # revocation | acme-revocation | operator
    detail: str
    serial: str | None
    blocked_at: datetime


def _existing(conn: Connection, hashes: Sequence[str]) -> set[str]:
    found: set[str] = set()
    for start in range(0, len(hashes), _CHUNK):
        part = hashes[start : start + _CHUNK]
        query = select(blocked_keys.c.spki_sha256).where(blocked_keys.c.spki_sha256.in_(part))
        found.update(conn.execute(query).scalars())
    return found


def add_blocks(conn: Connection, entries: Iterable[BlockedKey]) -> int:
    """Insert the entries not yet blocked (first reason wins); returns how many were new."""
    wanted: dict[str, BlockedKey] = {}
    for entry in entries:
        wanted.setdefault(entry.spki_sha256, entry)
    known = _existing(conn, list(wanted))
    new = [e for h, e in wanted.items() if h not in known]
    if new:
        conn.execute(
            insert(blocked_keys),
            [
                {
                    "spki_sha256": e.spki_sha256,
                    "source": e.source,
                    "detail": e.detail,
                    "serial": e.serial,
                    "blocked_at": e.blocked_at,
                }
                for e in new
            ],
        )
    return len(new)


def block_serials(
    conn: Connection, serials: Sequence[str], *, source: str, detail: str, now: datetime
) -> int:
    """Block the keys of these serials' certificates (else precertificates), in `conn`."""
    ders: dict[str, bytes] = {}
    for table in (certificates, precertificates):
        for start in range(0, len(serials), _CHUNK):
            part = [s for s in serials[start : start + _CHUNK] if s not in ders]
            if not part:
                continue
            query = select(table.c.serial, table.c.der).where(table.c.serial.in_(part))
            for serial, der in conn.execute(query):
                ders.setdefault(serial, der)
    return add_blocks(
        conn,
        (
            BlockedKey(certificate_spki_sha256(der), source, detail, serial, now)
            for serial, der in sorted(ders.items())
        ),
    )


class BlockedKeyStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def add(
        self,
        entries: Sequence[BlockedKey],
        also: Callable[[Connection, int], None] | None = None,
    ) -> int:
        """Block the keys; `also(conn, added)` runs in the same transaction (audit log)."""
        with write_transaction(self.engine) as conn:
            added = add_blocks(conn, entries)
            if also is not None:
                also(conn, added)
            return added

    def get(self, spki_sha256: str) -> BlockedKey | None:
        query = select(blocked_keys).where(blocked_keys.c.spki_sha256 == spki_sha256)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            return None
        m = row._mapping
        return BlockedKey(m["spki_sha256"], m["source"], m["detail"], m["serial"], m["blocked_at"])

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(blocked_keys)).scalar_one())


class HierarchyStore:
    """Whether the hierarchy in this database was created public (written once by init)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(self, public: bool, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(insert(hierarchy).values(id=1, public=public, created_at=now))

    def public(self) -> bool | None:
        """True/False as recorded; None for a home created before the marker existed."""
        with self.engine.connect() as conn:
            value = conn.execute(select(hierarchy.c.public).where(hierarchy.c.id == 1)).scalar()
        return None if value is None else bool(value)
