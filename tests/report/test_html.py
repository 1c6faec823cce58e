"""The HTML report: self-contained (no script, no external asset), escaped, with
accessible charts that are well-formed SVG."""

from __future__ import annotations

import itertools
import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser

import pytest
from hypothesis import given
from hypothesis import strategies as st

from certkeeper import wiring
from certkeeper.report import html
from certkeeper.revocation import details
from certkeeper.store.incidents import IncidentStore

from .conftest import Campaign

HOSTILE = '<script>alert("x")</script><img src=x onerror=alert(1)> & "quotes" \'single\''


class Tags(HTMLParser):
    def __init__(self) -> None:
        super().__init__()
        self.tags: list[str] = []
        self.attrs: list[tuple[str, str | None]] = []
        self.text: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.tags.append(tag)
        self.attrs += attrs

    def handle_data(self, data: str) -> None:
        self.text.append(data)


def test_hostile_text_is_shown_never_executed(campaign: Campaign) -> None:
    store = IncidentStore(campaign.ca.inventory.engine)
    details.update_details(
        store,
        campaign.incident_id,
        now=campaign.now,
        who="x",
        sets=[("description", HOSTILE), ("source_of_disclosure", HOSTILE)],
        adds=[
            ("related_incidents", f"1|2026-01-01|{HOSTILE}"),
            ("went_well", HOSTILE),
            ("timeline", f"2026-11-01T00:00Z|{HOSTILE}"),
        ],
    )
    details.add_action(
        store,
        campaign.incident_id,
        {
            "kind": "Mitigate",
            "description": HOSTILE,
            "root_cause": HOSTILE,
            "criteria": HOSTILE,
            "due": "2026-12-01",
            "status": "In Progress",
        },
        now=campaign.now,
        who="x",
    )
    report = wiring.build(campaign.ca).reports.build_report(campaign.incident_id, campaign.now)
    page = html.render_report(replace(report, title=HOSTILE, csv_files=[HOSTILE]))

    parser = Tags()
    parser.feed(page)
    assert not {"script", "img", "iframe", "object", "embed", "link"} & set(parser.tags)
    assert not [name for name, _ in parser.attrs if name.startswith("on")]
    assert "<script" not in page.lower()
    # and the text is there for the reader, exactly as typed
    text = "".join(parser.text)
    assert text.count(HOSTILE) >= 8


def test_the_page_is_self_contained(campaign: Campaign) -> None:
    page = html.render_report(
        wiring.build(campaign.ca).reports.build_report(campaign.incident_id, campaign.now)
    )
    parser = Tags()
    parser.feed(page)
    assert "script" not in parser.tags
    for name, value in parser.attrs:
        assert name not in ("src", "href"), (name, value)
    assert not re.search(r"url\((?!#)|@import", page)  # only references inside the page
    assert parser.tags.count("style") == 1 and parser.tags.count("svg") == 2


def test_charts_are_accessible_well_formed_svg(campaign: Campaign) -> None:
    page = html.render_report(
        wiring.build(campaign.ca).reports.build_report(campaign.incident_id, campaign.now)
    )
    charts = re.findall(r"<svg.*?</svg>", page, re.S)
    assert len(charts) == 2
    ns = "{http://www.w3.org/2000/svg}"
    for chart in charts:
        root = ET.fromstring(chart)
        assert root.get("role") == "img"
        title = root.find(f"{ns}title")
        desc = root.find(f"{ns}desc")
        assert title is not None and title.text and desc is not None and desc.text
        assert root.get("aria-labelledby") == f"{title.get('id')} {desc.get('id')}"
        labels = [t.text for t in root.iter(f"{ns}text")]
        assert any(("deadline" in (label or "")) or ("budget" in (label or "")) for label in labels)
    remaining, shards = charts
    assert "Remaining certificates" in remaining and "Time (UTC)" in remaining
    assert "CRL size (bytes)" in shards
    report = wiring.build(campaign.ca).reports.build_report(campaign.incident_id, campaign.now)
    for bar in report.shards:  # which shards hold the items depends on the random serials
        assert f"{bar.issuer} / {bar.shard}" in shards
    # the table fallback gives the same numbers as the charts
    assert "Bytes if all remaining revoked now" in page and "Remaining at end" in page


