"""Schema upgrades, consistent backups of a live home, and restores that check what they
bring back (SQLite online backup; PostgreSQL through pg_dump)."""

from __future__ import annotations

import json
import os
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from alembic import command
from sqlalchemy.engine import make_url

from certkeeper.ca.home import CaHome
from certkeeper.errors import ConfigError
from certkeeper.store.database import _alembic_config, connect, head_revision
from certkeeper.store.ocsp_repo import OcspStore
from cli_helpers import cli as run
from cli_helpers import issue_cli
from factories import PASSPHRASE, csr_pem, make_home
from pgserver import PostgresServer

CLI = [sys.executable, "-m", "certkeeper"]
OLD_REVISION = "0005"  # the schema of the release before this one's migrations


@pytest.fixture
def env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)


def issue(home: Path, tmp_path: Path, names: list[str]) -> None:
    for name in names:
        code, _, err = issue_cli(home, tmp_path, name)
        assert code == 0, err


def listed(home: Path) -> set[str]:
    code, out, err = run("certs", "list", "--home", str(home), "--format", "json")
    assert code == 0, err
    return {c["serial"] for c in json.loads(out)}


def serial_statuses(database: Path) -> dict[str, tuple[str, str | None]]:
    """serial -> (issuance state, OCSP status or None)."""
    conn = sqlite3.connect(f"file:{database}?mode=ro", uri=True)
    try:
        rows = conn.execute(
            "SELECT s.serial, s.state, o.status FROM serials s "
            "LEFT JOIN ocsp_responses o ON o.serial = s.serial"
        ).fetchall()
        return {serial: (state, status) for serial, state, status in rows}
    finally:
        conn.close()


def downgrade(url: str, revision: str) -> None:
    engine = connect(url)
    try:
        with engine.begin() as conn:
            command.downgrade(_alembic_config(conn), revision)
    finally:
        engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_upgrade_from_the_previous_schema_keeps_the_data(
    backend: str, tmp_path: Path, env: None, new_pg_database: Callable[[], str]
) -> None:
    url = new_pg_database() if backend == "postgresql" else None
    home = make_home(tmp_path / "home", database_url=url)
    issue(home, tmp_path, ["a.upgrade.example.com", "b.upgrade.example.com"])
    before = listed(home)
    db_url = CaHome.open(home).config.database_url
    assert len(before) == 2

    downgrade(db_url, OLD_REVISION)
    code, out, _ = run("db", "status", "--home", str(home))
    assert code == 0 and f"schema revision: {OLD_REVISION}" in out and "upgrade due" in out
    with pytest.raises(ConfigError, match="certkeeper db upgrade"):
        _ = CaHome.open(home).inventory
    code, out, _ = run("certs", "list", "--home", str(home))
    assert code == 1

    code, out, err = run("db", "upgrade", "--home", str(home))
    assert code == 0, err
    assert f"from revision {OLD_REVISION} to {head_revision()}" in out
    code, out, _ = run("db", "status", "--home", str(home), "--format", "json")
    assert json.loads(out)["up_to_date"] is True
    assert listed(home) == before
    code, out, _ = run("db", "upgrade", "--home", str(home))
    assert code == 0 and "already at revision" in out


def test_a_schema_newer_than_the_code_is_refused(tmp_path: Path, env: None) -> None:
    home = make_home(tmp_path / "home")
    with sqlite3.connect(home / "inventory.db") as conn:
        conn.execute("UPDATE alembic_version SET version_num = '9999'")
    for args in (["db", "status"], ["db", "upgrade"]):
        code, _, err = run(*args, "--home", str(home))
        assert code == 1
        assert "revision 9999, newer than this certkeeper" in err
        assert "Traceback" not in err


def start_batch(home: Path, tmp_path: Path, count: int) -> subprocess.Popen[bytes]:
    csrs = tmp_path / "csrs"
    csrs.mkdir()
    for i in range(count):
        (csrs / f"{i:04d}.csr").write_bytes(csr_pem([f"n{i}.batch.example.com"]))
    environ = {**os.environ, "CERTKEEPER_PASSPHRASE": PASSPHRASE}
    return subprocess.Popen(
        [
            *CLI,
            "issue",
            "--home",
            str(home),
            "--batch",
            str(csrs),
            "--profile",
            "tls-dv-ecdsa",
            "--out",
            str(tmp_path / "issued"),
            "--workers",
            "2",
        ],
        env=environ,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )


