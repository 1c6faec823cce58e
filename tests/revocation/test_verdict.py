"""The plan's verdict: never "meets the deadline" while an item stays valid past it."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper.revocation.planner import Planned, Policy, ShardLoad, Target, plan
from certkeeper.revocation.verdict import Done, Verdict

T0 = datetime(2026, 11, 23, tzinfo=UTC)
DEADLINE = T0 + timedelta(days=5)  # BR 4.9.1.1 item 12: five days
LOOKBACK = timedelta(days=1)
ENTRY = 49  # bytes of one CRL entry with a 16-octet serial and a reason code
OVERHEAD = 600


def seed_004_shape(count: int = 2000) -> list[Target]:
    """Seed 000 at seed 004's size: every certificate issued together, 90-day validity."""
    return [Target(f"{i:032x}", (1, 0), T0 + timedelta(days=90), ENTRY) for i in range(count)]


def test_certificates_expiring_months_after_the_deadline_are_never_left_to_expire() -> None:
    p = plan(seed_004_shape(), [ShardLoad((1, 0), 10_000, OVERHEAD, ())], T0, DEADLINE, LOOKBACK)
    v = p.verdict()
    fit = (10_000 - OVERHEAD) // ENTRY
    assert v.certificates.in_time == fit
    assert v.certificates.unrevoked == 2000 - fit  # the old planner called these "left to expire"
    assert v.certificates.left_to_expire == 0
    assert not v.met and not p.deadline_met
    text = v.summary(7)
    assert text.startswith("DEADLINE MISSED")
    assert f"{2000 - fit:,} of 2,000 certificates ({2000 - fit:,} with no room" in text
    assert "meets" not in text
    needed = OVERHEAD + 2000 * ENTRY
    assert v.budget_to_meet_deadline == needed
    assert text.endswith(f"(certkeeper incident plan 7 --override-budget {needed}).")
    again = plan(
        seed_004_shape(), [ShardLoad((1, 0), needed, OVERHEAD, ())], T0, DEADLINE, LOOKBACK
    )
    assert again.verdict().met and again.all_at_once


def test_only_certificates_expiring_by_the_deadline_may_be_left_to_expire() -> None:
    soon = [Target(f"a{i}", (1, 0), T0 + timedelta(days=2), ENTRY) for i in range(10)]
    late = [Target(f"b{i}", (1, 0), T0 + timedelta(days=30), ENTRY) for i in range(5)]
    room = OVERHEAD + 5 * ENTRY  # room for the five that outlive the deadline, no more
    p = plan(soon + late, [ShardLoad((1, 0), room, OVERHEAD, ())], T0, DEADLINE, LOOKBACK)
    v = p.verdict()
    assert v.met, v.summary(1)
    assert (v.certificates.in_time, v.certificates.left_to_expire) == (5, 10)
    assert "10 certificates left to expire (notAfter at or before the deadline)" in v.summary(1)


def test_precertificates_are_counted_apart_from_certificates() -> None:
    targets = seed_004_shape(20) + [
        Target(f"p{i}", (1, 0), T0 + timedelta(days=90), ENTRY, kind="precertificate")
        for i in range(3)
    ]
    v = plan(targets, [ShardLoad((1, 0), 10**6, OVERHEAD, ())], T0, DEADLINE, LOOKBACK).verdict()
    assert (v.certificates.total, v.precertificates.total) == (20, 3)
    assert "20 of 20 certificates revoked by it (and 3 of 3 precertificates" in v.summary(1)
    assert "23" not in v.summary(1)


def test_a_plan_made_after_the_deadline_says_no_budget_can_meet_it() -> None:
    start = DEADLINE + timedelta(hours=1)
    p = plan(seed_004_shape(5), [ShardLoad((1, 0), 10**6, OVERHEAD, ())], start, DEADLINE, LOOKBACK)
    v = p.verdict([Done("certificate", T0 + timedelta(days=90), T0)])
    assert (v.certificates.late, v.certificates.in_time, v.certificates.total) == (5, 1, 6)
    assert not v.met
    assert "No budget can meet it: the deadline had passed when it was planned." in v.summary(1)
    # nor does it name a budget when the one it had was too small as well
    small = plan(
        seed_004_shape(5), [ShardLoad((1, 0), OVERHEAD, OVERHEAD, ())], start, DEADLINE, LOOKBACK
    )
    assert "--override-budget" not in small.verdict().summary(1)
    assert "the deadline had passed" in small.verdict().summary(1)


