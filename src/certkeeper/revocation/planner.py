"""Mass revocation planning under per-shard CRL byte budgets (pure: data in, plan out).

Seed 000: a CA had to revoke ~81M certificates in 5 days, found that one CRL per issuer
would grow past 600 MB, and then planned batches by guesswork for 10 months. Here each
affected certificate gets a planned revocation time:

- If every shard can take all of its affected certificates now, everything is planned
  at once.
- Otherwise each shard is simulated forward in time: as many certificates as fit under
  the budget are planned at the start; whenever entries drop off the shard (a revoked
  certificate passes its notAfter plus the lookback), the freed bytes are filled with
  the next certificates in policy order. Certificates still valid at the deadline come
  first; those expiring before it only take room nobody deadline-bound is waiting for.
  A certificate whose notAfter comes before its turn gets no planned time; it may be
  called "left to expire" only if that notAfter is at or before the deadline, and
  otherwise it misses the deadline (see verdict.py).
- A short-lived certificate (BR 1.6.1) whose notAfter is at or before the deadline is
  left to expire without taking any room: BR 4.9.1.1 does not require revoking it.
- The plan's verdict (verdict.py, computed from its rows) states whether the deadline
  is met and, if not, how many items miss it and the per-shard budget that would meet it.
"""

from __future__ import annotations

import heapq
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from enum import StrEnum

from certkeeper.revocation.verdict import CERTIFICATE, Row, Verdict, judge
from certkeeper.x509.crl import CrlFraming


class Policy(StrEnum):
    soonest_expiry = "soonest-expiry"  # default: the shard frees up fastest
    in_use_first = "in-use-first"  # certificates seen in use first (usage data)
    latest_expiry = "latest-expiry"


@dataclass(frozen=True)
class Target:
    """One affected certificate, as the planner needs it."""

    serial: str
    shard_key: tuple[int, int]  # (issuer id, shard)
    not_after: datetime
    entry_bytes: int  # its CRL entry's encoded size
    in_use: bool = False
    kind: str = CERTIFICATE  # or a precertificate without a final certificate
    short_lived: bool = False  # BR 1.6.1, judged at its notBefore


@dataclass(frozen=True)
class ShardLoad:
    """A shard as it stands when planning starts."""

    shard_key: tuple[int, int]
    budget_bytes: int
    overhead_bytes: int  # the CRL without entries (header, extensions, signature)
    entries: Sequence[tuple[datetime, int]]  # (leaves the CRL at, encoded bytes)
    # The exact framing when known: DER headers grow with the entries (at 64 KiB the
    # CRL's three variable headers take one more length octet each), so a budget figure
    # computed as overhead + entries would be a few octets short of the real CRL.
    framing: CrlFraming | None = None

    def size(self, entries_length: int) -> int:
        """The CRL's octets with `entries_length` octets of entries."""
        if self.framing is not None:
            return self.framing.size(entries_length)
        return self.overhead_bytes + entries_length


@dataclass(frozen=True)
class Planned:
    serial: str
    shard_key: tuple[int, int]
    planned_at: datetime | None  # None: no slot frees up before it expires
    batch: int  # 0 = first batch; -1 = never planned
    not_after: datetime
    kind: str = CERTIFICATE
    short_lived: bool = False

    @classmethod
    def unplanned(cls, target: Target) -> Planned:
        return cls(
            target.serial,
            target.shard_key,
            None,
            -1,
            target.not_after,
            target.kind,
            target.short_lived,
        )

    @classmethod
    def at(cls, target: Target, when: datetime, batch: int) -> Planned:
        return cls(
            target.serial,
            target.shard_key,
            when,
            batch,
            target.not_after,
            target.kind,
            target.short_lived,
        )


@dataclass
class Plan:
    start: datetime
    deadline: datetime
    items: list[Planned] = field(default_factory=list)
    budget_needed: dict[tuple[int, int], int] = field(default_factory=dict)
    budget: dict[tuple[int, int], int] = field(default_factory=dict)

    @property
    def last_planned(self) -> datetime | None:
        times = [p.planned_at for p in self.items if p.planned_at is not None]
        return max(times, default=None)

    @property
    def all_at_once(self) -> bool:
        return all(p.batch == 0 for p in self.items)

    def budget_to_meet_deadline(self) -> int:
        """The smallest per-shard budget that meets the deadline on every shard."""
        return max(self.budget_needed.values(), default=0)

    def verdict(self, done: Iterable[Row] = (), budget_bytes: int | None = None) -> Verdict:
        """The plan against its deadline, computed from its rows (verdict.judge) and
        `done`: items revoked before planning, each with its revocation time as its
        planned time. `budget_bytes` names the budget planned under when no shard was."""
        batches = {p.batch for p in self.items if p.batch >= 0}
        return judge(
            [*self.items, *done],
            self.deadline,
            batches=len(batches),
            budget_bytes=max(self.budget.values(), default=budget_bytes or 0),
            budget_to_meet_deadline=self.budget_to_meet_deadline(),
            planned_from=self.start,
        )

    @property
    def deadline_met(self) -> bool:
        return self.verdict().met


