"""The planner never exceeds a shard budget; the ledger always reconciles."""

from __future__ import annotations

import heapq
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper.revocation.ledger import Entry, status, weekly
from certkeeper.revocation.planner import Policy, ShardLoad, Target, plan

T0 = datetime(2026, 11, 23, tzinfo=UTC)
LOOKBACK = timedelta(days=1)


def target(i: int, shard: int, days: float, size: int = 49, in_use: bool = False) -> Target:
    return Target(f"{i:x}", (1, shard), T0 + timedelta(days=days), size, in_use)


def test_everything_fits_so_everything_at_once() -> None:
    targets = [target(i, i % 2, 30) for i in range(100)]
    shards = [ShardLoad((1, s), 100_000, 500, ()) for s in (0, 1)]
    p = plan(targets, shards, T0, T0 + timedelta(days=5), LOOKBACK)
    assert p.all_at_once and p.deadline_met
    assert all(i.planned_at == T0 for i in p.items)
    assert p.verdict().summary(1).startswith("The plan meets the deadline")
    assert "100 of 100 certificates revoked by it" in p.verdict().summary(1)


def test_batches_follow_entries_dropping_off_and_the_plan_says_the_deadline_is_missed() -> None:
    # budget: overhead 100 + room for 10 entries; 30 targets expiring over 30 days
    targets = [target(i, 0, 1 + i) for i in range(30)]
    shards = [ShardLoad((1, 0), 100 + 10 * 49, 100, ())]
    p = plan(targets, shards, T0, T0 + timedelta(days=5), LOOKBACK)
    assert not p.all_at_once
    first = [i for i in p.items if i.batch == 0]
    assert len(first) == 10
    assert not p.deadline_met
    assert "DEADLINE MISSED" in p.verdict().summary(1)
    # the 25 targets still valid at the deadline must all be on the CRL then
    assert p.budget_to_meet_deadline() == 100 + 25 * 49
    again = plan(
        targets,
        [ShardLoad((1, 0), p.budget_to_meet_deadline(), 100, ())],
        T0,
        T0 + timedelta(days=5),
        LOOKBACK,
    )
    assert again.deadline_met


