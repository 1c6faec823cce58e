"""The campaign ledger: revoked + expired + remaining = affected, exactly, at any time.

Seed 000: a CA's progress reports were wrong for weeks; it counted precertificates and
final certificates twice and mixed weekly with cumulative figures. Here the unit is a
distinct final certificate (by SHA-256), precertificates without a final certificate
are a separate line, and every table says whether a figure is per week or cumulative.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime, timedelta


@dataclass(frozen=True)
class Entry:
    """One affected final certificate."""

    sha256: str
    not_after: datetime
    revoked_at: datetime | None
    planned_at: datetime | None = None


@dataclass(frozen=True)
class Counts:
    at: datetime
    affected: int
    revoked: int
    expired: int  # expired before it was revoked
    remaining: int  # neither: still valid and unrevoked
    planned_by_now: int

    def reconciles(self) -> bool:
        return self.revoked + self.expired + self.remaining == self.affected

    def to_dict(self) -> dict[str, object]:
        return {
            "at": self.at.isoformat(),
            "affected": self.affected,
            "revoked": self.revoked,
            "expired_before_revocation": self.expired,
            "remaining": self.remaining,
            "planned_by_now": self.planned_by_now,
        }


@dataclass(frozen=True)
class Week:
    number: int  # 1 = the week starting at the incident's aware-at time
    start: datetime
    end: datetime
    revoked_in_week: int
    expired_in_week: int
    revoked_cumulative: int
    expired_cumulative: int
    remaining_at_end: int

    def to_dict(self) -> dict[str, object]:
        return {
            "week": self.number,
            "start": self.start.isoformat(),
            "end": self.end.isoformat(),
            "revoked_in_week": self.revoked_in_week,
            "expired_in_week": self.expired_in_week,
            "revoked_cumulative": self.revoked_cumulative,
            "expired_cumulative": self.expired_cumulative,
            "remaining_at_end": self.remaining_at_end,
        }


def distinct(entries: Iterable[Entry]) -> list[Entry]:
    """One entry per SHA-256 (the same certificate selected twice counts once)."""
    seen: dict[str, Entry] = {}
    for entry in entries:
        seen.setdefault(entry.sha256, entry)
    return list(seen.values())


def status(entries: Iterable[Entry], at: datetime) -> Counts:
    revoked = expired = remaining = planned = 0
    items = distinct(entries)
    for e in items:
        if e.revoked_at is not None and e.revoked_at <= at:
            revoked += 1
        elif e.not_after <= at:
            expired += 1
        else:
            remaining += 1
        if e.planned_at is not None and e.planned_at <= at:
            planned += 1
    return Counts(at, len(items), revoked, expired, remaining, planned)


def weekly(entries: Iterable[Entry], aware_at: datetime, until: datetime) -> list[Week]:
    """Week-by-week table from the aware-at time until `until` (both figures per week
    and cumulative, labelled as such)."""
    items = distinct(entries)
    weeks: list[Week] = []
    start = aware_at
    number = 1
    while start < until or number == 1:
        end = start + timedelta(days=7)
        cut = min(end, until)
        # Week 1 counts from nothing, so the per-week figures always add up to the
        # cumulative ones (anything revoked before aware-at lands in week 1).
        before = status(items, start) if number > 1 else Counts(start, len(items), 0, 0, 0, 0)
        after = status(items, cut)
        weeks.append(
            Week(
                number=number,
                start=start,
                end=cut,
                revoked_in_week=after.revoked - before.revoked,
                expired_in_week=after.expired - before.expired,
                revoked_cumulative=after.revoked,
                expired_cumulative=after.expired,
                remaining_at_end=after.remaining,
            )
        )
        start = end
        number += 1
    return weeks
