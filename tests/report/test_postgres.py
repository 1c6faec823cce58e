"""The report on a real PostgreSQL inventory: same counts as the ledger, same files."""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable
from pathlib import Path

import pytest

from certkeeper import wiring
from certkeeper.report import markdown
from certkeeper.report.csvfiles import AffectedCsvWriter, read_affected

from .conftest import build_campaign
from .test_markdown import counts_dict, parse_ledger


@pytest.mark.postgres
def test_report_on_postgresql(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, new_pg_database: Callable[[], str]
) -> None:
    built = build_campaign(tmp_path, monkeypatch, new_pg_database())
    campaign = next(built)
    try:
        out = tmp_path / "out"
        out.mkdir()
        writer = AffectedCsvWriter(out, 3)
        report = wiring.build(campaign.ca).reports.build_report(
            campaign.incident_id, campaign.now, on_row=writer.add
        )
        files = writer.close()
        status = wiring.build(campaign.ca).incidents.status(campaign.incident_id, campaign.now)
        certs, pres = parse_ledger(markdown.render_report(report))
        assert certs == counts_dict(status.counts)
        assert pres == counts_dict(status.precertificates)
        finals = [f for f in files if f.name.startswith("affected")]
        rows = [r for f in finals for r in read_affected(f.read_text())]
        assert [f.name for f in files] == [
            "affected-0001.csv",
            "affected-0002.csv",
            "precertificates-0001.csv",
        ]
        statuses = Counter(r["status"] for r in rows)
        assert (statuses["revoked"], statuses["valid"]) == (
            status.counts.revoked,
            status.counts.remaining,
        )
        assert sorted(r["serial"] for r in rows) == sorted(campaign.serials)
        assert report.shards and all(s.projected_bytes >= s.bytes for s in report.shards)
    finally:
        built.close()
