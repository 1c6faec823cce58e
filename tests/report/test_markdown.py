"""The Markdown report and weekly update: every ledger number read back from the text
equals the ledger's, and text typed in by people cannot change the document's shape."""

from __future__ import annotations

import re
from dataclasses import replace
from datetime import timedelta

from hypothesis import given
from hypothesis import strategies as st

from certkeeper import wiring
from certkeeper.report import markdown
from certkeeper.revocation.ledger import Counts
from certkeeper.store.incidents import IncidentStore

from .conftest import Campaign

LEDGER_LINES = {
    "Affected": "affected",
    "Revoked": "revoked",
    "Expired before revocation": "expired",
    "Remaining (valid, not revoked)": "remaining",
    "Planned to be revoked by now": "planned_by_now",
}


def number(text: str) -> int:
    return int(text.replace(",", ""))


def bullet(md: str, label: str) -> int:
    match = re.search(r"^- \*\*" + re.escape(label) + r":\*\* ([\d,]+)", md, re.M)
    assert match, f"no {label!r} line"
    return number(match.group(1))


def table_after(md: str, heading: str) -> list[list[str]]:
    """The first Markdown table after a line starting with `heading`."""
    lines = md.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    rows = []
    for line in lines[start + 1 :]:
        if line.startswith("|"):
            rows.append([c.strip() for c in line.strip("|").split(" | ")])
        elif rows:
            break
    return rows[2:]  # header and separator


def parse_ledger(md: str) -> tuple[dict[str, int], dict[str, int]]:
    certs: dict[str, int] = {}
    pres: dict[str, int] = {}
    for line, c, p in table_after(md, "Revocation ledger as of"):
        certs[LEDGER_LINES[line]] = number(c)
        pres[LEDGER_LINES[line]] = number(p)
    return certs, pres


def counts_dict(c: Counts) -> dict[str, int]:
    return {k: getattr(c, k) for k in LEDGER_LINES.values()}


def parse_weeks(md: str) -> list[tuple[int, ...]]:
    rows = table_after(md, "Week by week")
    return [(int(r[0]), *(number(v) for v in r[3:])) for r in rows]


def test_markdown_report_round_trips_the_ledger_numbers(campaign: Campaign) -> None:
    for at in (campaign.now, campaign.now + timedelta(days=200)):  # later: all expired
        status = wiring.build(campaign.ca).incidents.status(campaign.incident_id, at)
        md = markdown.render_report(
            wiring.build(campaign.ca).reports.build_report(campaign.incident_id, at)
        )
        certs, pres = parse_ledger(md)
        assert certs == counts_dict(status.counts)
        assert pres == counts_dict(status.precertificates)
        assert certs["affected"] == certs["revoked"] + certs["expired"] + certs["remaining"]
        assert bullet(md, "Total number of certificates") == status.counts.affected
        assert (
            bullet(md, 'Total number of "remaining valid" certificates') == status.counts.remaining
        )
        assert bullet(md, "Precertificates without a final certificate") == (
            status.precertificates.affected
        )
        assert parse_weeks(md) == [
            (
                w.number,
                w.revoked_in_week,
                w.revoked_cumulative,
                w.expired_in_week,
                w.expired_cumulative,
                w.remaining_at_end,
            )
            for w in status.weeks
        ]
    # the fixture's campaign: the first chunk of two items was revoked before the power
    # cut (which two depends on the random serials: a certificate or the precertificate)
    status = wiring.build(campaign.ca).incidents.status(campaign.incident_id, campaign.now)
    assert status.counts.revoked + status.precertificates.revoked == 2
    assert status.counts.remaining + status.precertificates.remaining == 5