@given(
    st.lists(
        st.tuples(st.integers(0, 5_000_000), st.integers(0, 5_000_000)), min_size=0, max_size=40
    ),
    st.integers(10_000, 20_000_000),
)
def test_every_shard_is_drawn_visibly_and_whole_pixels(
    sizes: list[tuple[int, int]], budget: int
) -> None:
    """Every shard has its bar (and its projected part when it grows), each non-empty
    part tall enough to see against the budget."""
    from certkeeper.report import svg
    from certkeeper.report.model import ShardBar

    bars = [ShardBar("ca <&>", i, now, now + extra) for i, (now, extra) in enumerate(sizes)]
    root = ET.fromstring(svg.shard_chart(bars, budget))
    ns = "{http://www.w3.org/2000/svg}"
    ids = {g.get("id") for g in root.iter(f"{ns}g")}
    assert {f"bar-now-{i}" for i in range(len(bars))} <= ids
    projected = {i for i, b in enumerate(bars) if b.projected_bytes > b.bytes}
    assert {i for i in range(len(bars)) if f"bar-projected-{i}" in ids} == projected
    top = max([budget, *[b.projected_bytes for b in bars]]) * 1.08
    for bar, (now, extra) in zip(bars, svg.visible_heights(bars, top), strict=True):
        assert now >= (top * svg.MIN_VISIBLE if bar.bytes > 0 else 0) and now >= bar.bytes
        assert extra >= (top * svg.MIN_VISIBLE if bar.projected_bytes > bar.bytes else 0)


def tick_labels(chart: str, axis: str) -> list[str]:
    ns = "{http://www.w3.org/2000/svg}"
    root = ET.fromstring(chart)
    return [
        t.text or ""
        for g in root.iter(f"{ns}g")
        if (g.get("id") or "").startswith(f"{axis}tick_")
        for t in g.iter(f"{ns}text")
    ]


def as_number(label: str) -> float:
    scale = {"k": 1e3, "M": 1e6}.get(label[-1:], 1.0)
    return float(label.rstrip("kM")) * scale


@pytest.mark.parametrize("hours", [3, 50, 24 * 40])
def test_axis_ticks_are_round_values_and_whole_times(hours: int) -> None:
    from datetime import UTC, datetime, timedelta

    from certkeeper.report import svg

    start = datetime(2026, 3, 2, 7, 13, 41, tzinfo=UTC)
    step = max(1, hours // 7)
    actual = [(start + timedelta(hours=h), 98_363 - 900 * h) for h in range(0, hours, step)]
    chart = svg.remaining_chart(actual, [], start + timedelta(hours=hours), 98_363)
    values = [as_number(t) for t in tick_labels(chart, "y")]
    assert len(values) >= 3 and values[0] == 0
    gaps = {round(b - a, 6) for a, b in itertools.pairwise(values)}
    (gap,) = gaps  # evenly spaced
    mantissa = gap / 10 ** int(f"{gap:e}".split("e")[1])
    assert mantissa in (1, 2, 2.5, 5), gaps
    times = [t for t in tick_labels(chart, "x") if ":" in t]
    assert all(re.search(r":(00|15|30|45)$", t) for t in times), times  # never 07:13
    assert not any(t.count(":") > 1 for t in times)


def test_crowded_shard_labels_are_turned_and_thinned() -> None:
    from certkeeper.report import svg
    from certkeeper.report.model import ShardBar

    few = svg.shard_chart([ShardBar("tls-ecdsa-1", i, 500, 900) for i in range(4)], 10_000)
    many = svg.shard_chart([ShardBar("tls-ecdsa-1", i, 500, 900) for i in range(120)], 10_000)
    assert "rotate(" not in "".join(re.findall(r'<g id="xtick_\d+">.*?</g>', few, re.S))
    shown = tick_labels(many, "x")
    assert "rotate(" in many and len([t for t in shown if t]) <= 120
    assert len(re.findall(r'id="bar-now-\d+"', many)) == 120  # every bar, even if not named


def test_a_report_before_any_plan_draws_no_plan_line(campaign: Campaign) -> None:
    report = wiring.build(campaign.ca).reports.build_report(campaign.incident_id, campaign.now)
    assert report.remaining_planned  # the fixture's incident is planned
    page = html.render_report(replace(report, remaining_planned=[], plan=None))
    remaining = re.findall(r"<svg.*?</svg>", page, re.S)[0]
    assert 'id="plan-line"' not in remaining and 'id="remaining-actual"' in remaining
    assert "No revocation plan has been made." in page
