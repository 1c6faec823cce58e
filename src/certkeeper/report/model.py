"""The incident report as plain values: everything the renderers print, computed once."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from certkeeper.report.series import Point
from certkeeper.revocation.details import ActionItem
from certkeeper.revocation.ledger import Counts, Week
from certkeeper.revocation.verdict import Verdict


@dataclass(frozen=True)
class TimelineEntry:
    at: datetime
    text: str
    source: str  # "ledger" (the incident's event log), "entered" (typed in), "incident"


@dataclass(frozen=True)
class ShardBar:
    """One CRL shard touched by the incident: its size now and with every remaining
    affected certificate revoked now."""

    issuer: str
    shard: int
    bytes: int
    projected_bytes: int


@dataclass(frozen=True)
class AffectedRow:
    """One line of the affected-certificate CSV."""

    sha256: str
    serial: str
    issuer: str
    not_before: datetime
    not_after: datetime
    status: str  # revoked | expired | valid, as of the report time
    kind: str  # certificate | precertificate (without a final certificate)
    precertificate_sha256: str = ""  # a final certificate's precertificate, when known
    ct_entries: tuple[str, ...] = ()  # report/ct_entries.py: log, timestamp, leaf hash

    @property
    def crtsh(self) -> str:
        return f"https://crt.sh/?sha256={self.sha256}"


@dataclass(frozen=True)
class Plan:
    """The latest revocation plan as recorded in the incident's event log."""

    made_at: datetime
    summary: str
    policy: str | None
    deadline_met: bool | None  # None: no verdict recorded with the plan
    batches: list[dict[str, Any]]
    verdict: Verdict | None = None


@dataclass(frozen=True)
class IncidentReport:
    generated_at: datetime
    incident_id: int
    title: str
    br_item: int
    br_summary: str
    reason: str
    aware_at: datetime
    deadline: datetime
    state: str
    explanation_url: str | None
    details: dict[str, Any]
    actions: list[ActionItem]
    counts: Counts  # distinct final certificates
    precertificates: Counts  # precertificates without a final certificate
    weeks: list[Week]
    planned_total: int  # certificates
    planned_total_precertificates: int
    plan: Plan | None
    heuristic: str
    affected_types: list[tuple[str, int]]  # "profile (key type)", certificates
    first_issued: datetime | None
    last_issued: datetime | None
    timeline: list[TimelineEntry]
    remaining_actual: list[Point]
    remaining_planned: list[Point]
    shards: list[ShardBar]
    budget_bytes: int
    undelivered: list[dict[str, Any]]
    csv_files: list[str] = field(default_factory=list)

    @property
    def open_actions(self) -> list[ActionItem]:
        return [a for a in self.actions if a.status.open]

    @property
    def reconciles(self) -> bool:
        return self.counts.reconciles() and self.precertificates.reconciles()
