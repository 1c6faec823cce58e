"""Whether a revocation plan meets its deadline: one computation, every surface.

Seed 000 replayed at scale: a plan revoked 196 of 2,000 certificates, called the other
1,804 "left to expire" although they expired months after the deadline, and every
command said the plan met the deadline. Here the verdict is a pure function of the
plan's rows (kind, notAfter, planned time) and the deadline:

- a row planned at or before the deadline is revoked in time;
- a row planned after the deadline is late;
- a row with no planned time may be left to expire only if its notAfter is at or
  before the deadline; otherwise it stays valid and unrevoked past the deadline.

A short-lived certificate (BR 1.6.1) whose notAfter is at or before the deadline is
never planned: BR 4.9.1.1 exempts short-lived certificates from its revocation
deadlines, so it is left to expire, and the sentence says how many were. One that is
still valid at the deadline is planned like any other certificate (certkeeper does
support revoking short-lived certificates, as 4.9.1.1 allows).

The deadline is met when no row is late or unrevoked past it. Certificates (distinct
by SHA-256) and precertificates without a final certificate are counted apart, never
added together. `plan`, `drill`, `execute`, `status`, the weekly update and the report
all print the sentence `summary()` writes from the same `Verdict`, stored with the plan.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Protocol

CERTIFICATE = "certificate"
PRECERTIFICATE = "precertificate"


class Row(Protocol):
    """A plan row as the verdict needs it (planner.Planned and stored campaign items)."""

    @property
    def kind(self) -> str: ...

    @property
    def not_after(self) -> datetime: ...

    @property
    def planned_at(self) -> datetime | None: ...

    @property
    def short_lived(self) -> bool: ...


@dataclass(frozen=True)
class Done:
    """An item revoked before planning: a row whose planned time is its revocation."""

    kind: str
    not_after: datetime
    planned_at: datetime
    short_lived: bool = False


@dataclass(frozen=True)
class Tally:
    """One kind's figures; in_time + late + unrevoked + left_to_expire = total."""

    total: int = 0
    in_time: int = 0  # planned at or before the deadline
    late: int = 0  # planned after the deadline
    unrevoked: int = 0  # never planned, still valid at the deadline
    left_to_expire: int = 0  # never planned, notAfter at or before the deadline
    short_lived_left_to_expire: int = 0  # of left_to_expire: short-lived (BR 1.6.1)

    @property
    def missing(self) -> int:
        """Items still valid and unrevoked at the deadline."""
        return self.late + self.unrevoked

    def to_dict(self) -> dict[str, int]:
        return {
            "total": self.total,
            "revoked_by_deadline": self.in_time,
            "planned_after_deadline": self.late,
            "unrevoked_past_deadline": self.unrevoked,
            "left_to_expire": self.left_to_expire,
            "short_lived_left_to_expire": self.short_lived_left_to_expire,
            "missing_deadline": self.missing,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Tally:
        return cls(
            int(data["total"]),
            int(data["revoked_by_deadline"]),
            int(data["planned_after_deadline"]),
            int(data["unrevoked_past_deadline"]),
            int(data["left_to_expire"]),
            int(data.get("short_lived_left_to_expire", 0)),  # plans stored before it: none
        )


def classify(not_after: datetime, planned_at: datetime | None, deadline: datetime) -> str:
    """in_time, late, unrevoked or left_to_expire: the one rule for a plan row."""
    if planned_at is not None:
        return "in_time" if planned_at <= deadline else "late"
    return "left_to_expire" if not_after <= deadline else "unrevoked"


def tally(rows: Iterable[Row], deadline: datetime, kind: str) -> Tally:
    counts = {"in_time": 0, "late": 0, "unrevoked": 0, "left_to_expire": 0}
    short = 0
    for row in rows:
        if row.kind == kind:
            verdict = classify(row.not_after, row.planned_at, deadline)
            counts[verdict] += 1
            short += verdict == "left_to_expire" and row.short_lived
    return Tally(total=sum(counts.values()), **counts, short_lived_left_to_expire=short)


@dataclass(frozen=True)
class Verdict:
    """What a plan achieves against its deadline, and what would make it meet it."""

    deadline: datetime
    certificates: Tally
    precertificates: Tally  # precertificates without a final certificate
    batches: int
    last_planned: datetime | None
    budget_bytes: int  # the per-shard budget the plan was made under
    budget_to_meet_deadline: int  # the smallest per-shard budget that meets it
    planned_from: datetime | None = None  # when the plan starts (when it was made)

    @property
    def met(self) -> bool:
        return self.certificates.missing == 0 and self.precertificates.missing == 0

    def fix_command(self, incident_id: int) -> str:
        budget = self.budget_to_meet_deadline
        return f"certkeeper incident plan {incident_id} --override-budget {budget}"

    def summary(self, incident_id: int) -> str:
        """The one sentence every surface prints (plan, drill, execute, status, update,
        report)."""
        when = f"{self.deadline:%Y-%m-%d %H:%M}Z"
        if self.met:
            head = f"The plan meets the deadline {when}: {self._revoked_by_deadline()}"
            if self.batches > 1 and self.last_planned is not None:
                head += (
                    f", in {self.batches} batches, the last at {self.last_planned:%Y-%m-%d %H:%M}Z"
                )
            expiring = self._left_to_expire()
            return head + (f"; {expiring}" if expiring else "") + "."
        head = (
            f"DEADLINE MISSED ({when}): {self._missing()} would still be valid and unrevoked "
            f"at the deadline; {self._revoked_by_deadline()}."
        )
        if self.planned_from is not None and self.planned_from > self.deadline:
            return head + " No budget can meet it: the deadline had passed when it was planned."
        if not self.budget_would_help:
            return head + " No larger per-shard budget would meet it."
        return (
            f"{head} A per-shard CRL budget of {self.budget_to_meet_deadline:,} bytes (planned "
            f"under {self.budget_bytes:,}) would meet it ({self.fix_command(incident_id)})."
        )

    @property
    def budget_would_help(self) -> bool:
        """A larger budget meets a deadline still ahead when planning began (the
        planner's property: planning again with this budget meets it)."""
        ahead = self.planned_from is None or self.planned_from <= self.deadline
        return ahead and self.budget_to_meet_deadline > self.budget_bytes

    def _revoked_by_deadline(self) -> str:
        c, p = self.certificates, self.precertificates
        text = f"{c.in_time:,} of {c.total:,} certificates revoked by it"
        if p.total:
            text += (
                f" (and {p.in_time:,} of {p.total:,} precertificates without a final certificate)"
            )
        return text

    def _missing(self) -> str:
        parts = []
        for label, t in (
            ("certificates", self.certificates),
            ("precertificates without a final certificate", self.precertificates),
        ):
            if t.missing:
                why = [f"{t.late:,} planned after it"] if t.late else []
                if t.unrevoked:
                    why.append(
                        f"{t.unrevoked:,} with no room on their CRL shard before they expire"
                    )
                parts.append(f"{t.missing:,} of {t.total:,} {label} ({', '.join(why)})")
        return " and ".join(parts)

    def _left_to_expire(self) -> str:
        n = self.certificates.left_to_expire
        m = self.precertificates.left_to_expire
        if not n and not m:
            return ""
        text = f"{n:,} certificates"
        if m:
            text += f" and {m:,} precertificates"
        text += " left to expire (notAfter at or before the deadline"
        short = self.certificates.short_lived_left_to_expire
        short += self.precertificates.short_lived_left_to_expire
        if short:
            text += f"; {short:,} of them short-lived, which BR 4.9.1.1 does not require revoking"
        return text + ")"

    def to_dict(self) -> dict[str, Any]:
        return {
            "deadline": self.deadline.isoformat(),
            "deadline_met": self.met,
            "certificates": self.certificates.to_dict(),
            "precertificates_without_final": self.precertificates.to_dict(),
            "batches": self.batches,
            "last_planned": self.last_planned.isoformat() if self.last_planned else None,
            "budget_bytes": self.budget_bytes,
            "budget_to_meet_deadline": self.budget_to_meet_deadline,
            "planned_from": self.planned_from.isoformat() if self.planned_from else None,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> Verdict:
        last = data.get("last_planned")
        start = data.get("planned_from")
        return cls(
            deadline=datetime.fromisoformat(str(data["deadline"])),
            certificates=Tally.from_dict(data["certificates"]),
            precertificates=Tally.from_dict(data["precertificates_without_final"]),
            batches=int(data["batches"]),
            last_planned=datetime.fromisoformat(str(last)) if last else None,
            budget_bytes=int(data["budget_bytes"]),
            budget_to_meet_deadline=int(data["budget_to_meet_deadline"]),
            planned_from=datetime.fromisoformat(str(start)) if start else None,
        )


def judge(
    rows: Iterable[Row],
    deadline: datetime,
    *,
    batches: int,
    budget_bytes: int,
    budget_to_meet_deadline: int,
    planned_from: datetime | None = None,
) -> Verdict:
    """The verdict of a plan, from its rows alone."""
    items = list(rows)
    last = max((r.planned_at for r in items if r.planned_at is not None), default=None)
    return Verdict(
        deadline=deadline,
        certificates=tally(items, deadline, CERTIFICATE),
        precertificates=tally(items, deadline, PRECERTIFICATE),
        batches=batches,
        last_planned=last,
        budget_bytes=budget_bytes,
        budget_to_meet_deadline=budget_to_meet_deadline,
        planned_from=planned_from,
    )
