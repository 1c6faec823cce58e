"""`profile list` rows: every stored version with its owner, approval and use.

One row per version, so an auditor sees who recorded and who approved each text, which
version issuance uses now, whether the profile is disabled, and whether its file is in
step with the latest stored version.
"""

from __future__ import annotations

from typing import Any

from certkeeper.ca.profile_registry import FileState, ProfileRegistry
from certkeeper.store.profile_control import VersionRecord


def version_rows(registry: ProfileRegistry) -> list[dict[str, Any]]:
    records = registry.versions()
    states = registry.states()
    latest: dict[str, VersionRecord] = {}
    for record in records:
        latest[record.profile_id] = record  # ordered by (profile, version)
    live: dict[str, int | None] = {
        pid: registry.control.issuance_view(pid).live_version for pid in latest
    }
    files = {pid: registry.file_state(pid, rec.sha256) for pid, rec in latest.items()}
    rows = []
    for record in records:
        pid = record.profile_id
        event = states.get(pid)
        disabled = event is not None and event.disabled
        rows.append(
            {
                "profile": pid,
                "version": record.version,
                "status": _status(record, live[pid]),
                "state": f"disabled: {event.reason} ({event.actor})"
                if event is not None and disabled
                else "enabled",
                "disabled": disabled,
                "recorded": record.created_at.isoformat(),
                "recorded_by": record.created_by or "(not recorded)",
                "approved_by": _approval(record),
                "approved_at": None
                if record.approved_at is None
                else record.approved_at.isoformat(),
                "file": _file(files[pid]) if record is latest[pid] else "",
            }
        )
    return rows


def _status(record: VersionRecord, live: int | None) -> str:
    if not record.approved:
        return "pending approval"
    return "live" if record.version == live else "superseded"


def _approval(record: VersionRecord) -> str:
    if record.approved_by is not None:
        return record.approved_by
    return "" if not record.approved else "(not required)"


def _file(state: FileState) -> str:
    if state.matches:
        return f"in step ({state.paths[0].name})"
    if not state.paths:
        return "missing: issuance stopped"
    if len(state.paths) > 1:
        return "several files: issuance stopped"
    return f"differs ({state.paths[0].name}): run profile sync"
