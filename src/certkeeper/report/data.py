"""The incident report as JSON: the same figures the Markdown and HTML reports print.

For tools that post updates or check them: the ledger (certificates and precertificates
without a final certificate apart, never added), the plan with its stored verdict and
the very sentence the other renderers print, the weeks, the shards and the CSV files.
"""

from __future__ import annotations

import json
from typing import Any

from certkeeper.report.model import IncidentReport


def report_data(report: IncidentReport) -> dict[str, Any]:
    plan = report.plan
    return {
        "incident": report.incident_id,
        "title": report.title,
        "generated_at": report.generated_at.isoformat(),
        "br_item": report.br_item,
        "reason": report.reason,
        "aware_at": report.aware_at.isoformat(),
        "deadline": report.deadline.isoformat(),
        "state": report.state,
        "certificates": report.counts.to_dict(),
        "precertificates_without_final": report.precertificates.to_dict(),
        "reconciles": report.reconciles,
        "planned_total": report.planned_total,
        "planned_total_precertificates": report.planned_total_precertificates,
        "plan": None
        if plan is None
        else {
            "made_at": plan.made_at.isoformat(),
            "policy": plan.policy,
            "summary": plan.summary,  # the sentence `incident plan` printed
            "deadline_met": plan.deadline_met,
            "verdict": None if plan.verdict is None else plan.verdict.to_dict(),
            "batches": plan.batches,
        },
        "weeks": [w.to_dict() for w in report.weeks],
        "shards": [
            {
                "issuer": s.issuer,
                "shard": s.shard,
                "bytes": s.bytes,
                "bytes_if_remaining_revoked_now": s.projected_bytes,
                "budget_bytes": report.budget_bytes,
            }
            for s in report.shards
        ],
        "action_items": [a.to_dict() for a in report.actions],
        "undelivered_notifications": report.undelivered,
        "csv_files": report.csv_files,
    }


def render_report(report: IncidentReport) -> str:
    return json.dumps(report_data(report), indent=2, sort_keys=False) + "\n"
