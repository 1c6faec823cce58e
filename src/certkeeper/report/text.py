"""Shared wording for both renderers: numbers, times and the ledger's lines.

The Markdown and HTML reports must say the same thing; the labels and number formats
live here once so a reviewer comparing the two (or a test parsing either) sees
identical figures.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from certkeeper.report.model import IncidentReport
from certkeeper.revocation.ledger import Counts

NOT_ENTERED = "Not yet entered."


def num(n: int) -> str:
    return f"{n:,}"


def when(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M UTC")


def when_seconds(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d %H:%M:%S UTC")


def day(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%d")


def span(delta: timedelta) -> str:
    seconds = int(abs(delta.total_seconds()))
    return f"{seconds // 86400}d {seconds % 86400 // 3600}h {seconds % 3600 // 60}m"


def ledger_rows(report: IncidentReport) -> list[tuple[str, int, int]]:
    """(line, certificates, precertificates without final) in a fixed order."""
    c: Counts = report.counts
    p: Counts = report.precertificates
    return [
        ("Affected", c.affected, p.affected),
        ("Revoked", c.revoked, p.revoked),
        ("Expired before revocation", c.expired, p.expired),
        ("Remaining (valid, not revoked)", c.remaining, p.remaining),
        ("Planned to be revoked by now", c.planned_by_now, p.planned_by_now),
    ]


WEEK_COLUMNS = (
    "Week",
    "From",
    "To",
    "Revoked in week",
    "Revoked, cumulative",
    "Expired in week",
    "Expired, cumulative",
    "Remaining at end",
)


def week_cells(report: IncidentReport) -> list[list[str]]:
    return [
        [
            str(w.number),
            when(w.start),
            when(w.end),
            num(w.revoked_in_week),
            num(w.revoked_cumulative),
            num(w.expired_in_week),
            num(w.expired_cumulative),
            num(w.remaining_at_end),
        ]
        for w in report.weeks
    ]


def deadline_sentence(report: IncidentReport) -> str:
    left = report.deadline - report.generated_at
    ahead = left.total_seconds() > 0
    state = f"{span(left)} from now" if ahead else f"passed {span(left)} ago"
    return f"Revocation deadline {when(report.deadline)} ({state})."


def progress_sentence(report: IncidentReport) -> str:
    c = report.counts
    return (
        f"As of {when_seconds(report.generated_at)}: {num(c.affected)} affected certificates = "
        f"{num(c.revoked)} revoked + {num(c.expired)} expired before revocation + "
        f"{num(c.remaining)} remaining."
    )


def reconcile_sentence(report: IncidentReport) -> str:
    if report.reconciles:
        return "The ledger reconciles: affected = revoked + expired before revocation + remaining."
    return "THE LEDGER DOES NOT RECONCILE: affected differs from revoked + expired + remaining."


def plan_sentence(report: IncidentReport) -> str:
    if report.plan is None:
        return "No revocation plan has been made."
    p = report.plan
    # the verdict's own sentence (revocation/verdict.py), as plan and status print it
    summary = p.verdict.summary(report.incident_id) if p.verdict else p.summary.strip()
    if summary and summary[-1] not in ".!?":
        summary += "."
    policy = f" (policy {p.policy})" if p.policy else ""
    return f"Plan of {when(p.made_at)}{policy}: {summary}"


def issuance_sentence(report: IncidentReport) -> str:
    d = report.details
    stopped = d.get("issuance_stopped")
    if stopped is None:
        head = NOT_ENTERED
    elif stopped:
        head = "Yes"
        if "issuance_stopped_at" in d:
            head += f", stopped at {when(datetime.fromisoformat(d['issuance_stopped_at']))}"
        if "issuance_resumed_at" in d:
            head += f", resumed at {when(datetime.fromisoformat(d['issuance_resumed_at']))}"
        head += "."
    else:
        head = "No."
    why = d.get("issuance_explanation")
    return head if why is None else f"{head} {why}"


def affected_types(report: IncidentReport) -> str:
    entered = report.details.get("affected_types")
    if entered:
        return str(entered)
    if not report.affected_types:
        return "None (no final certificates)."
    return "; ".join(f"{label}: {num(n)}" for label, n in report.affected_types)


def issued_range(report: IncidentReport) -> str:
    if report.first_issued is None or report.last_issued is None:
        return "None (no final certificates)."
    return f"first {when(report.first_issued)}, last {when(report.last_issued)} (notBefore)"


def relevant_policies(report: IncidentReport) -> list[str]:
    entered = report.details.get("relevant_policies")
    if entered:
        return [str(p) for p in entered]
    return [
        f"TLS Baseline Requirements section 4.9.1.1, item {report.br_item}: {report.br_summary}"
    ]


def entered_time(report: IncidentReport, key: str) -> str:
    value = report.details.get(key)
    return NOT_ENTERED if value is None else when(datetime.fromisoformat(value))


def batches_to_run(report: IncidentReport) -> list[str]:
    """The plan's batches still in the future at the report time, one sentence each."""
    if report.plan is None:
        return []
    out = []
    for batch in report.plan.batches:
        try:
            at = datetime.fromisoformat(str(batch["at"]))
            number, count = int(batch["batch"]), int(batch["certificates"])
            pre = int(batch.get("precertificates", 0))
        except (KeyError, TypeError, ValueError):
            continue
        if at > report.generated_at:
            also = f" and {num(pre)} precertificates" if pre else ""
            out.append(f"Batch {number}: {num(count)} certificates{also} at {when(at)}.")
    return out
