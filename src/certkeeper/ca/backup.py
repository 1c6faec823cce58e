"""Consistent backups of a live CA home, and restores that check what they bring back.

A home is one directory (config, profiles, encrypted keys, CRL files, the SQLite
inventory), so a backup is that tree with the database taken through SQLite's online
backup API (a file copy of a database in WAL mode is not safe while it is written), and
a manifest of SHA-256 hashes written last: a directory without a complete, matching
manifest is not a backup. The passphrase file is left out on purpose (a backup should
not hold the keys and their passphrase together); PostgreSQL is backed up with
`pg_dump` (docs/operations.md), and the manifest says so. The audit log's mirror is
copied before the database, and a restore verifies the log against it; a root home's
backup carries its ceremony transcript, verified when restored (backup_audit).
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import shutil
import sqlite3
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.engine import make_url

from certkeeper.ca.backup_audit import (
    MIRROR_DIR,
    copy_mirror,
    restored_log_problems,
    settle_mirror,
    transcript_problems,
)
from certkeeper.ca.root_home import ROOT_CONFIG
from certkeeper.config import CONFIG_NAME, Config, load_config
from certkeeper.errors import InputError
from certkeeper.store.database import (
    check_upgradable,
    connect,
    current_revision,
    known_revisions,
    sqlite_backup,
)

MANIFEST = "manifest.json"
FORMAT = 1
DB_FILE = "inventory.db"


@dataclass(frozen=True)
class BackupResult:
    directory: Path
    files: int
    bytes: int
    schema_revision: str | None
    database: str  # "sqlite" or "postgresql"
    excluded: tuple[str, ...]


def _version() -> str:
    try:
        return importlib.metadata.version("certkeeper")
    except importlib.metadata.PackageNotFoundError:
        return "unknown"


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def _sqlite_file(config: Config) -> Path | None:
    url = make_url(config.database_url)
    if url.get_backend_name() != "sqlite" or not url.database:
        return None
    return Path(url.database).resolve()


def _skipped(config: Config, db_file: Path | None) -> set[Path]:
    """Files of the home that are not copied as files: the live database (copied through
    the backup API instead), its WAL and shared-memory files, and the passphrase."""
    skip: set[Path] = set()
    if db_file is not None:
        skip |= {db_file, Path(f"{db_file}-wal"), Path(f"{db_file}-shm")}
    if config.passphrase_file is not None:
        skip.add(config.passphrase_file.resolve())
    return skip


def _prepare_target(target: Path) -> None:
    if target.exists() and (not target.is_dir() or any(target.iterdir())):
        raise InputError(f"backup directory {target} exists and is not empty")
    try:
        target.mkdir(parents=True, exist_ok=True, mode=0o700)
    except OSError as exc:
        raise InputError(f"cannot create backup directory {target}: {exc.strerror}") from None


def _copy_tree(home: Path, target: Path, skip: set[Path]) -> dict[str, dict[str, Any]]:
    files: dict[str, dict[str, Any]] = {}
    for source in sorted(home.rglob("*")):
        if source.is_dir() or source.resolve() in skip or source.is_symlink():
            continue
        rel = source.relative_to(home).as_posix()
        dest = target / "home" / rel
        dest.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, dest)
        files[f"home/{rel}"] = _listed(dest)
    return files


def _listed(path: Path) -> dict[str, Any]:
    return {"sha256": _sha256(path), "bytes": path.stat().st_size}


def backup(home: Path, target: Path, now: datetime) -> BackupResult:
    """Copy the home at `home` into the empty directory `target`, with a manifest: the
    audit log's mirror first, then the files, then the database (see backup_audit)."""
    if not (home / CONFIG_NAME).is_file() and (home / ROOT_CONFIG).is_file():
        return _backup_root_home(home.resolve(), target, now)
    config = load_config(home)
    home = config.home
    db_file = _sqlite_file(config)
    _prepare_target(target)
    engine = connect(config.database_url)
    mirror = None
    try:
        revision = check_upgradable(engine)
        skip = _skipped(config, db_file)
        try:
            mirror = copy_mirror(config, target)
            if mirror is not None:
                skip.add(mirror.source)
            files = _copy_tree(home, target, skip)
            if db_file is not None:
                dest = target / DB_FILE
                sqlite_backup(engine, dest)
                files[DB_FILE] = _listed(dest)
                if mirror is not None:
                    settle_mirror(mirror, target, dest)
            if mirror is not None:
                files[mirror.rel] = _listed(target / mirror.rel)
        except OSError as exc:
            raise InputError(f"backup to {target} failed: {exc.strerror or exc}") from None
    finally:
        engine.dispose()
    excluded = []
    if config.passphrase_file is not None and config.passphrase_file.exists():
        excluded.append(
            f"passphrase file {config.passphrase_file.relative_to(home).as_posix()}"
            if config.passphrase_file.is_relative_to(home)
            else f"passphrase file {config.passphrase_file}"
        )
    database = "sqlite" if db_file is not None else "postgresql"
    if db_file is None:
        excluded.append("the PostgreSQL database: take it with pg_dump (docs/operations.md)")
    manifest = {
        "format": FORMAT,
        "created_at": now.isoformat(),
        "certkeeper_version": _version(),
        "schema_revision": revision,
        "database": database,
        "database_in_home": (
            db_file is not None and db_file.is_relative_to(home) and db_file.parent == home
        ),
        "database_name": db_file.name if db_file is not None else None,
        "audit_log_mirror": None
        if mirror is None
        else {"file": mirror.rel, "original": str(mirror.source)},
        "excluded": excluded,
        "files": files,
    }
    _write_private(target / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return BackupResult(
        target,
        len(files),
        sum(int(f["bytes"]) for f in files.values()),
        revision,
        database,
        tuple(excluded),
    )


def _backup_root_home(root: Path, target: Path, now: datetime) -> BackupResult:
    """A root home (the offline root, its ceremony transcript and transcript key): its
    files as they are; it has no inventory and no passphrase file."""
    _prepare_target(target)
    try:
        files = _copy_tree(root, target, set())
    except OSError as exc:
        raise InputError(f"backup to {target} failed: {exc.strerror or exc}") from None
    manifest = {
        "format": FORMAT,
        "kind": "root",
        "created_at": now.isoformat(),
        "certkeeper_version": _version(),
        "schema_revision": None,
        "database": "none",
        "excluded": [],
        "files": files,
    }
    _write_private(target / MANIFEST, json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    size = sum(int(f["bytes"]) for f in files.values())
    return BackupResult(target, len(files), size, None, "none", ())


def _write_private(path: Path, text: str) -> None:
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as out:
        out.write(text)
        out.flush()
        os.fsync(out.fileno())


@dataclass(frozen=True)
class RestoreResult:
    home: Path | None  # None when only checked
    files: int
    schema_revision: str | None
    serials: int | None  # assigned serials in the restored SQLite inventory
    excluded: tuple[str, ...]
    notes: tuple[str, ...] = ()  # what the restore checked, and where things went


def _read_manifest(source: Path) -> dict[str, Any]:
    path = source / MANIFEST
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError(f"{source} is not a certkeeper backup: {MANIFEST} is missing") from None
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"cannot read {path}: {exc}") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise InputError(f"{path}: not a backup manifest of format {FORMAT}")
    files = doc.get("files")
    if not isinstance(files, dict) or not files:
        raise InputError(f"{path}: the manifest lists no files")
    return doc


def verify_backup(source: Path) -> dict[str, Any]:
    """The manifest, after checking every listed file's hash and that nothing was added."""
    doc = _read_manifest(source)
    problems: list[str] = []
    listed = set(doc["files"])
    for rel, entry in sorted(doc["files"].items()):
        path = source / rel
        if not path.is_file():
            problems.append(f"{rel} is missing")
        elif _sha256(path) != entry.get("sha256"):
            problems.append(f"{rel} does not match its SHA-256")
    present = {
        p.relative_to(source).as_posix()
        for p in source.rglob("*")
        if p.is_file() and p.name != MANIFEST
    }
    problems += [f"{rel} is not in the manifest" for rel in sorted(present - listed)]
    revision = doc.get("schema_revision")
    if revision is not None and revision not in known_revisions():
        problems.append(f"schema revision {revision} is newer than this certkeeper knows")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        shown = "; ".join(problems[:5]) + more
        raise InputError(f"backup {source} does not check out: {shown}")
    return doc


def _sqlite_checks(path: Path) -> int:
    """PRAGMA integrity_check on the restored database, and its number of serials."""
    conn = sqlite3.connect(f"file:{path}?mode=ro", uri=True)
    try:
        (verdict,) = conn.execute("PRAGMA integrity_check").fetchone()
        if verdict != "ok":
            raise InputError(f"restored database {path} fails its integrity check: {verdict}")
        (count,) = conn.execute("SELECT count(*) FROM serials").fetchone()
        return int(count)
    except sqlite3.DatabaseError as exc:
        raise InputError(f"restored database {path} cannot be read: {exc}") from None
    finally:
        conn.close()


def restore(source: Path, home: Path | None) -> RestoreResult:
    """Check a backup; with `home`, lay it out there as a CA home ready to open."""
    doc = verify_backup(source)
    files: dict[str, Any] = doc["files"]
    excluded = tuple(str(e) for e in doc.get("excluded", []))
    if home is None:
        return RestoreResult(None, len(files), doc.get("schema_revision"), None, excluded)
    if home.exists() and (not home.is_dir() or any(home.iterdir())):
        raise InputError(f"restore target {home} exists and is not empty")
    if doc.get("database") == "sqlite" and not doc.get("database_in_home"):
        raise InputError(
            "the backed-up SQLite database lived outside its home; restore "
            f"{source / DB_FILE} to that path by hand, then copy {source / 'home'}"
        )
    try:
        home.mkdir(parents=True, exist_ok=True, mode=0o700)
        for rel in sorted(files):
            if rel.startswith("home/"):
                dest = home / rel[len("home/") :]
            elif rel.startswith(f"{MIRROR_DIR}/"):
                dest = home / rel  # a mirror kept outside the home: beside it now
            else:
                continue
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source / rel, dest)
        serials = None
        if doc.get("database") == "sqlite":
            db_dest = home / str(doc.get("database_name") or DB_FILE)
            shutil.copy2(source / DB_FILE, db_dest)
            os.chmod(db_dest, 0o600)
            serials = _sqlite_checks(db_dest)
    except OSError as exc:
        raise InputError(f"restore into {home} failed: {exc.strerror or exc}") from None
    if doc.get("kind") == "root":
        return _restored_root(source, home, len(files))
    if not (home / CONFIG_NAME).is_file():
        raise InputError(f"backup {source} holds no {CONFIG_NAME}")
    engine = connect(load_config(home).database_url)
    try:
        check_upgradable(engine)
        revision = current_revision(engine)
    finally:
        engine.dispose()
    notes = _restored_log(doc, home) if doc.get("database") == "sqlite" else ()
    return RestoreResult(home, len(files), revision, serials, excluded, notes)


