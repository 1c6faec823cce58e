"""Affected-certificate CSV files: bounded size, every SHA-256 exactly once, the
precertificates apart, and statuses that agree with the ledger."""

from __future__ import annotations

import hashlib
import tempfile
from collections import Counter
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper import wiring
from certkeeper.errors import InputError
from certkeeper.report.csvfiles import COLUMNS, read_affected, write_affected
from certkeeper.report.model import AffectedRow

from .conftest import Campaign

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def row(i: int, kind: str = "certificate") -> AffectedRow:
    return AffectedRow(
        sha256=hashlib.sha256(f"{kind}{i}".encode()).hexdigest(),
        serial=f"{i + 1:x}",
        issuer="tls-ecdsa-1",
        not_before=T0,
        not_after=T0 + timedelta(days=90),
        status=("revoked", "expired", "valid")[i % 3],
        kind=kind,
    )


def read_all(files: list[Path]) -> dict[str, list[dict[str, str]]]:
    out: dict[str, list[dict[str, str]]] = {}
    for path in files:
        out[path.name] = read_affected(path.read_text(encoding="utf-8"))
    return out


@settings(max_examples=60)
@given(
    certificates=st.integers(0, 60),
    precertificates=st.integers(0, 12),
    per_file=st.integers(1, 25),
    repeats=st.integers(0, 5),
)
def test_every_sha256_appears_once_across_files_of_bounded_size(
    certificates: int, precertificates: int, per_file: int, repeats: int
) -> None:
    rows = [row(i) for i in range(certificates)] + [
        row(i, "precertificate") for i in range(precertificates)
    ]
    rows += rows[:repeats]  # the same certificate offered twice is written once
    with tempfile.TemporaryDirectory() as tmp:
        files = write_affected(rows, Path(tmp), per_file)
        contents = read_all(files)
    seen = Counter(r["sha256"] for rows_ in contents.values() for r in rows_)
    assert set(seen) == {r.sha256 for r in rows}
    assert set(seen.values()) <= {1}
    for kind, prefix, total in (
        ("certificate", "affected", certificates),
        ("precertificate", "precertificates", precertificates),
    ):
        names = sorted(n for n in contents if n.startswith(prefix + "-"))
        expected_files = -(-total // per_file)
        assert names == [f"{prefix}-{i:04d}.csv" for i in range(1, expected_files + 1)]
        sizes = [len(contents[n]) for n in names]
        assert all(1 <= s <= per_file for s in sizes)
        assert sum(sizes) == total
        assert all(s == per_file for s in sizes[:-1])  # only the last file is short
        want = {r.sha256 for r in rows if r.kind == kind}
        assert {r["sha256"] for n in names for r in contents[n]} == want


def test_columns_and_crtsh_links(tmp_path: Path) -> None:
    (path,) = write_affected([row(7)], tmp_path, 10)
    lines = path.read_text(encoding="utf-8").splitlines()
    assert lines[0] == ",".join(COLUMNS)
    (record,) = read_affected(path.read_text(encoding="utf-8"))
    assert record["crtsh"] == f"https://crt.sh/?sha256={record['sha256']}"
    assert record["not_before"] == "2026-01-01T00:00:00Z"
    assert record["not_after"] == "2026-04-01T00:00:00Z"
    assert record["serial"] == "8" and record["status"] == "expired"  # 7 % 3 == 1


def test_a_split_size_below_one_is_refused(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="at least 1"):
        write_affected([row(1)], tmp_path, 0)


def test_statuses_in_the_files_match_the_ledger(campaign: Campaign, tmp_path: Path) -> None:
    for label, at in (("now", campaign.now), ("later", campaign.now + timedelta(days=200))):
        out = tmp_path / label
        out.mkdir()
        rows: list[AffectedRow] = []
        wiring.build(campaign.ca).reports.build_report(campaign.incident_id, at, on_row=rows.append)
        files = write_affected(rows, out, 4)
        contents = read_all(files)
        status = wiring.build(campaign.ca).incidents.status(campaign.incident_id, at)
        for prefix, counts in (
            ("affected", status.counts),
            ("precertificates", status.precertificates),
        ):
            statuses = Counter(
                r["status"] for n, rs in contents.items() if n.startswith(prefix) for r in rs
            )
            assert statuses["revoked"] == counts.revoked
            assert statuses["expired"] == counts.expired
            assert statuses["valid"] == counts.remaining
            assert sum(statuses.values()) == counts.affected
        certs = [r for n, rs in contents.items() if n.startswith("affected") for r in rs]
        assert sorted(r["serial"] for r in certs) == sorted(campaign.serials)
        pres = [r for n, rs in contents.items() if n.startswith("precertificates") for r in rs]
        assert [r["serial"] for r in pres] == [campaign.orphan]
        assert [n for n in contents] == [
            "affected-0001.csv",
            "affected-0002.csv",
            "precertificates-0001.csv",
        ]
