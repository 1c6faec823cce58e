"""Opening the inventory database and keeping its schema current.

SQLite is the default (one file in the CA home); PostgreSQL is chosen by URL. Several
processes write at once (issuance runs worker processes), so SQLite runs in WAL mode
with a busy timeout, and writes start with ``BEGIN IMMEDIATE`` (see `write_transaction`):
a deferred transaction that reads and then writes can fail at once with "database is
locked" instead of waiting for the other writer.
"""

from __future__ import annotations

import contextlib
import os
import re
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Connection, Engine, create_engine, event
from sqlalchemy.engine import URL, make_url
from sqlalchemy.exc import (
    ArgumentError,
    DBAPIError,
    InterfaceError,
    NoSuchModuleError,
    OperationalError,
)
from sqlalchemy.exc import TimeoutError as PoolTimeout

from certkeeper.errors import ConfigError

MIGRATIONS_DIR = Path(__file__).resolve().parent / "migrations"

# How long a SQLite writer waits for another process's write lock before giving up.
SQLITE_BUSY_TIMEOUT_MS = 30_000


def sqlite_url(path: Path) -> str:
    """The SQLAlchemy URL of a SQLite file (absolute, so the working directory is moot)."""
    return URL.create("sqlite", database=str(Path(path).resolve())).render_as_string()


def connect(url: str, *, probe: bool = True) -> Engine:
    """An engine for `url`, checked by connecting once (unless `probe` is False).

    A malformed URL, an unsupported backend or an unreachable database raises
    ConfigError with one line naming the database (never its password)."""
    parsed = _parse_url(url)
    shown = parsed.render_as_string(hide_password=True)
    try:
        if parsed.get_backend_name() == "sqlite":
            engine = _sqlite_engine(parsed)
        else:
            engine = create_engine(parsed, pool_pre_ping=True)
    except (ArgumentError, NoSuchModuleError, ValueError, TypeError) as exc:
        raise ConfigError(f"invalid database URL {shown}: {_first_line(exc)}") from None
    if not probe:
        return engine
    try:
        with engine.connect():
            pass
    except DBAPIError as exc:
        engine.dispose()
        reason = _first_line(exc.orig) if exc.orig is not None else _first_line(exc)
        raise ConfigError(f"cannot open database {shown}: {reason}") from None
    return engine


def _parse_url(url: str) -> URL:
    try:
        parsed = make_url(url)
    except (ArgumentError, ValueError) as exc:
        reason = _first_line(exc).replace(url, masked_url(url))
        raise ConfigError(f"invalid database URL {masked_url(url)!r}: {reason}") from None
    backend = parsed.get_backend_name()
    if backend == "postgres":
        backend = "postgresql"
    if backend == "postgresql":
        # psycopg 3 is the one PostgreSQL driver certkeeper depends on.
        return parsed.set(drivername="postgresql+psycopg")
    if backend == "sqlite":
        if parsed.get_driver_name() not in ("pysqlite", ""):
            raise ConfigError(f"unsupported SQLite driver in database URL {masked_url(url)!r}")
        return parsed
    shown = parsed.render_as_string(hide_password=True)
    raise ConfigError(f"unsupported database {shown}: use sqlite:///PATH or postgresql://...")


def _create_private(path: Path) -> None:
    """Create a new database file 0600 (only the CA's user reads the inventory); SQLite
    gives its -wal and -shm files the same mode. An existing file is left as it is."""
    # exists already; or no directory, no permission: connect() names the problem
    with contextlib.suppress(OSError):
        os.close(os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600))


_PASSWORD = re.compile(r"(?P<head>://[^/?#@]*?:)[^/?#]*@")