def _restored_log(doc: dict[str, Any], home: Path) -> tuple[str, ...]:
    """The restored audit log must verify and agree with the restored mirror."""
    mirrored = doc.get("audit_log_mirror")
    mirror = None
    notes = []
    if isinstance(mirrored, dict):
        rel = str(mirrored.get("file", ""))
        mirror = home / rel[len("home/") :] if rel.startswith("home/") else home / rel
        if not rel.startswith("home/"):
            notes.append(
                f"the audit-log mirror kept at {mirrored.get('original')} is restored "
                f"as {mirror}: move it back or point [audit_log] mirror at it"
            )
    problems = restored_log_problems(home, mirror)
    if problems:
        more = f" (and {len(problems) - 3} more)" if len(problems) > 3 else ""
        raise InputError(f"the restored audit log does not verify: {'; '.join(problems[:3])}{more}")
    agreed = "with its mirror" if mirror is not None else "(no mirror file in the backup)"
    return (f"audit log verified {agreed}", *notes)


def _restored_root(source: Path, home: Path, files: int) -> RestoreResult:
    if not (home / ROOT_CONFIG).is_file():
        raise InputError(f"backup {source} holds no {ROOT_CONFIG}")
    problems = transcript_problems(home)
    if problems:
        raise InputError(f"the restored ceremony transcript does not verify: {problems[0]}")
    return RestoreResult(home, files, None, None, (), ("ceremony transcript verified",))
