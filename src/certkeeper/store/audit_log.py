"""The audit log's rows: appended one at a time at the head of the chain, never updated.

Appending reads the head and writes the next entry in one write transaction. Two
writers that read the same head race for the same sequence number (the primary key):
the loser's insert fails and it retries on the new head, so the chain never forks.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select
from sqlalchemy.exc import IntegrityError

from certkeeper.audit_chain import GENESIS, AuditFilter, Entry, chained
from certkeeper.store.database import write_transaction
from certkeeper.store.tables import audit_log

APPEND_ATTEMPTS = 20


class AuditLogStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def append(
        self,
        at: datetime,
        actor: str,
        event: str,
        subject: str,
        serial: str | None,
        detail: Mapping[str, Any],
        also: Callable[[Entry], None] | None = None,
    ) -> Entry:
        """Chain a new entry to the head; `also` runs before the commit (the mirror)."""
        for attempt in range(APPEND_ATTEMPTS):
            try:
                with write_transaction(self.engine) as conn:
                    return self.append_in(conn, at, actor, event, subject, serial, detail, also)
            except IntegrityError:
                if attempt == APPEND_ATTEMPTS - 1:
                    raise
        raise AssertionError("unreachable")

    def append_in(
        self,
        conn: Connection,
        at: datetime,
        actor: str,
        event: str,
        subject: str,
        serial: str | None,
        detail: Mapping[str, Any],
        also: Callable[[Entry], None] | None = None,
    ) -> Entry:
        """Chain a new entry inside the caller's write transaction, so the entry and the
        change it records commit together or not at all. On SQLite the caller's
        `write_transaction` already holds the write lock; elsewhere the table is locked
        so that two appenders never read the same head (a retry would need the caller's
        whole transaction again)."""
        if conn.dialect.name == "postgresql":
            conn.exec_driver_sql("LOCK TABLE audit_log IN SHARE ROW EXCLUSIVE MODE")
        seq, prev = self._head(conn)
        entry = chained(seq + 1, at, actor, event, subject, serial, detail, prev)
        conn.execute(insert(audit_log).values(**_row(entry)))
        if also is not None:
            also(entry)
        return entry

    @staticmethod
    def _head(conn: Connection) -> tuple[int, str]:
        row = conn.execute(
            select(audit_log.c.seq, audit_log.c.hash).order_by(audit_log.c.seq.desc()).limit(1)
        ).first()
        return (0, GENESIS) if row is None else (int(row.seq), str(row.hash))

    def head(self) -> tuple[int, str]:
        with self.engine.connect() as conn:
            return self._head(conn)

    def count(self) -> int:
        with self.engine.connect() as conn:
            return int(conn.execute(select(func.count()).select_from(audit_log)).scalar_one())

    def entries(self, flt: AuditFilter | None = None, batch: int = 5000) -> Iterator[Entry]:
        """Entries in storage order (by sequence number), read in batches."""
        flt = flt or AuditFilter()
        last = 0
        while True:
            query = select(audit_log).where(audit_log.c.seq > last)
            if flt.since is not None:
                query = query.where(audit_log.c.at >= flt.since)
            if flt.until is not None:
                query = query.where(audit_log.c.at < flt.until)
            if flt.actor is not None:
                query = query.where(audit_log.c.actor == flt.actor)
            if flt.event is not None:
                if flt.event.endswith("."):
                    query = query.where(audit_log.c.event.startswith(flt.event, autoescape=True))
                else:
                    query = query.where(audit_log.c.event == flt.event)
            if flt.serial is not None:
                query = query.where(audit_log.c.serial == flt.serial)
            with self.engine.connect() as conn:
                rows = conn.execute(query.order_by(audit_log.c.seq).limit(batch)).all()
            for row in rows:
                yield _entry(row)
            if len(rows) < batch:
                return
            last = int(rows[-1].seq)


def _row(entry: Entry) -> dict[str, Any]:
    return {
        "seq": entry.seq,
        "at": entry.at,
        "actor": entry.actor,
        "event": entry.event,
        "subject": entry.subject,
        "serial": entry.serial,
        "detail": entry.detail,
        "prev_hash": entry.prev_hash,
        "hash": entry.hash,
    }


def _entry(row: Row[Any]) -> Entry:
    return Entry(
        seq=int(row.seq),
        at=row.at,
        actor=row.actor,
        event=row.event,
        subject=row.subject,
        serial=row.serial,
        detail=row.detail,
        prev_hash=row.prev_hash,
        hash=row.hash,
    )
