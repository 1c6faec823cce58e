"""Remaining certificates over time, as a step series small enough to draw.

Each affected certificate stops being "remaining" at the earlier of its revocation and
its expiry; the series is the affected count minus the number that have left by each
moment. Large campaigns are reduced to at most `max_points` steps, keeping the first
and last points, so a chart of a million certificates stays a few kilobytes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterable, Sequence
from datetime import datetime

Point = tuple[datetime, int]


def leave_time(
    not_after: datetime, revoked_at: datetime | None, planned_at: datetime | None = None
) -> datetime:
    """When a certificate leaves the remaining count (revoked, planned, or expired)."""
    times = [not_after]
    if revoked_at is not None:
        times.append(revoked_at)
    elif planned_at is not None:
        times.append(planned_at)
    return min(times)


def remaining_series(
    leaves: Iterable[datetime], total: int, start: datetime, end: datetime, max_points: int = 400
) -> list[Point]:
    """(time, remaining) at `start`, at each departure between, and at `end`.

    `remaining` at t counts the certificates whose leave time is later than t, the same
    rule the ledger uses (revoked at or before t, or notAfter at or before t, is gone)."""
    if end < start:
        raise ValueError("series end before its start")
    ordered = sorted(leaves)
    moments = sorted({t for t in ordered if start < t < end})
    if len(moments) > max_points - 2 > 0:
        step = len(moments) / (max_points - 2)
        moments = [moments[int(i * step)] for i in range(max_points - 2)]
    points = [start, *moments, end]

    def at(t: datetime) -> int:
        return total - bisect_right(ordered, t)

    return [(t, at(t)) for t in points]


def value_at(series: Sequence[Point], moment: datetime) -> int | None:
    """The step series' value at `moment` (None before it starts)."""
    value = None
    for t, v in series:
        if t <= moment:
            value = v
        else:
            break
    return value
