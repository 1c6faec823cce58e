"""The PostgreSQL harness: it really runs a server, and says how to get one when it can't."""

from __future__ import annotations

from pathlib import Path

import psycopg
import pytest

import pgserver


def test_missing_binaries_name_the_setup_script(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("CERTKEEPER_PG_BIN", str(tmp_path))
    monkeypatch.setattr(pgserver.glob, "glob", lambda _pattern: [])
    monkeypatch.setattr(pgserver.shutil, "which", lambda _name: None)
    with pytest.raises(pgserver.PostgresUnavailable, match=r"scripts/setup\.sh"):
        pgserver.find_bindir()


@pytest.mark.postgres
def test_server_is_real_and_databases_are_fresh(pg_server: pgserver.PostgresServer) -> None:
    first = pg_server.create_database()
    second = pg_server.create_database()
    assert first != second
    with psycopg.connect(
        host=str(pg_server.root), port=pg_server.port, user="postgres", dbname="postgres"
    ) as conn:
        row = conn.execute("select current_setting('server_version_num')::int").fetchone()
    assert row is not None and row[0] >= 120000
    assert first.startswith("postgresql+psycopg://")
