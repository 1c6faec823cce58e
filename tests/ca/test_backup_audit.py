"""Backups carry what the auditor checks: the audit log's mirror, copied before the
database so the restored log is never behind it, and the root home's ceremony
transcript; a restore verifies both."""

from __future__ import annotations

import hashlib
import json
import sqlite3
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from typer.testing import CliRunner

from ca.test_ceremony import ceremony_root
from certkeeper.auditlog.record import record
from certkeeper.ca import backup as backupmod
from certkeeper.ca.backup import backup, restore
from certkeeper.ca.backup_audit import MirrorCopy, settle_mirror
from certkeeper.ca.home import CaHome
from certkeeper.cli.main import app
from certkeeper.errors import InputError
from factories import PASSPHRASE, make_home

NOW = datetime(2031, 1, 2, 3, 4, 5, tzinfo=UTC)


def run(*args: str) -> tuple[int, str, str]:
    env = {"CERTKEEPER_PASSPHRASE": PASSPHRASE, "CERTKEEPER_ACTOR": "olivia"}
    result = CliRunner().invoke(app, list(args), env=env)
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_the_mirror_is_copied_before_the_database_and_restored_in_step(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    home = make_home(tmp_path / "home")
    order: list[str] = []
    copy_mirror, sqlite_backup = backupmod.copy_mirror, backupmod.sqlite_backup

    def mirror_first(*args: Any) -> Any:
        copied = copy_mirror(*args)
        order.append("mirror")
        ca = CaHome.open(home)  # an event committed while the backup runs
        try:
            record(ca, "test.during-backup", "backup", actor="ops")
        finally:
            ca.close()
        return copied

    def database(*args: Any) -> None:
        order.append("database")
        sqlite_backup(*args)

    monkeypatch.setattr(backupmod, "copy_mirror", mirror_first)
    monkeypatch.setattr(backupmod, "sqlite_backup", database)
    result = backup(home, tmp_path / "bk", NOW)
    assert order == ["mirror", "database"]
    manifest = json.loads((tmp_path / "bk" / "manifest.json").read_text())
    assert manifest["audit_log_mirror"]["file"] == "home/audit-log.jsonl"
    assert result.files == len(manifest["files"])

    restored = restore(tmp_path / "bk", tmp_path / "restored")
    assert restored.notes == ("audit log verified with its mirror",)
    lines = (tmp_path / "restored" / "audit-log.jsonl").read_text().splitlines()
    assert json.loads(lines[-1])["event"] == "test.during-backup"  # taken up to the snapshot
    code, out, err = run("audit-log", "verify", "--home", str(tmp_path / "restored"))
    assert code == 0, err
    assert "mirror" in out


def test_a_mirror_outside_the_home_travels_with_the_backup(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    home = make_home(tmp_path / "home")
    outside = tmp_path / "logs" / "ca-audit.jsonl"
    outside.parent.mkdir()
    (home / "audit-log.jsonl").rename(outside)
    config = home / "certkeeper.toml"
    text = config.read_text()
    assert 'mirror = "audit-log.jsonl"' in text
    config.write_text(text.replace('mirror = "audit-log.jsonl"', f'mirror = "{outside}"'))
    backup(home, tmp_path / "bk", NOW)
    assert (tmp_path / "bk" / "audit-log-mirror" / "ca-audit.jsonl").read_bytes() == (
        outside.read_bytes()
    )
    restored = restore(tmp_path / "bk", tmp_path / "restored")
    copy = tmp_path / "restored" / "audit-log-mirror" / "ca-audit.jsonl"
    assert restored.notes[0] == "audit log verified with its mirror"
    assert str(outside) in restored.notes[1] and str(copy) in restored.notes[1]
    assert copy.read_bytes() == outside.read_bytes()


def _reseal(backup_dir: Path, rel: str) -> None:
    """Make the manifest match an edited file, as someone covering their tracks would."""
    manifest = json.loads((backup_dir / "manifest.json").read_text())
    data = (backup_dir / rel).read_bytes()
    manifest["files"][rel] = {"sha256": hashlib.sha256(data).hexdigest(), "bytes": len(data)}
    (backup_dir / "manifest.json").write_text(json.dumps(manifest))


def test_a_root_home_backup_carries_its_transcript_and_checks_it(tmp_path: Path) -> None:
    root = ceremony_root(tmp_path)
    code, out, err = run("backup", str(tmp_path / "bk"), "--home", str(root))
    assert code == 0, err
    assert "database none" in out
    code, out, err = run("restore", str(tmp_path / "bk"), "--home", str(tmp_path / "again"))
    assert code == 0, err
    assert "ceremony transcript verified" in out
    transcript = (tmp_path / "again" / "transcript.jsonl").read_bytes()
    assert transcript == (root / "transcript.jsonl").read_bytes()
    code, _, err = run("ceremony", "verify", "--root", str(tmp_path / "again"))
    assert code == 0, err

    rel = "home/transcript.jsonl"
    edited = (tmp_path / "bk" / rel).read_text().replace("walter", "mallory")
    (tmp_path / "bk" / rel).write_text(edited)
    _reseal(tmp_path / "bk", rel)
    with pytest.raises(InputError, match="the restored ceremony transcript does not verify"):
        restore(tmp_path / "bk", tmp_path / "third")


def test_a_restored_log_that_disagrees_with_its_mirror_is_refused(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    home = make_home(tmp_path / "home")
    backup(home, tmp_path / "bk", NOW)
    rel = "home/audit-log.jsonl"
    lines = (tmp_path / "bk" / rel).read_text().splitlines()
    (tmp_path / "bk" / rel).write_text("\n".join(lines[:-1]) + "\n")  # the last line gone
    _reseal(tmp_path / "bk", rel)
    with pytest.raises(InputError, match=r"restored audit log does not verify: entry \d+ is not"):
        restore(tmp_path / "bk", tmp_path / "restored")


@pytest.mark.parametrize(("copied", "expected"), [(2, [1, 2, 3]), (4, [1, 2, 3]), (3, [1, 2, 3])])
def test_the_copy_ends_where_the_snapshot_ends(
    tmp_path: Path, copied: int, expected: list[int]
) -> None:
    """Lines of entries not yet committed at the snapshot are dropped; lines committed
    after the copy are taken from the live mirror; the snapshot's head is entry 3."""
    snapshot = tmp_path / "inventory.db"
    with sqlite3.connect(snapshot) as db:
        db.executescript("CREATE TABLE audit_log (seq INTEGER); INSERT INTO audit_log VALUES (3);")
    live = tmp_path / "live.jsonl"
    line = [json.dumps({"seq": n}).encode() + b"\n" for n in range(1, 6)]
    live.write_bytes(b"".join(line))
    target = tmp_path / "bk"
    (target / "home").mkdir(parents=True)
    (target / "home" / "m.jsonl").write_bytes(b"".join(line[:copied]))
    offset = len(b"".join(line[:copied]))
    settle_mirror(MirrorCopy("home/m.jsonl", live, offset), target, snapshot)
    kept = (target / "home" / "m.jsonl").read_text().splitlines()
    assert [json.loads(x)["seq"] for x in kept] == expected