def order(targets: Iterable[Target], policy: Policy) -> list[Target]:
    if policy is Policy.in_use_first:
        return sorted(targets, key=lambda t: (not t.in_use, t.not_after, t.serial))
    if policy is Policy.latest_expiry:
        return sorted(targets, key=lambda t: (-t.not_after.timestamp(), t.serial))
    return sorted(targets, key=lambda t: (t.not_after, t.serial))


def plan(
    targets: Sequence[Target],
    shards: Sequence[ShardLoad],
    start: datetime,
    deadline: datetime,
    lookback: timedelta,
    policy: Policy = Policy.soonest_expiry,
) -> Plan:
    """Assign every target a planned revocation time (or leave it to expire)."""
    result = Plan(start=start, deadline=deadline)
    by_shard: dict[tuple[int, int], list[Target]] = {}
    for target in targets:
        by_shard.setdefault(target.shard_key, []).append(target)
    loads = {s.shard_key: s for s in shards}
    for key, group in sorted(by_shard.items()):
        load = loads.get(key) or ShardLoad(key, 10**12, 0, ())
        result.budget[key] = load.budget_bytes
        queue: list[Target] = []
        for target in group:
            if target.short_lived and target.not_after <= deadline:
                result.items.append(Planned.unplanned(target))  # BR 4.9.1.1: may expire
            else:
                queue.append(target)
        result.items.extend(_plan_shard(order(queue, policy), load, start, deadline, lookback))
        result.budget_needed[key] = _budget_needed(group, load, deadline, lookback)
    return result


def _plan_shard(
    queue: list[Target], load: ShardLoad, start: datetime, deadline: datetime, lookback: timedelta
) -> list[Planned]:
    """Simulate one shard forward from `start`.

    Certificates still valid at the deadline must be revoked by it, so they take every
    free slot first (in policy order). Those that expire before the deadline only get
    slots no deadline-bound certificate is waiting for: revoking them is good hygiene,
    but must never push a deadline-bound certificate past the deadline."""
    present: list[tuple[datetime, int]] = [e for e in load.entries if e[0] > start]
    heapq.heapify(present)
    used = sum(b for _, b in present)  # entry octets on the CRL
    now = start
    batch = 0
    out: list[Planned] = []
    must = [t for t in queue if t.not_after > deadline]
    optional = [t for t in queue if t.not_after <= deadline]
    while must or optional:
        while present and present[0][0] <= now:  # entries that dropped off by now
            used -= heapq.heappop(present)[1]
        planned_any = False
        for group in (must, optional):
            if group is optional and must:
                break
            still: list[Target] = []
            for target in group:
                if target.not_after <= now:
                    out.append(Planned.unplanned(target))
                elif load.size(used + target.entry_bytes) <= load.budget_bytes:
                    used += target.entry_bytes
                    heapq.heappush(present, (target.not_after + lookback, target.entry_bytes))
                    out.append(Planned.at(target, now, batch))
                    planned_any = True
                else:
                    still.append(target)
            group[:] = still
        if not must and not optional:
            break
        if not present:
            # Nothing will ever drop off and nothing fits: the budget is below one entry.
            out.extend(Planned.unplanned(t) for t in must + optional)
            break
        now = present[0][0]
        if planned_any:
            batch += 1
    return out


def _budget_needed(
    group: Sequence[Target], load: ShardLoad, deadline: datetime, lookback: timedelta
) -> int:
    """Bytes the shard must hold to revoke, by the deadline, every target still valid
    then: existing entries still present at the deadline, plus those targets."""
    existing = sum(b for leaves, b in load.entries if leaves > deadline)
    targets = sum(t.entry_bytes for t in group if t.not_after > deadline)
    return load.size(existing + targets)