def recompute(rows: list[Planned], deadline: datetime, kind: str) -> tuple[int, int, int, int]:
    """(in time, late, unrevoked past the deadline, left to expire), written out again."""
    mine = [r for r in rows if r.kind == kind]
    in_time = sum(1 for r in mine if r.planned_at is not None and r.planned_at <= deadline)
    late = sum(1 for r in mine if r.planned_at is not None and r.planned_at > deadline)
    unrevoked = sum(1 for r in mine if r.planned_at is None and r.not_after > deadline)
    expiring = sum(1 for r in mine if r.planned_at is None and r.not_after <= deadline)
    return in_time, late, unrevoked, expiring


@settings(max_examples=200, deadline=None)
@given(
    st.lists(
        st.tuples(
            st.integers(0, 2),
            st.floats(0.01, 40),
            st.integers(40, 60),
            st.booleans(),
            st.sampled_from(["certificate", "precertificate"]),
        ),
        max_size=80,
    ),
    st.lists(st.tuples(st.integers(0, 2), st.floats(-2, 40), st.integers(40, 60)), max_size=30),
    st.integers(200, 3000),
    st.floats(0, 8),
    st.floats(0.5, 10),
    st.sampled_from(list(Policy)),
)
def test_the_stated_verdict_equals_a_recomputation_from_the_plan_rows(
    raw_targets: list[tuple[int, float, int, bool, str]],
    raw_existing: list[tuple[int, float, int]],
    budget: int,
    start_days: float,
    deadline_days: float,
    policy: Policy,
) -> None:
    start = T0 + timedelta(days=start_days)  # may be after the deadline
    deadline = T0 + timedelta(days=deadline_days)
    targets = [
        Target(f"{i:x}", (1, s), T0 + timedelta(days=d), b, u, k)
        for i, (s, d, b, u, k) in enumerate(raw_targets)
    ]
    shards = [
        ShardLoad(
            (1, s),
            budget,
            200,
            [(T0 + timedelta(days=d), b) for ss, d, b in raw_existing if ss == s],
        )
        for s in range(3)
    ]
    p = plan(targets, shards, start, deadline, LOOKBACK, policy)
    v = p.verdict()
    missing = 0
    for kind, t in (("certificate", v.certificates), ("precertificate", v.precertificates)):
        figures = recompute(p.items, deadline, kind)
        assert (t.in_time, t.late, t.unrevoked, t.left_to_expire) == figures
        assert t.total == sum(1 for x in targets if x.kind == kind)
        missing += figures[1] + figures[2]
    assert v.met is (missing == 0) is p.deadline_met
    text = v.summary(3)
    assert text.startswith("DEADLINE MISSED") is (missing > 0)
    assert text.startswith("The plan meets the deadline") is (missing == 0)
    # what is stored with the plan and read back by every other surface is the same
    assert Verdict.from_dict(v.to_dict()) == v
    # a row left to expire really expires by the deadline
    assert all(r.not_after <= deadline for r in p.items if r.planned_at is None and v.met), (
        "a met plan leaves only certificates that expire by the deadline"
    )


def test_a_plan_recorded_without_a_verdict_is_not_trusted() -> None:
    """Plans recorded before verdicts were stored said "meets the deadline" wrongly;
    every surface asks for a new plan instead of repeating them."""
    from certkeeper.revocation.incidents import plan_verdict, verdict_sentence

    old = {"summary": "all 2000 certificates fit", "deadline_met": True, "left_to_expire": 1804}
    assert plan_verdict(old) is None
    assert verdict_sentence(3, old) == (
        "The latest plan has no recorded verdict (made by an earlier version): "
        "run certkeeper incident plan 3 again."
    )
    assert verdict_sentence(3, None) == "No revocation plan has been made."