def test_in_use_first_policy() -> None:
    targets = [target(1, 0, 2), target(2, 0, 50, in_use=True)]
    shards = [ShardLoad((1, 0), 100 + 49, 100, ())]
    p = plan(targets, shards, T0, T0 + timedelta(days=5), LOOKBACK, Policy.in_use_first)
    first = [i.serial for i in p.items if i.batch == 0]
    assert first == ["2"]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 2), st.floats(0.1, 60), st.integers(40, 60), st.booleans()),
        max_size=80,
    ),
    st.lists(st.tuples(st.integers(0, 2), st.floats(-2, 40), st.integers(40, 60)), max_size=40),
    st.integers(300, 3000),
    st.sampled_from(list(Policy)),
)
def test_plan_never_exceeds_a_budget_and_accounts_for_every_target(
    raw_targets: list[tuple[int, float, int, bool]],
    raw_existing: list[tuple[int, float, int]],
    budget: int,
    policy: Policy,
) -> None:
    targets = [target(i, s, d, b, u) for i, (s, d, b, u) in enumerate(raw_targets)]
    shards = [
        ShardLoad(
            (1, s),
            budget,
            200,
            [(T0 + timedelta(days=d), b) for (ss, d, b) in raw_existing if ss == s],
        )
        for s in range(3)
    ]
    p = plan(targets, shards, T0, T0 + timedelta(days=5), LOOKBACK, policy)
    assert sorted(i.serial for i in p.items) == sorted(t.serial for t in targets)
    by_serial = {t.serial: t for t in targets}
    for shard in shards:
        # replay the shard: existing entries plus planned revocations, never over budget
        events: list[tuple[datetime, int]] = []
        for leaves, size in shard.entries:
            if leaves > T0:
                events.append((T0, size))
                events.append((leaves, -size))
        for item in p.items:
            if item.shard_key == shard.shard_key and item.planned_at is not None:
                t = by_serial[item.serial]
                assert item.planned_at < t.not_after  # never revoke an expired certificate
                assert item.planned_at >= T0
                events.append((item.planned_at, t.entry_bytes))
                events.append((t.not_after + LOOKBACK, -t.entry_bytes))
        heapq.heapify(events)
        used = shard.overhead_bytes
        initial = shard.overhead_bytes + sum(s for w, s in events if w == T0 and s > 0)
        peak_allowed = max(budget, initial)  # a shard already over budget is not made worse
        while events:
            when = events[0][0]
            batch = []
            while events and events[0][0] == when:
                batch.append(heapq.heappop(events))
            used += sum(s for _, s in batch if s < 0)  # drop-offs first at the same instant
            used += sum(s for _, s in batch if s > 0)
            planned_here = any(s > 0 for w, s in batch if w > T0) or when == T0
            if planned_here:
                assert used <= peak_allowed or all(
                    i.planned_at is None for i in p.items if i.shard_key == shard.shard_key
                )


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(st.integers(0, 30), st.floats(0, 60), st.one_of(st.none(), st.floats(0, 40))),
        max_size=60,
    ),
    st.floats(0, 70),
)
def test_ledger_always_reconciles_and_counts_distinct_certificates(
    raw: list[tuple[int, float, float | None]], at_days: float
) -> None:
    entries = [
        Entry(f"{h:064x}", T0 + timedelta(days=na), None if r is None else T0 + timedelta(days=r))
        for h, na, r in raw
    ]
    counts = status(entries, T0 + timedelta(days=at_days))
    assert counts.reconciles()
    assert counts.affected == len({e.sha256 for e in entries})
    weeks = weekly(entries, T0, T0 + timedelta(days=at_days))
    assert sum(w.revoked_in_week for w in weeks) == weeks[-1].revoked_cumulative
    last = status(entries, weeks[-1].end)
    assert weeks[-1].remaining_at_end == last.remaining


def test_weekly_table_separates_week_and_cumulative() -> None:
    entries = [
        Entry("a" * 64, T0 + timedelta(days=90), T0 + timedelta(days=1)),
        Entry("b" * 64, T0 + timedelta(days=90), T0 + timedelta(days=9)),
        Entry("c" * 64, T0 + timedelta(days=3), None),
        Entry("d" * 64, T0 + timedelta(days=90), None),
    ]
    weeks = weekly(entries, T0, T0 + timedelta(days=14))
    assert [
        (w.revoked_in_week, w.revoked_cumulative, w.expired_in_week, w.remaining_at_end)
        for w in weeks
    ] == [
        (1, 1, 1, 2),
        (1, 2, 0, 1),
    ]


@settings(max_examples=150, deadline=None)
@given(
    st.lists(st.tuples(st.floats(0.1, 60), st.integers(40, 60)), min_size=1, max_size=60),
    st.lists(st.tuples(st.floats(-2, 40), st.integers(40, 60)), max_size=30),
    st.integers(300, 2000),
    st.sampled_from(list(Policy)),
)
def test_the_budget_the_plan_asks_for_meets_the_deadline(
    raw_targets: list[tuple[float, int]],
    raw_existing: list[tuple[float, int]],
    budget: int,
    policy: Policy,
) -> None:
    targets = [target(i, 0, d, b) for i, (d, b) in enumerate(raw_targets)]
    existing = [(T0 + timedelta(days=d), b) for d, b in raw_existing]
    deadline = T0 + timedelta(days=5)
    first = plan(
        targets, [ShardLoad((1, 0), budget, 200, existing)], T0, deadline, LOOKBACK, policy
    )
    if first.deadline_met:
        return
    needed = first.budget_to_meet_deadline()
    again = plan(
        targets, [ShardLoad((1, 0), needed, 200, existing)], T0, deadline, LOOKBACK, policy
    )
    assert again.deadline_met, again.verdict().summary(1)
