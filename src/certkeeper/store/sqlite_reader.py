"""A read-only SQLite fast path for the OCSP responder's one query.

The responder answers every cache miss with one primary-key lookup. Through SQLAlchemy
(connection checkout, statement cache, result processing) that lookup cost 0.26 ms on
this machine; the same query on a plain `sqlite3` connection cost 0.052 ms (5,000 random
serials of a 1M-serial inventory, measured in one run). An audit of every serial misses
the cache every time, so the difference is the responder's throughput. Each thread gets
its own read-only connection; SQLite's WAL mode lets them read while the writer commits.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from pathlib import Path

from sqlalchemy import Engine

from certkeeper.store.database import SQLITE_BUSY_TIMEOUT_MS

_LOOKUP_SQL = (
    "SELECT serials.state, o.serial, o.issuer_id, o.status, o.der, o.produced_at, "
    "o.this_update, o.next_update, o.not_after "
    "FROM serials LEFT OUTER JOIN ocsp_responses AS o ON o.serial = serials.serial "
    "WHERE serials.serial = ? AND serials.issuer_id = ?"
)

LookupRow = tuple[str, str | None, int | None, str | None, bytes | None, str, str, str, str]


def sqlite_file(engine: Engine) -> Path | None:
    """The database file behind a SQLite engine, or None (another backend, in memory)."""
    if engine.dialect.name != "sqlite":
        return None
    database = engine.url.database
    if not database or database == ":memory:" or database.startswith("file:"):
        return None
    return Path(database)


def parse_time(value: str) -> datetime:
    """A stored UtcDateTime as SQLAlchemy's SQLite dialect writes it (naive UTC text)."""
    parsed = datetime.fromisoformat(value)
    if parsed.tzinfo is None:
        return parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class SqliteLookup:
    """Per-thread read-only connections running the responder lookup."""

    def __init__(self, path: Path) -> None:
        self._uri = f"{path.resolve().as_uri()}?mode=ro"
        self._local = threading.local()

    def _connection(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = sqlite3.connect(
                self._uri, uri=True, timeout=SQLITE_BUSY_TIMEOUT_MS / 1000, check_same_thread=True
            )
            self._local.conn = conn
        return conn

    def lookup(self, serial: str, issuer_id: int) -> LookupRow | None:
        row: LookupRow | None = (
            self._connection().execute(_LOOKUP_SQL, (serial, issuer_id)).fetchone()
        )
        return row
