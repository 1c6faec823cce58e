"""Incident report at scale: the CCADB report and its affected-certificate CSV files for
an incident of N real signed certificates, half of them revoked.

    .venv/bin/python benchmarks/incident_report.py [--count 100000] [--csv-rows 10000]

The inventory is built as in benchmarks/mass_revocation.py (not timed); the incident is
opened, planned and half executed, then the report is built (one pass over the
inventory writing the CSV files) and rendered as Markdown and HTML. Prints a table.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import contextlib

from mass_revocation import PASSPHRASE, populate

from certkeeper import wiring
from certkeeper.ca.home import CaHome, InitOptions, create_home
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.report import html, markdown
from certkeeper.report.csvfiles import AffectedCsvWriter


def run(count: int, csv_rows: int, workers: int) -> list[tuple[str, str]]:
    rows: list[tuple[str, str]] = []
    with tempfile.TemporaryDirectory() as tmp:
        home = create_home(Path(tmp) / "home", InitOptions(), PASSPHRASE.encode())
        ca = CaHome.open(home)
        print(f"building an inventory of {count:,} signed certificates", file=sys.stderr)
        populate(ca, count, workers)
        incidents = wiring.build(ca).incidents
        now = datetime.now(UTC).replace(microsecond=0)
        opened = incidents.open_incident(
            title="benchmark",
            aware_at=now - timedelta(days=3),
            br_item_number=12,
            selector=CertificateFilter(issuer="tls-ecdsa-1"),
            now=now,
            who="benchmark",
        )
        assert opened.id is not None
        incidents.make_plan(opened.id, now, who="benchmark")

        class Interrupted(Exception):
            pass

        done = 0

        def stop_half_way(n: int) -> None:
            nonlocal done
            done += n
            if done >= count // 2:
                raise Interrupted  # as an operator stopping the run: the chunk is committed

        print("revoking half of them", file=sys.stderr)
        with contextlib.suppress(Interrupted):
            incidents.execute(
                opened.id,
                now,
                workers=workers,
                chunk=max(1, count // 2),
                advance=stop_half_way,
                who="benchmark",
                lint_every=256,
            )
        at = now + timedelta(seconds=1)

        out = Path(tmp) / "report"
        out.mkdir()
        writer = AffectedCsvWriter(out, csv_rows)
        t = time.perf_counter()
        report = wiring.build(ca).reports.build_report(opened.id, at, on_row=writer.add)
        files = writer.close()
        build = time.perf_counter() - t
        t = time.perf_counter()
        md = markdown.render_report(report)
        md_time = time.perf_counter() - t
        t = time.perf_counter()
        page = html.render_report(report)
        html_time = time.perf_counter() - t
        status = incidents.status(opened.id, at)
        assert report.counts == status.counts and status.counts.reconciles()
        csv_bytes = sum(f.stat().st_size for f in files)
        rows += [
            ("certificates", f"{count:,}"),
            ("revoked / remaining", f"{status.counts.revoked:,} / {status.counts.remaining:,}"),
            ("build model + write CSV (s)", f"{build:.2f}"),
            ("rows per second", f"{count / build:,.0f}"),
            ("CSV files / total bytes", f"{len(files)} / {csv_bytes:,}"),
            ("render Markdown (s) / bytes", f"{md_time:.3f} / {len(md.encode()):,}"),
            ("render HTML (s) / bytes", f"{html_time:.3f} / {len(page.encode()):,}"),
        ]
        ca.close()
    return rows


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--count", type=int, default=100_000)
    parser.add_argument("--csv-rows", type=int, default=10_000)
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 2)
    args = parser.parse_args()
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    rows = run(args.count, args.csv_rows, args.workers)
    width = max(len(k) for k, _ in rows)
    print(f"\nIncident report, SQLite, {os.cpu_count()} cores")
    for key, value in rows:
        print(f"  {key:<{width}}  {value:>24}")


if __name__ == "__main__":
    main()
