"""The migrations build exactly the schema tables.py describes, on both backends."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import pytest
from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from alembic.script import ScriptDirectory
from sqlalchemy import Engine, inspect

from certkeeper.errors import ConfigError
from certkeeper.store import database
from certkeeper.store.database import (
    connect,
    current_revision,
    head_revision,
    migrate,
    schema_is_current,
    sqlite_url,
)
from certkeeper.store.tables import metadata


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def blank(
    request: pytest.FixtureRequest, tmp_path: Path, new_pg_database: Callable[[], str]
) -> Engine:
    url = sqlite_url(tmp_path / "blank.db") if request.param == "sqlite" else new_pg_database()
    return connect(url)


def test_migrated_schema_matches_tables(blank: Engine) -> None:
    assert not schema_is_current(blank)
    assert current_revision(blank) is None
    migrate(blank)
    with blank.connect() as conn:
        ctx = MigrationContext.configure(conn, opts={"compare_type": True})
        assert compare_metadata(ctx, metadata) == []
    assert schema_is_current(blank)
    assert current_revision(blank) == head_revision()


def test_revisions_form_one_line() -> None:
    script = ScriptDirectory(str(database.MIGRATIONS_DIR))
    revisions = list(script.walk_revisions())
    assert revisions[-1].revision == "0001"
    assert revisions[0].revision == head_revision()
    assert all(len(r._all_down_revisions) <= 1 for r in revisions)


def test_migrate_is_idempotent(blank: Engine) -> None:
    migrate(blank)
    migrate(blank)
    assert schema_is_current(blank)
    assert set(inspect(blank).get_table_names()) == set(metadata.tables) | {"alembic_version"}


def test_migrations_do_not_depend_on_the_working_directory(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.chdir(tmp_path)
    engine = connect(sqlite_url(Path("rel.db")))
    migrate(engine)
    assert schema_is_current(engine)
    assert (tmp_path / "rel.db").exists()
    assert database.MIGRATIONS_DIR.is_absolute()


def test_sqlite_pragmas(tmp_path: Path) -> None:
    engine = connect(sqlite_url(tmp_path / "p.db"))
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        assert conn.exec_driver_sql("PRAGMA foreign_keys").scalar() == 1
        assert (
            conn.exec_driver_sql("PRAGMA busy_timeout").scalar() == database.SQLITE_BUSY_TIMEOUT_MS
        )


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("not a url", "invalid database URL"),
        ("mysql://u@h/db", "unsupported database"),
        ("sqlite+foo:///x.db", "unsupported SQLite driver"),
        ("sqlite:////nonexistent-dir/x/y.db", "cannot open database"),
        ("postgresql://u:hunter2@127.0.0.1:1/db", "cannot open database"),
    ],
)
def test_bad_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as info:
        connect(url)
    text = str(info.value)
    assert "\n" not in text
    assert "hunter2" not in text


def test_postgres_scheme_means_psycopg(pg_url: str) -> None:
    plain = pg_url.replace("postgresql+psycopg://", "postgresql://")
    engine = connect(plain)
    assert engine.dialect.driver == "psycopg"
    engine.dispose()
