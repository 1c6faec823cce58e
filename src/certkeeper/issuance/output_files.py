"""Where issued certificates are written: checked before anything is signed, written
whole or not at all.

`issue --out` to an unwritable path used to sign and store the certificate and then die
with a traceback, and a batch aborted without its summary. Now the destination is
proven writable first (by creating and removing a file beside it, which also catches
read-only file systems and permissions that `os.access` would not show to root), and
the PEM goes to a temporary file renamed into place, so a reader never sees half a
chain. A write that still fails (a full disk) is one line naming the certificate that
was issued, which stays in the inventory.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from pathlib import Path

from certkeeper.errors import CertkeeperError, InputError


class OutputError(CertkeeperError):
    """The certificate was issued and stored, but its file could not be written."""


def check_directory(directory: Path, what: str = "--out") -> None:
    """`directory` exists (or is created) and takes new files."""
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"{what} {directory}: cannot create it: {_reason(exc)}") from None
    if not directory.is_dir():
        raise InputError(f"{what} {directory}: not a directory")
    _probe(directory, what, directory)


def check_file(path: Path, what: str = "--out") -> None:
    """`path` can be written: not a directory, in a directory that takes new files."""
    if path.is_dir():
        raise InputError(f"{what} {path}: is a directory")
    if not path.parent.is_dir():
        raise InputError(f"{what} {path}: directory {path.parent} does not exist")
    _probe(path.parent, what, path)
    if path.exists():
        try:
            with path.open("r+b"):
                pass
        except OSError as exc:
            raise InputError(f"{what} {path}: cannot write it: {_reason(exc)}") from None


def write_pem(path: Path, text: str, serial: str) -> None:
    """Replace `path` with `text` atomically (temporary file, then rename)."""
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
        with os.fdopen(fd, "w", encoding="ascii") as fh:
            fh.write(text)
        os.replace(tmp, path)
        tmp = None
    except OSError as exc:
        raise OutputError(
            f"certificate {serial} was issued and stored, but {path} could not be written: "
            f"{_reason(exc)} (`certkeeper certs list --serial {serial}` finds it)"
        ) from None
    finally:
        if tmp is not None:
            with contextlib.suppress(OSError):
                os.unlink(tmp)


def _probe(directory: Path, what: str, shown: Path) -> None:
    try:
        fd, probe = tempfile.mkstemp(dir=directory, prefix=".certkeeper-probe-")
    except OSError as exc:
        raise InputError(f"{what} {shown}: cannot write in {directory}: {_reason(exc)}") from None
    os.close(fd)
    os.unlink(probe)


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc)
