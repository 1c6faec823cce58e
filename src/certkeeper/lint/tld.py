"""Which top-level domains existed in the root zone, and when (seed 002: `ap.gbl`).

A TLD is valid for a certificate when it was delegated on or before the certificate's
notBefore and, if it has since been removed, notBefore is before the removal. The data
is a CSV (tld,delegated,removed) shipped with the package; `certkeeper data update`
installs a newer copy as an override. Where that lives is read from the environment by
the shells (`certkeeper.data_dir`), which hand it over with `TldData.use_installed`.
"""

from __future__ import annotations

import csv
import io
from dataclasses import dataclass
from datetime import date
from functools import lru_cache
from importlib import resources
from pathlib import Path
from typing import ClassVar

from certkeeper.errors import InputError

FILENAME = "tld_periods.csv"
HEADER = ("tld", "delegated", "removed")


@dataclass(frozen=True, slots=True)
class TldPeriod:
    delegated: date
    removed: date | None


def parse_csv(text: str, source: str = "TLD data") -> dict[str, TldPeriod]:
    """Parse and validate the CSV; InputError names the first bad line."""
    reader = csv.reader(io.StringIO(text))
    periods: dict[str, TldPeriod] = {}
    for lineno, row in enumerate(reader, start=1):
        if lineno == 1:
            if tuple(c.strip().lower() for c in row) != HEADER:
                raise InputError(f"{source} line 1: header must be 'tld,delegated,removed'")
            continue
        if not row or all(not c.strip() for c in row):
            continue
        if len(row) != 3:
            raise InputError(f"{source} line {lineno}: expected 3 columns, found {len(row)}")
        tld = row[0].strip().lower()
        if not tld or not all(c.isalnum() or c == "-" for c in tld) or not tld.isascii():
            raise InputError(f"{source} line {lineno}: {row[0]!r} is not a TLD label")
        try:
            delegated = date.fromisoformat(row[1].strip())
            removed = date.fromisoformat(row[2].strip()) if row[2].strip() else None
        except ValueError:
            raise InputError(
                f"{source} line {lineno}: dates must be YYYY-MM-DD (got {row[1]!r}, {row[2]!r})"
            ) from None
        if removed is not None and removed <= delegated:
            raise InputError(f"{source} line {lineno}: {tld} removed before it was delegated")
        if tld in periods:
            raise InputError(f"{source} line {lineno}: {tld} listed twice")
        periods[tld] = TldPeriod(delegated, removed)
    if not periods:
        raise InputError(f"{source}: no TLDs listed")
    return periods


class TldData:
    """Delegation periods of every TLD; load once and share."""

    # Where `data update` installs its override, as a shell found it; the core reads no
    # environment, so until a shell says, only the packaged CSV is known.
    installed_at: ClassVar[Path | None] = None

    def __init__(self, periods: dict[str, TldPeriod], source: str) -> None:
        self.periods = periods
        self.source = source

    @classmethod
    def use_installed(cls, path: Path) -> None:
        """Take the override at `path` (when that file exists) from now on."""
        cls.installed_at = path

    @classmethod
    def load(cls, path: Path | None = None) -> TldData:
        """From `path`, else the installed override, else the packaged CSV."""
        if path is None and cls.installed_at is not None and cls.installed_at.is_file():
            path = cls.installed_at
        if path is not None:
            try:
                text = path.read_text(encoding="utf-8")
            except OSError as exc:
                raise InputError(f"cannot read TLD data {path}: {exc.strerror}") from None
            return cls(parse_csv(text, str(path)), str(path))
        ref = resources.files("certkeeper.lint").joinpath("data", FILENAME)
        return cls(parse_csv(ref.read_text(encoding="utf-8"), "packaged"), f"packaged {FILENAME}")

    @staticmethod
    def default() -> TldData:
        """What lints and preflight use when handed no TLD data."""
        return _loaded(TldData.installed_at)

    def is_delegated(self, tld: str, at: date) -> bool:
        period = self.periods.get(tld.lower().rstrip("."))
        if period is None:
            return False
        return period.delegated <= at and (period.removed is None or at < period.removed)

    def status(self, tld: str, at: date) -> str:
        key = tld.lower().rstrip(".")
        period = self.periods.get(key)
        if period is None:
            return f"TLD .{key} has never been delegated in the root zone"
        if at < period.delegated:
            return f"TLD .{key} was not delegated until {period.delegated} (checked at {at})"
        if period.removed is not None and at >= period.removed:
            return (
                f"TLD .{key} was removed from the root zone on {period.removed} (checked at {at})"
            )
        return f"TLD .{key} delegated since {period.delegated}"

    def counts(self, today: date) -> dict[str, int]:
        removed = sum(1 for p in self.periods.values() if p.removed is not None)
        return {
            "total": len(self.periods),
            "removed": removed,
            "delegated_today": sum(1 for t in self.periods if self.is_delegated(t, today)),
        }


@lru_cache(maxsize=2)
def _loaded(installed_at: Path | None) -> TldData:
    """`default()`'s data, loaded once for each override location a shell names."""
    found = installed_at if installed_at is not None and installed_at.is_file() else None
    return TldData.load(found)
