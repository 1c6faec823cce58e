"""Faults the CRL tests inject: a disk that is full under one directory only.

Two ways: a real tmpfs of a few KiB mounted there and filled (as root, where
mounting is allowed), and, everywhere, an `os.fsync` that fails with ENOSPC for
files under the directory (where a real full disk reports it for buffered writes).
Every other file of the process (the inventory, the audit log) is written normally.
"""

from __future__ import annotations

import errno
import os
import subprocess
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest


def full_disk_under(directory: Path) -> Callable[[int], None]:
    """An `os.fsync` replacement that fails with ENOSPC for files under `directory`."""
    real, prefix = os.fsync, str(directory.resolve()) + os.sep

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(prefix):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    return fsync


@contextmanager
def tiny_tmpfs(directory: Path, size_kib: int = 64) -> Iterator[Path]:
    """A real, small filesystem mounted at `directory` (root only; skips the test
    where mounting is not allowed), unmounted afterwards."""
    directory.mkdir(parents=True, exist_ok=True)
    mounted = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", f"size={size_kib}k", "tmpfs", str(directory)],
        capture_output=True,
        text=True,
        check=False,
    )
    if mounted.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {mounted.stderr.strip() or 'not root'}")
    try:
        yield directory
    finally:
        subprocess.run(["umount", "-l", str(directory)], check=False)


def fill(directory: Path) -> Path:
    """Fill the filesystem of `directory` to the last byte; returns the filler file."""
    filler = directory / "filler"
    fd = os.open(filler, os.O_WRONLY | os.O_CREAT, 0o600)
    try:
        for size in (65536, 4096, 1):
            while True:
                try:
                    os.write(fd, bytes(size))
                except OSError as exc:
                    if exc.errno != errno.ENOSPC:
                        raise
                    break
    finally:
        os.close(fd)
    return filler
