"""The CRL monitor's memory between rounds: the last CRL seen at each shard URL.

Layout of the state directory:

    snapshots.json        {"format": 1, "saved_at": ..., "shards": {url: "crl/<sha256>.der"},
                           "early_removals": [...]}  (reported again until resolved)
    crl/<sha256>.der      the CRL exactly as fetched
    .lock                 held while a round runs, so two cron runs never interleave

A round writes the new CRL files first (content-addressed, so an existing one is not
rewritten), then replaces snapshots.json atomically, then deletes files nothing refers
to. A crash at any point leaves the previous round's index and every file it names.
"""

from __future__ import annotations

import fcntl
import json
import os
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from datetime import datetime
from pathlib import Path
from typing import Any

from certkeeper.audit.crl_monitor import Removal
from certkeeper.audit.crl_snapshots import CrlSnapshot, Entry, snapshot
from certkeeper.crl_files import write_atomic
from certkeeper.errors import InputError

INDEX = "snapshots.json"
FORMAT = 1


@contextmanager
def locked(state_dir: Path) -> Iterator[None]:
    """Hold the state directory's lock; a second monitor on it fails at once."""
    state_dir.mkdir(parents=True, exist_ok=True)
    fd = os.open(state_dir / ".lock", os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise InputError(
                f"--state {state_dir}: another CRL monitor round is running on it"
            ) from None
        yield
    finally:
        os.close(fd)


def load(state_dir: Path) -> tuple[dict[str, CrlSnapshot], list[Removal]]:
    """url -> the last snapshot saved, and the early removals still outstanding; both
    empty when the directory holds no state yet."""
    index_path = state_dir / INDEX
    if not index_path.exists():
        return {}, []
    try:
        index = json.loads(index_path.read_text(encoding="utf-8"))
        shards = index["shards"]
        if index.get("format") != FORMAT or not isinstance(shards, dict):
            raise ValueError("unknown format")
        carried = [_removal(item) for item in index.get("early_removals", [])]
    except (OSError, ValueError, KeyError, TypeError) as exc:
        raise InputError(f"{index_path}: not a CRL monitor state file ({exc})") from None
    out: dict[str, CrlSnapshot] = {}
    for url, rel in shards.items():
        path = state_dir / str(rel)
        try:
            data = path.read_bytes()
        except OSError as exc:
            raise InputError(f"{path}: state file missing or unreadable: {exc}") from None
        out[url] = snapshot(data, url)
    return out, carried


def save(
    state_dir: Path,
    shards: Mapping[str, CrlSnapshot],
    saved_at: datetime,
    early_removals: Sequence[Removal] = (),
) -> None:
    """Make `shards` (and the outstanding early removals) the state, atomically."""
    folder = state_dir / "crl"
    folder.mkdir(parents=True, exist_ok=True)
    refs: dict[str, str] = {}
    for url, crl in sorted(shards.items()):
        name = f"{crl.sha256}.der"
        if not (folder / name).exists():
            write_atomic(folder / name, crl.der)
        refs[url] = f"crl/{name}"
    body = {
        "format": FORMAT,
        "saved_at": saved_at.isoformat(),
        "shards": refs,
        "early_removals": [_removal_json(r) for r in early_removals],
    }
    write_atomic(state_dir / INDEX, (json.dumps(body, indent=2) + "\n").encode())
    keep = {Path(r).name for r in refs.values()}
    for path in folder.glob("*.der"):
        if path.name not in keep:
            path.unlink(missing_ok=True)


def _removal_json(r: Removal) -> dict[str, object]:
    return {
        "scope": r.scope,
        "serial": r.serial,
        "revoked_at": r.entry.revoked_at.isoformat(),
        "reason": r.entry.reason,
        "issuer": r.issuer.hex(),
        "last_listed": r.last_listed.isoformat(),
        "first_unlisted": r.first_unlisted.isoformat(),
    }


def _removal(item: dict[str, Any]) -> Removal:
    reason = item["reason"]
    if reason is not None and not isinstance(reason, int):
        raise ValueError(f"reason {reason!r}")
    return Removal(
        str(item["scope"]),
        str(item["serial"]),
        Entry(datetime.fromisoformat(item["revoked_at"]), reason),
        bytes.fromhex(item["issuer"]),
        datetime.fromisoformat(item["last_listed"]),
        datetime.fromisoformat(item["first_unlisted"]),
    )