def masked_url(url: str) -> str:
    """The database URL as it may be printed or logged: any password replaced by ***
    (also in a URL too malformed to parse)."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except (ArgumentError, ValueError):
        return _PASSWORD.sub(r"\g<head>***@", url)


def _sqlite_engine(url: URL) -> Engine:
    if url.database not in (None, "", ":memory:") and not url.database.startswith("file:"):
        _create_private(Path(url.database))
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: Any, _record: Any) -> None:
        cursor = dbapi_connection.cursor()
        try:
            cursor.execute("PRAGMA foreign_keys = ON")
            cursor.execute(f"PRAGMA busy_timeout = {SQLITE_BUSY_TIMEOUT_MS}")
            if url.database not in (None, "", ":memory:"):
                cursor.execute("PRAGMA journal_mode = WAL")
                cursor.execute("PRAGMA synchronous = NORMAL")
        finally:
            cursor.close()

    return engine


# What a database outage raises (server down, connection lost, pool exhausted), as
# opposed to a bug or a constraint: callers answer "try later", not "internal error".
UNAVAILABLE_ERRORS: tuple[type[Exception], ...] = (OperationalError, InterfaceError, PoolTimeout)


def ping(engine: Engine) -> None:
    """One round trip; raises one of UNAVAILABLE_ERRORS while the database is away."""
    with engine.connect() as conn:
        conn.exec_driver_sql("SELECT 1")


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


@contextmanager
def write_transaction(engine: Engine) -> Iterator[Connection]:
    """One read-write transaction: commits on success, rolls back on any exception.

    On SQLite it takes the write lock up front (``BEGIN IMMEDIATE``) so that reads made
    inside it cannot go stale and so that a busy database is waited for, not failed."""
    with engine.begin() as conn:
        if conn.dialect.name == "sqlite":
            conn.exec_driver_sql("BEGIN IMMEDIATE")
        yield conn


def _alembic_config(connection: Connection) -> Config:
    """Alembic configured in code: works from an installed package, no alembic.ini."""
    config = Config()
    config.set_main_option("script_location", str(MIGRATIONS_DIR).replace("%", "%%"))
    config.attributes["connection"] = connection
    return config


def migrate(engine: Engine) -> None:
    """Upgrade the schema to the newest revision; a no-op when it is already there."""
    with engine.begin() as conn:
        command.upgrade(_alembic_config(conn), "head")


def head_revision() -> str:
    """The newest migration revision this version of certkeeper ships."""
    heads = ScriptDirectory(str(MIGRATIONS_DIR)).get_heads()
    if len(heads) != 1:
        raise RuntimeError(f"the migrations have {len(heads)} heads; they must form one line")
    return str(heads[0])


def schema_is_current(engine: Engine) -> bool:
    """True when the database is at the newest migration revision (and only that one)."""
    heads = {head_revision()}
    with engine.connect() as conn:
        current = set(MigrationContext.configure(conn).get_current_heads())
    return current == heads


def current_revision(engine: Engine) -> str | None:
    """The database's migration revision, None for a database never migrated."""
    with engine.connect() as conn:
        return MigrationContext.configure(conn).get_current_revision()


def known_revisions() -> set[str]:
    """Every migration revision this version of certkeeper ships."""
    return {r.revision for r in ScriptDirectory(str(MIGRATIONS_DIR)).walk_revisions()}


def check_upgradable(engine: Engine) -> str | None:
    """The database's revision, refusing one this code does not know.

    A revision missing from our migrations was written by a newer certkeeper: running
    older code against it could drop or misread columns, so it is refused by name."""
    current = current_revision(engine)
    if current is not None and current not in known_revisions():
        raise ConfigError(
            f"the database schema is at revision {current}, newer than this certkeeper "
            f"knows (its newest is {head_revision()}): upgrade certkeeper, not the database"
        )
    return current


def upgrade(engine: Engine) -> tuple[str | None, str]:
    """Migrate to the newest revision; returns (revision before, revision after)."""
    before = check_upgradable(engine)
    migrate(engine)
    return before, head_revision()


def sqlite_backup(engine: Engine, target: Path) -> None:
    """A consistent copy of a live SQLite database (its online backup API).

    A plain file copy of a database in WAL mode can miss committed pages that are still
    in the -wal file, or catch a page mid-write; the backup API copies a snapshot."""
    if engine.dialect.name != "sqlite":
        raise ConfigError("an online backup copy is for SQLite; use pg_dump for PostgreSQL")
    import sqlite3

    raw = engine.raw_connection()
    try:
        source = raw.driver_connection
        assert isinstance(source, sqlite3.Connection)
        dest = sqlite3.connect(str(target))
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        raw.close()
