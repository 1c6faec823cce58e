"""`certkeeper incident details | action | report | update` end to end."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from typer.testing import CliRunner

from certkeeper import wiring
from certkeeper.cli.main import app
from certkeeper.report.csvfiles import read_affected
from certkeeper.store.incidents import IncidentStore

from .conftest import Campaign
from .test_markdown import counts_dict, parse_ledger

runner = CliRunner()


def cli(c: Campaign, *args: str) -> tuple[int, str, str]:
    result = runner.invoke(
        app,
        [*args, "--home", str(c.ca.config.home)],
        env={"CERTKEEPER_ACTOR": "cli-operator", "CERTKEEPER_PASSPHRASE": "unused"},
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def test_enter_details_and_actions_then_write_both_reports(
    campaign: Campaign, tmp_path: Path
) -> None:
    i = str(campaign.incident_id)
    code, out, err = cli(
        campaign,
        "incident",
        "details",
        i,
        "--set",
        "ca_owner_id=A000123",
        "--set",
        "description=The tls-dv-ecdsa profile allowed keyEncipherment.",
        "--set",
        "issuance_stopped=yes",
        "--set",
        "issuance_stopped_at=2026-11-14T10:00:00Z",
        "--add",
        "went_poorly=No lint compared keyUsage with the key type",
        "--format",
        "json",
    )
    assert code == 0, err
    assert '"ca_owner_id": "A000123"' in out and '"issuance_stopped": true' in out
    toml = tmp_path / "details.toml"
    toml.write_text('root_cause_analysis = "The profile schema allowed it."\n')
    code, out, err = cli(campaign, "incident", "details", i, "--from-file", str(toml))
    assert code == 0, err and "root_cause_analysis" in out

    code, out, err = cli(
        campaign,
        "incident",
        "action",
        "add",
        i,
        "--kind",
        "Detect",
        "--description",
        "Relint the inventory nightly",
        "--root-cause",
        "Root Cause #1",
        "--criteria",
        "A nightly relint report exists for every day",
        "--due",
        "2026-12-31",
    )
    assert code == 0, err
    assert "action item #1 (Detect, due 2026-12-31, Not Started)" in out
    code, out, err = cli(campaign, "incident", "action", "set", i, "1", "--status", "complete")
    assert code == 0 and "Complete" in out, err
    code, out, _ = cli(campaign, "incident", "action", "list", i, "--format", "csv")
    assert out.splitlines()[1].startswith("1,Detect,Relint the inventory nightly")

    report_dir = tmp_path / "out"
    code, out, err = cli(
        campaign,
        "incident",
        "report",
        i,
        "--format",
        "md",
        "--out",
        str(report_dir),
        "--csv-rows",
        "4",
    )
    assert code == 0, err
    md = (report_dir / f"incident-{i}-report.md").read_text()
    status = wiring.build(campaign.ca).incidents.status(campaign.incident_id, campaign.now)
    certs, _ = parse_ledger(md)
    assert certs == counts_dict(status.counts)
    assert "A000123" in md and "Relint the inventory nightly" in md
    assert "- affected-0001.csv" in md and "- precertificates-0001.csv" in md
    files = sorted(p.name for p in report_dir.glob("*.csv"))
    assert files == ["affected-0001.csv", "affected-0002.csv", "precertificates-0001.csv"]
    rows = [r for f in files for r in read_affected((report_dir / f).read_text())]
    assert len({r["sha256"] for r in rows}) == len(rows) == 7

    # a second report with bigger files replaces the first one's files
    code, _, err = cli(
        campaign, "incident", "report", i, "--format", "html", "--out", str(report_dir)
    )
    assert code == 0, err
    assert sorted(p.name for p in report_dir.glob("*.csv")) == [
        "affected-0001.csv",
        "precertificates-0001.csv",
    ]
    assert (report_dir / f"incident-{i}-report.html").read_text().startswith("<!DOCTYPE html>")

    code, out, err = cli(campaign, "incident", "update", i)
    assert code == 0, err
    assert out.startswith(f"# Weekly status update: Incident {i}:")
    assert "Open action items:\n\nNone." in out  # the only action item is complete
    update = tmp_path / "update.md"
    code, out, err = cli(campaign, "incident", "update", i, "--out", str(update))
    assert code == 0 and update.read_text().startswith("# Weekly status update"), err

    events = IncidentStore(campaign.ca.inventory.engine).events(campaign.incident_id)
    mine = [(e.event, e.actor) for e in events if e.actor == "cli-operator"]
    assert mine == [
        ("report details updated", "cli-operator"),
        ("report details updated", "cli-operator"),
        ("action item added", "cli-operator"),
        ("action item changed", "cli-operator"),
    ]


def test_bad_input_is_one_clear_line(campaign: Campaign, tmp_path: Path) -> None:
    i = str(campaign.incident_id)
    cases = [
        (["incident", "details", i, "--set", "nonsense"], "--set 'nonsense': write key=value"),
        (["incident", "details", i, "--set", "owner=A000001"], "unknown report field 'owner'"),
        (
            ["incident", "details", i, "--set", "non_compliance_end=yesterday"],
            "non_compliance_end: 'yesterday' is not a date",
        ),
        (["incident", "details", i, "--add", "description=x"], "not a list field"),
        (["incident", "details", "99", "--set", "ca_owner_id=A000001"], "no incident 99"),
        (
            ["incident", "details", i, "--from-file", str(tmp_path / "missing.toml")],
            "file not found",
        ),
        (
            [
                "incident",
                "action",
                "add",
                i,
                "--kind",
                "Fix",
                "--description",
                "d",
                "--root-cause",
                "r",
                "--criteria",
                "c",
                "--due",
                "2026-12-01",
            ],
            "kind 'Fix': use Prevent, Detect or Mitigate",
        ),
        (
            [
                "incident",
                "action",
                "add",
                i,
                "--kind",
                "Prevent",
                "--description",
                "d",
                "--root-cause",
                "r",
                "--criteria",
                "c",
                "--due",
                "2026-02-30",
            ],
            "is not a date",
        ),
        (["incident", "action", "set", i, "5", "--status", "Complete"], "has no action item 5"),
        (["incident", "report", i, "--format", "pdf"], "--format 'pdf': use md, html or json"),
        (["incident", "report", i, "--csv-rows", "0"], "--csv-rows 0: must be at least 1"),
        (["incident", "update", i, "--format", "html"], "the weekly update is written as md"),
    ]
    for args, message in cases:
        code, out, err = cli(campaign, *args)
        lines = [line for line in err.splitlines() if line.strip()]
        assert code != 0, args
        assert len(lines) == 1 and message in re.sub(r"\s+", " ", lines[0]), (args, err)
        assert "Traceback" not in out + err


def test_a_revocation_between_the_reads_refuses_the_report_and_leaves_no_files(
    campaign: Campaign, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The ledger is read, then the rows; a revocation committed in between would make
    the files disagree with the report's numbers, so nothing is written."""
    original = IncidentStore.revocation_times
    calls = {"n": 0}

    def racing(self: IncidentStore, incident_id: int) -> dict[str, datetime]:
        times = original(self, incident_id)
        calls["n"] += 1
        if calls["n"] > 1:  # after the ledger's read: one more certificate got revoked
            pending = sorted(set(campaign.serials) - set(times))
            times[pending[0]] = campaign.now - timedelta(seconds=1)
        return times

    monkeypatch.setattr(IncidentStore, "revocation_times", racing)
    out = tmp_path / "out"
    code, _, err = cli(campaign, "incident", "report", str(campaign.incident_id), "--out", str(out))
    assert code == 1
    assert "the inventory changed while the report was built; run it again" in err
    assert list(out.iterdir()) == []
