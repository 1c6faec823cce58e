"""The HTML report: self-contained (no script, no external asset), escaped, with
accessible charts that are well-formed SVG."""

from __future__ import annotations

import re
import xml.etree.ElementTree as ET
from dataclasses import replace
from html.parser import HTMLParser

from hypothesis import given
from hypothesis import strategies as st

from certkeeper.report import html
from certkeeper.report.build import build_report
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
    report = build_report(campaign.ca, campaign.incident_id, campaign.now)
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
    page = html.render_report(build_report(campaign.ca, campaign.incident_id, campaign.now))
    parser = Tags()
    parser.feed(page)
    assert "script" not in parser.tags
    for name, value in parser.attrs:
        assert name not in ("src", "href"), (name, value)
    assert not re.search(r"url\(|@import", page)
    assert parser.tags.count("style") == 1 and parser.tags.count("svg") == 2


def test_charts_are_accessible_well_formed_svg(campaign: Campaign) -> None:
    page = html.render_report(build_report(campaign.ca, campaign.incident_id, campaign.now))
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
    report = build_report(campaign.ca, campaign.incident_id, campaign.now)
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
    from certkeeper.report import svg
    from certkeeper.report.model import ShardBar

    bars = [ShardBar("ca <&>", i, now, now + extra) for i, (now, extra) in enumerate(sizes)]
    root = ET.fromstring(svg.shard_chart(bars, budget))
    ns = "{http://www.w3.org/2000/svg}"
    rects = [r for r in root.iter(f"{ns}rect") if r.get("shape-rendering") == "crispEdges"]
    drawn = {c: [r for r in rects if r.get("fill") == c] for c in (svg.BAR_NOW, svg.BAR_PROJECTED)}
    assert len(drawn[svg.BAR_NOW]) == len(bars)
    assert len(drawn[svg.BAR_PROJECTED]) == sum(1 for b in bars if b.projected_bytes > b.bytes)
    for rect in rects:
        for attr in ("x", "y", "width", "height"):
            assert re.fullmatch(r"-?\d+", rect.get(attr, "")), rect.attrib
    for bar, rect in zip(bars, drawn[svg.BAR_NOW], strict=True):
        assert int(rect.get("height", "0")) >= (2 if bar.bytes > 0 else 0)
    for rect in drawn[svg.BAR_PROJECTED]:
        assert int(rect.get("height", "0")) >= 2


def test_a_report_before_any_plan_draws_no_plan_line(campaign: Campaign) -> None:
    report = build_report(campaign.ca, campaign.incident_id, campaign.now)
    assert report.remaining_planned  # the fixture's incident is planned
    page = html.render_report(replace(report, remaining_planned=[], plan=None))
    remaining = re.findall(r"<svg.*?</svg>", page, re.S)[0]
    assert "<polyline" not in remaining and "<path" in remaining
    assert "No revocation plan has been made." in page
