"""Faults the CRL tests inject: a disk that is full under one directory only.

No tmpfs can be mounted here, so the full disk is simulated where a real one reports
it for buffered writes: `os.fsync` of a file under the directory fails with ENOSPC.
Every other file of the process (the inventory, the audit log) is written normally.
"""

from __future__ import annotations

import errno
import os
from collections.abc import Callable
from pathlib import Path


def full_disk_under(directory: Path) -> Callable[[int], None]:
    """An `os.fsync` replacement that fails with ENOSPC for files under `directory`."""
    real, prefix = os.fsync, str(directory.resolve()) + os.sep

    def fsync(fd: int) -> None:
        if os.readlink(f"/proc/self/fd/{fd}").startswith(prefix):
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))
        real(fd)

    return fsync
