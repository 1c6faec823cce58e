"""Where published CRLs live on disk, and how a file is replaced without a torn read.

The directory mirrors the URLs in `certkeeper.urls`: `<out>/<issuer>/<shard>.crl` is
served at `crl_url(base, issuer, shard)` when `<out>` is served at `<base>/crl`. A
relying party fetching a shard while it is rewritten gets the old file or the new one,
never half of each: the new bytes go to a temporary file in the same directory, are
fsynced, and `os.replace` swaps them in.
"""

from __future__ import annotations

import os
import tempfile
from pathlib import Path

FULL_NAME = "full.crl"


def shard_path(out_dir: Path, issuer_name: str, shard: int) -> Path:
    """Mirrors urls.crl_url: <base>/crl/<issuer>/<shard>.crl."""
    return out_dir / issuer_name / f"{shard}.crl"


def ca_crl_path(out_dir: Path, root_name: str) -> Path:
    """Mirrors urls.ca_crl_url: <base>/crl/<root>.crl."""
    return out_dir / f"{root_name}.crl"


def full_crl_path(out_dir: Path, issuer_name: str) -> Path:
    return out_dir / issuer_name / FULL_NAME


def shard_list_path(out_dir: Path, issuer_name: str) -> Path:
    """The CCADB "JSON Array of Partitioned CRLs" for one issuer."""
    return out_dir / f"{issuer_name}.json"


def write_atomic(path: Path, data: bytes) -> None:
    """Write `data` to `path` so that readers only ever see a complete file."""
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as fh:
            fh.write(data)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, 0o644)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def _fsync_dir(directory: Path) -> None:
    """Make the rename itself durable (POSIX); a no-op where directories cannot be opened."""
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)
