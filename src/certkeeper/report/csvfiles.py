"""Affected-certificate lists as CSV files of bounded size, for a bug attachment.

CCADB asks for every affected certificate with a `https://crt.sh/?sha256=` link; a
large incident's list does not fit one attachment, so the rows are split into
`affected-0001.csv`, `affected-0002.csv`, ... of at most N rows each. A certificate's
row also names its precertificate and the CT log entries of its SCTs. Precertificates
without a final certificate go to their own `precertificates-0001.csv`, ... files:
they are not certificates and are never counted as such. Each SHA-256 appears once.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from pathlib import Path
from typing import Any, TextIO

from certkeeper.errors import InputError
from certkeeper.report.model import AffectedRow

COLUMNS = (
    "sha256",
    "serial",
    "issuer",
    "not_before",
    "not_after",
    "status",
    "crtsh",
    "precertificate_sha256",
    "ct_entries",  # "; "-separated: log, timestamp, Merkle leaf hash (report/ct_entries.py)
)
PREFIX = {"certificate": "affected", "precertificate": "precertificates"}


def _iso(row: AffectedRow) -> tuple[str, str]:
    fmt = "%Y-%m-%dT%H:%M:%SZ"
    return row.not_before.strftime(fmt), row.not_after.strftime(fmt)


class _Series:
    """One numbered family of files (affected-NNNN or precertificates-NNNN)."""

    def __init__(self, out_dir: Path, prefix: str, rows_per_file: int) -> None:
        self.out_dir = out_dir
        self.prefix = prefix
        self.rows_per_file = rows_per_file
        self.files: list[Path] = []
        self.handle: TextIO | None = None
        self.writer: Any = None  # a csv writer
        self.in_file = 0

    def write(self, row: AffectedRow) -> None:
        if self.writer is None or self.in_file >= self.rows_per_file:
            self._next_file()
        assert self.writer is not None
        not_before, not_after = _iso(row)
        self.writer.writerow(
            (
                row.sha256,
                row.serial,
                row.issuer,
                not_before,
                not_after,
                row.status,
                row.crtsh,
                row.precertificate_sha256,
                "; ".join(row.ct_entries),
            )
        )
        self.in_file += 1

    def _next_file(self) -> None:
        self.close()
        path = self.out_dir / f"{self.prefix}-{len(self.files) + 1:04d}.csv"
        self.handle = path.open("w", encoding="utf-8", newline="")
        self.writer = csv.writer(self.handle, lineterminator="\n")
        self.writer.writerow(COLUMNS)
        self.files.append(path)
        self.in_file = 0

    def close(self) -> None:
        if self.handle is not None:
            self.handle.close()
            self.handle = None


class AffectedCsvWriter:
    """Write rows as they come; `close()` returns the files written, in order."""

    def __init__(self, out_dir: Path, rows_per_file: int) -> None:
        if rows_per_file < 1:
            raise InputError(f"--csv-rows {rows_per_file}: must be at least 1")
        self.out_dir = out_dir
        self.series = {k: _Series(out_dir, p, rows_per_file) for k, p in PREFIX.items()}
        self.seen: set[bytes] = set()
        self.duplicates = 0

    def add(self, row: AffectedRow) -> None:
        key = bytes.fromhex(row.sha256)
        if key in self.seen:
            self.duplicates += 1
            return
        self.seen.add(key)
        self.series[row.kind].write(row)

    def close(self) -> list[Path]:
        files: list[Path] = []
        for series in self.series.values():
            series.close()
            files += series.files
        return files


def write_affected(rows: Iterable[AffectedRow], out_dir: Path, rows_per_file: int) -> list[Path]:
    writer = AffectedCsvWriter(out_dir, rows_per_file)
    try:
        for row in rows:
            writer.add(row)
    finally:
        files = writer.close()
    return files


def read_affected(text: str) -> list[dict[str, str]]:
    """Rows of one CSV file (for checks and tests); refuses a wrong header."""
    reader = csv.DictReader(io.StringIO(text))
    if tuple(reader.fieldnames or ()) != COLUMNS:
        raise InputError(f"not an affected-certificate CSV: header {reader.fieldnames}")
    return list(reader)