def test_a_backup_taken_during_a_batch_restores_every_serial_with_its_status(
    tmp_path: Path, env: None
) -> None:
    home = make_home(tmp_path / "home")
    batch = start_batch(home, tmp_path, 150)
    try:
        deadline = time.monotonic() + 120
        while len(serial_statuses(home / "inventory.db")) < 20:
            assert batch.poll() is None, batch.stderr.read() if batch.stderr else ""
            assert time.monotonic() < deadline, "the batch issued nothing in time"
            time.sleep(0.05)
        code, out, err = run("backup", str(tmp_path / "bak"), "--home", str(home))
        assert code == 0, err
        still_running = batch.poll() is None
    finally:
        _, stderr = batch.communicate(timeout=300)
    assert batch.returncode == 0, stderr.decode()
    assert still_running, "the backup was meant to run while the batch wrote"

    code, out, err = run("restore", str(tmp_path / "bak"), "--home", str(tmp_path / "restored"))
    assert code == 0, err
    restored = serial_statuses(tmp_path / "restored" / "inventory.db")
    assert f", {len(restored)} serials)" in out
    live = serial_statuses(home / "inventory.db")
    assert 20 <= len(restored) <= len(live) == 150
    assert set(restored) <= set(live)
    # every precertificate or certificate the backup holds has its OCSP status...
    signed = {s for s, (state, _) in restored.items() if state in ("precertificate", "issued")}
    assert {restored[s][1] for s in signed} == {"good"}
    # ...and every certificate it holds is the one the live inventory has
    assert all(live[s] == restored[s] for s in signed if restored[s][0] == "issued")
    ca = CaHome.open(tmp_path / "restored")
    try:
        responses = OcspStore(ca.inventory.engine)
        assert all(responses.get(serial) is not None for serial in signed)
    finally:
        ca.close()
    assert oct((tmp_path / "restored" / "inventory.db").stat().st_mode & 0o777) == "0o600"


def test_a_tampered_or_padded_backup_is_refused_by_name(tmp_path: Path, env: None) -> None:
    home = make_home(tmp_path / "home")
    code, _, err = run("backup", str(tmp_path / "bak"), "--home", str(home))
    assert code == 0, err
    code, out, _ = run("restore", str(tmp_path / "bak"), "--check")
    assert code == 0 and "checks out" in out
    code, _, err = run("backup", str(tmp_path / "bak"), "--home", str(home))
    assert code == 1 and "exists and is not empty" in err

    config = tmp_path / "bak" / "home" / "certkeeper.toml"
    config.write_text(config.read_text() + "\n# edited\n")
    (tmp_path / "bak" / "home" / "extra.txt").write_text("planted")
    code, _, err = run("restore", str(tmp_path / "bak"), "--home", str(tmp_path / "r"))
    assert code == 1
    assert "home/certkeeper.toml does not match its SHA-256" in err
    assert "home/extra.txt is not in the manifest" in err
    assert not (tmp_path / "r").exists()

    code, _, err = run("restore", str(tmp_path / "nothing"), "--home", str(tmp_path / "r"))
    assert code == 1 and "manifest.json is missing" in err


def test_postgresql_backup_is_pg_dump_plus_the_home_files(
    tmp_path: Path, env: None, pg_server: PostgresServer, new_pg_database: Callable[[], str]
) -> None:
    """The documented procedure (docs/operations.md): `certkeeper backup` for the files,
    pg_dump for the database; restore both and the inventory is whole."""
    url = new_pg_database()
    home = make_home(tmp_path / "home", database_url=url)
    issue(home, tmp_path, ["pg.backup.example.com"])
    code, out, err = run("backup", str(tmp_path / "bak"), "--home", str(home))
    assert code == 0, err
    assert "not included: the PostgreSQL database: take it with pg_dump" in out
    source_db = str(make_url(url).database)
    dump = tmp_path / "inventory.dump"
    common = ["-h", str(pg_server.root), "-p", str(pg_server.port), "-U", pg_server.superuser]
    subprocess.run(
        [str(pg_server.bindir / "pg_dump"), *common, "-Fc", "-f", str(dump), source_db],
        check=True,
    )
    target_url = new_pg_database()
    target_db = str(make_url(target_url).database)
    subprocess.run(
        [str(pg_server.bindir / "pg_restore"), *common, "--no-owner", "-d", target_db, str(dump)],
        check=True,
    )
    code, _, err = run("restore", str(tmp_path / "bak"), "--home", str(tmp_path / "r"))
    assert code == 0, err
    config = tmp_path / "r" / "certkeeper.toml"
    config.write_text(config.read_text().replace(url, target_url))
    assert listed(tmp_path / "r") == listed(home) != set()
    code, out, _ = run("db", "status", "--home", str(tmp_path / "r"))
    assert "up to date" in out