def test_weekly_update_has_ledger_weeks_notifications_and_next_steps(
    campaign: Campaign,
) -> None:
    from certkeeper.revocation import details

    store = IncidentStore(campaign.ca.inventory.engine)
    details.add_action(
        store,
        campaign.incident_id,
        {
            "kind": "Prevent",
            "description": "Lint keyUsage against the profile at issuance",
            "root_cause": "Root Cause #1",
            "criteria": "No certificate issued with keyEncipherment on an ECDSA key",
            "due": "2026-12-15",
            "status": "In Progress",
        },
        now=campaign.now,
        who="tester",
    )
    details.add_action(
        store,
        campaign.incident_id,
        {
            "kind": "Detect",
            "description": "Done already",
            "root_cause": "Root Cause #1",
            "criteria": "n/a",
            "due": "2026-11-30",
            "status": "Complete",
        },
        now=campaign.now,
        who="tester",
    )
    report = wiring.build(campaign.ca).reports.build_report(campaign.incident_id, campaign.now)
    report = replace(
        report,
        undelivered=[
            {
                "subscriber": "sub|1",
                "address": "ops@example.com",
                "kind": "primary",
                "state": "failed",
                "attempts": 3,
                "error": "550 mailbox unavailable",
            }
        ],
    )
    md = markdown.render_update(report)
    status = wiring.build(campaign.ca).incidents.status(campaign.incident_id, campaign.now)
    certs, _ = parse_ledger(md)
    assert certs == counts_dict(status.counts)
    assert parse_weeks(md)[-1][-1] == status.counts.remaining
    assert f"actually revoked: {status.counts.revoked}" in md
    notices = table_after(md, "## Undelivered subscriber notifications")
    assert notices == [
        ["sub\\|1", "ops@example.com", "primary", "failed", "3", "550 mailbox unavailable"]
    ]
    open_items = table_after(md, "Open action items:")
    assert [r[1] for r in open_items] == ["Lint keyUsage against the profile at issuance"]


HOSTILE = st.text(
    alphabet=st.sampled_from(list("ab |*_[]()<>#`\\!\n-")), min_size=1, max_size=40
).filter(lambda s: s.strip())


@given(HOSTILE)
def test_inline_text_never_adds_a_table_cell_or_markup(text: str) -> None:
    cell = markdown.inline(text)
    assert "\n" not in cell
    unescaped = re.sub(r"\\.", "", cell)
    assert not set(unescaped) & set("|*_[]<>#`\\")
    row = markdown.table(["a", "b"], [[cell, "x"]])[2]
    assert len(re.findall(r"(?<!\\)\|", row)) == 3


def test_a_hostile_title_stays_one_heading(campaign: Campaign) -> None:
    report = wiring.build(campaign.ca).reports.build_report(campaign.incident_id, campaign.now)
    md = markdown.render_report(replace(report, title="x | <script>alert(1)</script>\n# fake"))
    first = md.splitlines()[0]
    assert first.startswith("# Incident 1: x \\| \\<script\\>")
    assert "\n# fake" not in md and "<script>" not in md


def test_weekly_update_lists_the_batches_still_to_run(campaign: Campaign) -> None:
    from certkeeper.report.model import Plan
    from certkeeper.revocation.verdict import Tally, Verdict

    report = wiring.build(campaign.ca).reports.build_report(campaign.incident_id, campaign.now)
    later = campaign.now + timedelta(days=3)
    verdict = Verdict(
        deadline=campaign.now + timedelta(days=1),
        certificates=Tally(total=1236, in_time=2, late=1234),
        precertificates=Tally(total=1, in_time=1),
        batches=2,
        last_planned=later,
        budget_bytes=10_000,
        budget_to_meet_deadline=61_000,
    )
    plan = Plan(
        made_at=campaign.now,
        summary="stale text the renderer must not trust",
        policy="soonest-expiry",
        deadline_met=False,
        batches=[
            {"batch": 0, "certificates": 2, "at": campaign.now.isoformat()},
            {"batch": 1, "certificates": 1234, "precertificates": 1, "at": later.isoformat()},
        ],
        verdict=verdict,
    )
    md = markdown.render_update(replace(report, plan=plan))
    steps = md[md.index("## Next steps") :]
    assert (
        f"- Batch 1: 1,234 certificates and 1 precertificates at {later:%Y-%m-%d %H:%M} UTC."
        in steps
    )
    assert "Batch 0" not in steps  # already due: not a next step
    assert "DEADLINE MISSED" in md and "1,234 of 1,236 certificates (1,234 planned after" in md
    assert "--override-budget 61000" in md and "meets the deadline" not in md
    assert "stale text" not in md


def test_the_weekly_update_needs_no_pass_over_the_rows(campaign: Campaign) -> None:
    full = wiring.build(campaign.ca).reports.build_report(campaign.incident_id, campaign.now)
    lean = wiring.build(campaign.ca).reports.build_report(
        campaign.incident_id, campaign.now, with_rows=False
    )
    assert lean.counts == full.counts and lean.weeks == full.weeks
    assert lean.affected_types == [] and full.affected_types == [("tls-dv-ecdsa (ecdsa-p256)", 6)]
    assert markdown.render_update(lean) == markdown.render_update(full)
