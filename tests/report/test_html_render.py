"""The HTML report in a real browser: headless Chromium renders it, and the screenshot
shows both charts (pixels of their colours) on a page that is not blank."""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

from certkeeper import wiring
from certkeeper.report import html, svg

from .conftest import Campaign
from .png import decode

CHROMIUM = "/usr/bin/chromium"


def rgb(colour: str) -> tuple[int, int, int]:
    value = int(colour.lstrip("#"), 16)
    return (value >> 16) & 0xFF, (value >> 8) & 0xFF, value & 0xFF


def screenshot(page: Path, out: Path, profile: Path) -> bytes:
    result = subprocess.run(
        [
            CHROMIUM,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            f"--user-data-dir={profile}",
            f"--screenshot={out}",
            "--window-size=1200,2400",
            page.as_uri(),
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert out.is_file(), f"chromium wrote no screenshot: {result.stderr[-2000:]}"
    return out.read_bytes()


@pytest.mark.skipif(
    not Path(CHROMIUM).exists() and shutil.which("chromium") is None,
    reason="chromium is not installed (Debian package chromium)",
)
def test_the_html_report_renders_with_both_charts(campaign: Campaign, tmp_path: Path) -> None:
    report = wiring.build(campaign.ca).reports.build_report(campaign.incident_id, campaign.now)
    page = tmp_path / "report.html"
    page.write_text(html.render_report(report), encoding="utf-8")
    image = decode(screenshot(page, tmp_path / "shot.png", tmp_path / "profile"))

    assert (image.width, image.height) == (1200, 2400)
    assert image.distinct_colours() > 20  # text, tables and charts, not a blank page
    white = image.count((255, 255, 255))
    assert white < image.width * image.height * 0.97
    # Chart 1: the area of remaining certificates, and the deadline line.
    assert image.count(rgb(svg.REMAINING_FILL)) > 20_000
    assert image.count(rgb(svg.DEADLINE_STROKE), tolerance=30) > 200
    # Chart 2: the shard bars (now, and projected with every remaining one revoked).
    assert image.count(rgb(svg.BAR_NOW)) > 200
    assert image.count(rgb(svg.BAR_PROJECTED)) > 100
