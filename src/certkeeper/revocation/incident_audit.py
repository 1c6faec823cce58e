"""Incident changes in the audit log (BR 5.4.1): who changed which report field or
action item, and when notices went out. The incident's own event log says the same for
its report; the audit log is the record an auditor verifies as a chain."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from certkeeper.auditlog.record import Home, record

# What an incident change is told to: the audit event (after "incident.") and its detail.
IncidentAudit = Callable[[str, Mapping[str, Any]], None]


def recorder(home: Home, incident_id: int) -> IncidentAudit:
    """Records `incident.<event>` with `incident N` as the subject, by the current actor."""

    def note(event: str, detail: Mapping[str, Any]) -> None:
        record(home, f"incident.{event}", f"incident {incident_id}", detail=detail)

    return note
