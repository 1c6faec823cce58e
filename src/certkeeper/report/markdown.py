"""The CCADB full incident report and the weekly status update, as Markdown.

Sections follow the CCADB incident report template as CA Owners file it on Bugzilla:
Summary, Impact, Timeline, Related Incidents, Root Cause Analysis, Lessons Learned,
Action Items, Appendix. Everything typed in by people is escaped, so a title or a
description cannot inject links, tables or HTML into the rendered bug.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from certkeeper.report import text as t
from certkeeper.report.model import IncidentReport

_SPECIAL = re.compile(r"([\\`*_\[\]<>|#~])")


def inline(value: object) -> str:
    """Plain text safe inside a Markdown line or table cell."""
    return _SPECIAL.sub(r"\\\1", " ".join(str(value).split()))


def block(value: object) -> str:
    """Plain multi-paragraph text: paragraphs kept, every line escaped."""
    paragraphs = re.split(r"\n\s*\n", str(value).strip())
    return "\n\n".join(
        "  \n".join(inline(line) for line in p.splitlines() if line.strip()) for p in paragraphs
    )


def table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    out = ["| " + " | ".join(inline(h) for h in header) + " |"]
    out.append("|" + "|".join("---" for _ in header) + "|")
    out += ["| " + " | ".join(cell for cell in row) + " |" for row in rows]
    return out


def _field(label: str, value: str) -> str:
    return f"- **{label}:** {value}".rstrip()


def _entered(report: IncidentReport, key: str) -> str:
    value = report.details.get(key)
    return t.NOT_ENTERED if value is None else block(value)


def _line(report: IncidentReport, key: str) -> str:
    return inline(report.details.get(key, t.NOT_ENTERED))


def _bullets(items: Sequence[object], indent: str = "  ") -> list[str]:
    if not items:
        return [f"{indent}- {t.NOT_ENTERED}"]
    return [f"{indent}- {inline(i)}" for i in items]


def ledger_lines(report: IncidentReport) -> list[str]:
    rows = [[inline(line), t.num(c), t.num(p)] for line, c, p in t.ledger_rows(report)]
    lines = [f"Revocation ledger as of {t.when_seconds(report.generated_at)}:", ""]
    lines += table(["Line", "Certificates", "Precertificates without final certificate"], rows)
    lines += ["", inline(t.reconcile_sentence(report))]
    return lines


def weeks_lines(report: IncidentReport) -> list[str]:
    cells = [[inline(c) for c in row] for row in t.week_cells(report)]
    return [
        "Week by week (week 1 starts when the CA was made aware; per-week and cumulative "
        "figures are labelled):",
        "",
        *table(t.WEEK_COLUMNS, cells),
    ]


def actions_lines(report: IncidentReport, only_open: bool = False) -> list[str]:
    items = report.open_actions if only_open else report.actions
    if not items:
        return ["None." if only_open else t.NOT_ENTERED]
    rows = [
        [
            str(a.number),
            inline(a.description),
            a.kind.value,
            inline(a.root_cause),
            inline(a.criteria),
            a.due.isoformat(),
            a.status.value,
        ]
        for a in items
    ]
    header = [
        "#",
        "Action Item",
        "Kind",
        "Corresponding Root Cause(s)",
        "Evaluation Criteria",
        "Due Date",
        "Status",
    ]
    return table(header, rows)


def _title(report: IncidentReport) -> str:
    return f"Incident {report.incident_id}: {inline(report.title)}"


def render_report(report: IncidentReport) -> str:
    d = report.details
    c = report.counts
    lines = [
        f"# {_title(report)}",
        "",
        f"Full incident report, generated {t.when_seconds(report.generated_at)}.",
        "",
        "## Summary",
        "",
        _field("CA Owner CCADB unique ID", _line(report, "ca_owner_id")),
        _field("Incident description", _entered(report, "description")),
        _field("Timeline summary", ""),
        "  " + _field("Non-compliance start date", t.entered_time(report, "non_compliance_start")),
        "  " + _field("Non-compliance identified date", t.when(report.aware_at)),
        "  " + _field("Non-compliance end date", t.entered_time(report, "non_compliance_end")),
        _field("Relevant policies", ""),
        *_bullets(t.relevant_policies(report)),
        _field(
            "Source of incident disclosure", inline(d.get("source_of_disclosure", t.NOT_ENTERED))
        ),
        "",
        "## Impact",
        "",
        _field("Total number of certificates", t.num(c.affected)),
        _field('Total number of "remaining valid" certificates', t.num(c.remaining)),
        _field(
            "Precertificates without a final certificate",
            f"{t.num(report.precertificates.affected)} "
            f"({t.num(report.precertificates.remaining)} remaining valid)",
        ),
        _field("Affected certificate types", inline(t.affected_types(report))),
        _field("Issued", inline(t.issued_range(report))),
        _field("Incident heuristic", inline(report.heuristic)),
        _field(
            "Was issuance stopped in response to this incident, and why or why not?",
            block(t.issuance_sentence(report)),
        ),
        _field("Analysis", _entered(report, "analysis")),
        _field("Additional considerations", _entered(report, "additional_considerations")),
        "",
        inline(t.deadline_sentence(report)) + " " + inline(t.plan_sentence(report)),
        "",
        *ledger_lines(report),
        "",
        *weeks_lines(report),
        "",
        "## Timeline",
        "",
        "All times are UTC.",
        "",
    ]
    lines += [f"- {t.when(e.at)}: {inline(e.text)}" for e in report.timeline]
    lines += ["", "## Related Incidents", ""]
    related = d.get("related_incidents", [])
    if related:
        rows = [[inline(r["bug"]), r["date"], inline(r["description"])] for r in related]
        lines += table(["Bug", "Date", "Description"], rows)
    else:
        lines.append("None.")
    lines += [
        "",
        "## Root Cause Analysis",
        "",
        _entered(report, "root_cause_analysis"),
        "",
        _field(
            "Root Cause Analysis methodology used", inline(d.get("rca_methodology", t.NOT_ENTERED))
        ),
        "",
        "## Lessons Learned",
        "",
        _field("What went well", ""),
        *_bullets(d.get("went_well", [])),
        _field("What didn't go well", ""),
        *_bullets(d.get("went_poorly", [])),
        _field("Where we got lucky", ""),
        *_bullets(d.get("got_lucky", [])),
        _field("Additional", ""),
        *_bullets(d.get("lessons_additional", [])),
        "",
        "## Action Items",
        "",
        *actions_lines(report),
        "",
        "## Appendix",
        "",
        "### Details of affected certificates",
        "",
    ]
    if report.csv_files:
        lines.append(
            "Attached CSV files (columns sha256, serial, issuer, not_before, not_after, "
            f"status as of {t.when_seconds(report.generated_at)}, crt.sh link):"
        )
        lines.append("")
        lines += [f"- {inline(name)}" for name in report.csv_files]
    else:
        lines.append("No affected-certificate files were written with this report.")
    lines += ["", "### CRL shards holding affected certificates", ""]
    if report.shards:
        rows = [
            [
                inline(s.issuer),
                str(s.shard),
                t.num(s.bytes),
                t.num(s.projected_bytes),
                t.num(report.budget_bytes),
            ]
            for s in report.shards
        ]
        lines += table(
            ["Issuer", "Shard", "Bytes now", "Bytes if all remaining revoked now", "Budget"],
            rows,
        )
    else:
        lines.append("None.")
    if report.explanation_url:
        lines += ["", f"Explanation served to ACME clients (ARI): <{report.explanation_url}>"]
    return "\n".join(lines) + "\n"


def render_update(report: IncidentReport) -> str:
    """The weekly status update: reconciled ledger, weekly table, undelivered notices,
    next steps."""
    d = report.details
    lines = [
        f"# Weekly status update: {_title(report)}",
        "",
        inline(t.progress_sentence(report)),
        "",
        inline(t.deadline_sentence(report)) + " " + inline(t.plan_sentence(report)),
        "",
        "## Reconciled ledger",
        "",
        *ledger_lines(report),
        "",
        f"Planned to be revoked by now: {t.num(report.counts.planned_by_now)}; "
        f"actually revoked: {t.num(report.counts.revoked)}; "
        f"planned in total: {t.num(report.planned_total)} "
        f"(precertificates without a final certificate: "
        f"{t.num(report.precertificates.planned_by_now)} by now, "
        f"{t.num(report.planned_total_precertificates)} in total).",
        "",
        "## Week by week",
        "",
        *weeks_lines(report),
        "",
        "## Undelivered subscriber notifications",
        "",
    ]
    if report.undelivered:
        rows = [
            [
                inline(n.get("subscriber", "")),
                inline(n.get("address", "")),
                inline(n.get("kind", "")),
                inline(n.get("state", "")),
                str(n.get("attempts", 0)),
                inline(n.get("error") or ""),
            ]
            for n in report.undelivered
        ]
        lines += table(
            ["Subscriber", "Address", "Contact", "State", "Attempts", "Last error"], rows
        )
    else:
        lines.append("None.")
    lines += ["", "## Next steps", ""]
    batches = t.batches_to_run(report)
    if batches:
        lines += ["Revocation batches still to run:", ""]
        lines += [f"- {inline(b)}" for b in batches]
        lines.append("")
    lines += ["Open action items:", "", *actions_lines(report, True)]
    if "next_update" in d:
        lines += ["", f"Next update: {t.entered_time(report, 'next_update')}."]
    return "\n".join(lines) + "\n"
