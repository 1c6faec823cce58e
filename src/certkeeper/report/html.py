"""The incident report as one self-contained HTML file: inline CSS, inline SVG charts.

No script and no external asset: the file can be attached to a bug, archived, and
opened offline. Every value that came from a person or the database goes through
`html.escape`, so a hostile incident title is shown, never executed.
"""

from __future__ import annotations

from collections.abc import Sequence
from html import escape

from certkeeper.report import svg
from certkeeper.report import text as t
from certkeeper.report.model import IncidentReport

_CSS = """
body { font-family: sans-serif; max-width: 1000px; margin: 2em auto; color: #1a202c;
       line-height: 1.45; padding: 0 1em; }
h1 { font-size: 1.6em; } h2 { border-bottom: 1px solid #cbd5e0; padding-bottom: .2em; }
table { border-collapse: collapse; margin: .8em 0; }
th, td { border: 1px solid #cbd5e0; padding: .25em .6em; text-align: left;
         vertical-align: top; }
td.n { text-align: right; font-variant-numeric: tabular-nums; }
dl { display: grid; grid-template-columns: minmax(12em, 19em) 1fr; gap: .35em 1em; }
dt { font-weight: bold; } dd { margin: 0; } dd p:first-child { margin-top: 0; }
dd p:last-child { margin-bottom: 0; }
dd ul { margin: 0; padding-left: 1.2em; }
.missing { color: #975a16; font-style: italic; }
.bad { color: #c53030; font-weight: bold; }
figure { margin: 1em 0; } figcaption { font-size: .9em; color: #4a5568; }
"""


def esc(value: object) -> str:
    return escape(str(value), quote=True)


def _para(value: object) -> str:
    paragraphs = [p for p in str(value).strip().split("\n\n") if p.strip()]
    return "".join(f"<p>{esc(p).replace(chr(10), '<br>')}</p>" for p in paragraphs)


def _entered(report: IncidentReport, key: str) -> str:
    value = report.details.get(key)
    if value is None:
        return f'<span class="missing">{esc(t.NOT_ENTERED)}</span>'
    return _para(value)


def _line(report: IncidentReport, key: str) -> str:
    value = report.details.get(key)
    if value is None:
        return f'<span class="missing">{esc(t.NOT_ENTERED)}</span>'
    return esc(value)


def _issuance(report: IncidentReport) -> str:
    if "issuance_stopped" not in report.details and "issuance_explanation" not in report.details:
        return f'<span class="missing">{esc(t.NOT_ENTERED)}</span>'
    return _para(t.issuance_sentence(report))


def _time(report: IncidentReport, key: str) -> str:
    if report.details.get(key) is None:
        return f'<span class="missing">{esc(t.NOT_ENTERED)}</span>'
    return esc(t.entered_time(report, key))


def _list(items: Sequence[object]) -> str:
    if not items:
        return f'<span class="missing">{esc(t.NOT_ENTERED)}</span>'
    return "<ul>" + "".join(f"<li>{esc(i)}</li>" for i in items) + "</ul>"


