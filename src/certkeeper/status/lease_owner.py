"""Who holds a CRL shard lease, and whether that process is known to be dead.

A lease owner names its process as `host:pid:start:ns`: the host name, the process
id, the process's start time in clock ticks since boot (so a reused pid is a different
owner) and the inode of its pid namespace (so a process in another container with the
same host name is never judged by our /proc). A publisher on the same host and in the
same pid namespace can then tell that a lease's owner is gone and reclaim the lease at
once; for any other owner it waits for the (short, renewed) lease to run out.
"""

from __future__ import annotations

import os
import socket
from pathlib import Path

_PROC = Path("/proc")


def _start_ticks(pid: int) -> str | None:
    """Field 22 of /proc/<pid>/stat (starttime), or None if there is no such process
    or only its zombie is left (a killed process not yet reaped by its parent)."""
    try:
        stat = (_PROC / str(pid) / "stat").read_text()
    except OSError:
        return None
    # The command name (field 2) is in parentheses and may contain spaces.
    fields = stat[stat.rfind(")") + 2 :].split()
    if len(fields) <= 19 or fields[0] in ("Z", "X"):
        return None
    return fields[19]


def _pid_namespace() -> str:
    try:
        return str(os.stat(_PROC / "self" / "ns" / "pid").st_ino)
    except OSError:
        return "-"


def _host() -> str:
    return socket.gethostname()[:32].replace(":", "_")


def default_owner() -> str:
    """This process as a lease owner (at most 64 characters, the column's width)."""
    pid = os.getpid()
    return f"{_host()}:{pid}:{_start_ticks(pid) or '-'}:{_pid_namespace()}"


def owner_is_dead(owner: str) -> bool:
    """True only when `owner` is a process of this host and pid namespace that no
    longer runs. Anything we cannot judge (another host or namespace, a name in
    another format, no /proc) is assumed alive: its lease is left to expire."""
    parts = owner.split(":")
    if len(parts) != 4 or parts[0] != _host() or parts[3] != _pid_namespace():
        return False
    _, pid_text, start, _ = parts
    if not pid_text.isdigit() or start == "-" or parts[3] == "-":
        return False
    return _start_ticks(int(pid_text)) != start
