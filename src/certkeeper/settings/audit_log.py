"""The `[audit_log]` table of certkeeper.toml: where the log is mirrored.

The inventory holds the chained log; the mirror is a copy outside it (a JSON-lines file
that log shipping can follow, and/or the local syslog) so that an auditor has a second
record that someone with only database access cannot rewrite.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from certkeeper.tomlcheck import check_keys, get

DEFAULT_MIRROR = "audit-log.jsonl"


@dataclass(frozen=True)
class AuditLogSettings:
    mirror: Path | None = None  # JSON lines, one per entry; None: no file mirror
    syslog: bool = False  # also send each entry to syslog (facility authpriv)


def parse_audit_log(table: dict[str, Any], where: str, home: Path) -> AuditLogSettings:
    w = f"{where} [audit_log]"
    check_keys(table, ("mirror", "syslog"), w)
    mirror = get(table, "mirror", str, w, default=DEFAULT_MIRROR).strip()
    return AuditLogSettings(
        mirror=(home / mirror) if mirror else None,
        syslog=get(table, "syslog", bool, w, default=False),
    )