def _table(
    header: Sequence[str], rows: Sequence[Sequence[str]], numeric: set[int] | None = None
) -> str:
    numeric = numeric or set()
    head = "".join(f'<th scope="col">{esc(h)}</th>' for h in header)
    body = "".join(
        "<tr>"
        + "".join(
            f'<td class="n">{esc(c)}</td>' if i in numeric else f"<td>{esc(c)}</td>"
            for i, c in enumerate(row)
        )
        + "</tr>"
        for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _dl(pairs: Sequence[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{esc(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def render_report(report: IncidentReport) -> str:
    d = report.details
    c = report.counts
    p = report.precertificates
    parts: list[str] = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        '<meta name="viewport" content="width=device-width, initial-scale=1">',
        f"<title>Incident {report.incident_id}: {esc(report.title)}</title>",
        f"<style>{_CSS}</style></head><body>",
        f"<h1>Incident {report.incident_id}: {esc(report.title)}</h1>",
        f"<p>Full incident report, generated {esc(t.when_seconds(report.generated_at))}.</p>",
        "<h2>Summary</h2>",
        _dl(
            [
                ("CA Owner CCADB unique ID", _line(report, "ca_owner_id")),
                ("Incident description", _entered(report, "description")),
                ("Non-compliance start date", _time(report, "non_compliance_start")),
                ("Non-compliance identified date", esc(t.when(report.aware_at))),
                ("Non-compliance end date", _time(report, "non_compliance_end")),
                ("Relevant policies", _list(t.relevant_policies(report))),
                ("Source of incident disclosure", _line(report, "source_of_disclosure")),
            ]
        ),
        "<h2>Impact</h2>",
        _dl(
            [
                ("Total number of certificates", esc(t.num(c.affected))),
                ('Total number of "remaining valid" certificates', esc(t.num(c.remaining))),
                (
                    "Precertificates without a final certificate",
                    esc(f"{t.num(p.affected)} ({t.num(p.remaining)} remaining valid)"),
                ),
                ("Affected certificate types", esc(t.affected_types(report))),
                ("Issued", esc(t.issued_range(report))),
                ("Incident heuristic", esc(report.heuristic)),
                (
                    "Was issuance stopped in response to this incident, and why or why not?",
                    _issuance(report),
                ),
                ("Analysis", _entered(report, "analysis")),
                ("Additional considerations", _entered(report, "additional_considerations")),
            ]
        ),
        f"<p>{esc(t.deadline_sentence(report))} {esc(t.plan_sentence(report))}</p>",
        f"<p>Revocation ledger as of {esc(t.when_seconds(report.generated_at))}:</p>",
        _table(
            ["Line", "Certificates", "Precertificates without final certificate"],
            [[line, t.num(a), t.num(b)] for line, a, b in t.ledger_rows(report)],
            {1, 2},
        ),
        (
            f"<p>{esc(t.reconcile_sentence(report))}</p>"
            if report.reconciles
            else f'<p class="bad">{esc(t.reconcile_sentence(report))}</p>'
        ),
        "<figure>",
        svg.remaining_chart(
            report.remaining_actual, report.remaining_planned, report.deadline, c.affected
        ),
        "<figcaption>Remaining certificates: actual (filled, up to the report time) and "
        "planned (dashed), against the revocation deadline (vertical line). The table "
        "below gives the same figures week by week.</figcaption>",
        "</figure>",
        "<figure>",
        svg.shard_chart(report.shards, report.budget_bytes),
        "<figcaption>CRL size per issuing CA and shard now (dark) and if every remaining "
        "affected certificate were revoked now (light), against the byte budget "
        "(horizontal line). The appendix lists the same sizes.</figcaption>",
        "</figure>",
        "<p>Week by week (week 1 starts when the CA was made aware):</p>",
        _table(t.WEEK_COLUMNS, t.week_cells(report), {0, 3, 4, 5, 6, 7}),
        "<h2>Timeline</h2>",
        "<p>All times are UTC.</p>",
        "<ul>"
        + "".join(f"<li>{esc(t.when(e.at))}: {esc(e.text)}</li>" for e in report.timeline)
        + "</ul>",
        "<h2>Related Incidents</h2>",
    ]
    related = d.get("related_incidents", [])
    parts.append(
        _table(
            ["Bug", "Date", "Description"],
            [[r["bug"], r["date"], r["description"]] for r in related],
        )
        if related
        else "<p>None.</p>"
    )
    parts += [
        "<h2>Root Cause Analysis</h2>",
        _entered(report, "root_cause_analysis"),
        _dl([("Root Cause Analysis methodology used", _line(report, "rca_methodology"))]),
        "<h2>Lessons Learned</h2>",
        _dl(
            [
                ("What went well", _list(d.get("went_well", []))),
                ("What didn't go well", _list(d.get("went_poorly", []))),
                ("Where we got lucky", _list(d.get("got_lucky", []))),
                ("Additional", _list(d.get("lessons_additional", []))),
            ]
        ),
        "<h2>Action Items</h2>",
    ]
    if report.actions:
        parts.append(
            _table(
                [
                    "#",
                    "Action Item",
                    "Kind",
                    "Corresponding Root Cause(s)",
                    "Evaluation Criteria",
                    "Due Date",
                    "Status",
                ],
                [
                    [
                        str(a.number),
                        a.description,
                        a.kind.value,
                        a.root_cause,
                        a.criteria,
                        a.due.isoformat(),
                        a.status.value,
                    ]
                    for a in report.actions
                ],
            )
        )
    else:
        parts.append(f'<p class="missing">{esc(t.NOT_ENTERED)}</p>')
    parts += ["<h2>Appendix</h2>", "<h3>Details of affected certificates</h3>"]
    if report.csv_files:
        parts.append(
            "<p>Attached CSV files (columns sha256, serial, issuer, not_before, not_after, "
            f"status as of {esc(t.when_seconds(report.generated_at))}, crt.sh link):</p>"
        )
        parts.append(_list(report.csv_files))
    else:
        parts.append("<p>No affected-certificate files were written with this report.</p>")
    parts += [
        "<h3>CRL shards holding affected certificates</h3>",
        _table(
            ["Issuer", "Shard", "Bytes now", "Bytes if all remaining revoked now", "Budget"],
            [
                [
                    s.issuer,
                    str(s.shard),
                    t.num(s.bytes),
                    t.num(s.projected_bytes),
                    t.num(report.budget_bytes),
                ]
                for s in report.shards
            ],
            {1, 2, 3, 4},
        ),
    ]
    if report.explanation_url:
        parts.append(
            f"<p>Explanation served to ACME clients (ARI): {esc(report.explanation_url)}</p>"
        )
    parts.append("</body></html>")
    return "\n".join(parts) + "\n"
