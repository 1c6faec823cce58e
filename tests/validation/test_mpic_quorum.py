"""The BR 3.2.2.9 quorum as data: the table, the dated minimum, the RIR rule."""

from __future__ import annotations

from datetime import date, timedelta

from hypothesis import given
from hypothesis import strategies as st

from certkeeper.br import RIR_REGIONS
from certkeeper.validation.quorum import (
    QUORUM_TABLE,
    allowed_non_corroborations,
    decide,
    phase_at,
    policy_at,
    required_corroborations,
)

# Inside each phase of the timeline.
AUTUMN_2025 = date(2025, 10, 1)  # at least 2 remote, no RIR rule
SPRING_2026 = date(2026, 4, 1)  # at least 3, corroborations span 2 RIRs
SUMMER_2026 = date(2026, 7, 1)  # at least 4
WINTER_2026 = date(2026, 12, 15)  # at least 5

days = st.dates(min_value=date(2024, 1, 1), max_value=date(2030, 12, 31))
regions = st.sampled_from(RIR_REGIONS)
outcomes = st.lists(st.tuples(regions, st.booleans()), max_size=10)


def test_table_matches_the_br_text() -> None:
    # "| 2-5 | 1 |" and "| 6+ | 2 |"
    assert [(r.used_from, r.used_to, r.allowed_non_corroborations) for r in QUORUM_TABLE] == [
        (2, 5, 1),
        (6, None, 2),
    ]
    assert [allowed_non_corroborations(n) for n in range(2, 10)] == [1, 1, 1, 1, 2, 2, 2, 2]
    assert [required_corroborations(n) for n in range(2, 8)] == [1, 2, 3, 4, 4, 5]


def test_phased_minimum_matches_the_timeline() -> None:
    assert phase_at(date(2024, 9, 14)) is None
    expected = {
        date(2024, 9, 15): (2, False, False, 0),
        date(2025, 3, 15): (2, True, False, 0),
        date(2025, 9, 15): (2, True, True, 0),
        date(2026, 3, 15): (3, True, True, 2),
        date(2026, 6, 15): (4, True, True, 2),
        date(2026, 12, 15): (5, True, True, 2),
    }
    for day, values in expected.items():
        phase = phase_at(day)
        assert phase is not None and phase.effective == day
        assert (
            phase.minimum_remote,
            phase.mandatory,
            phase.quorum_blocks_issuance,
            phase.distinct_rirs,
        ) == values
        before = phase_at(day - timedelta(days=1))
        assert before is None or before.effective < day
    # certkeeper never goes below two remote perspectives, even before the first phase.
    assert policy_at(date(2024, 1, 1)).minimum_remote == 2


@given(st.integers(min_value=0, max_value=200), st.integers(min_value=0, max_value=200))
def test_table_is_monotonic(a: int, b: int) -> None:
    lo, hi = sorted((a, b))
    assert allowed_non_corroborations(lo) <= allowed_non_corroborations(hi)
    assert required_corroborations(lo) <= required_corroborations(hi)
    # Never more failures allowed than perspectives, never fewer than one needed.
    assert 0 <= allowed_non_corroborations(hi) < max(hi, 1)
    if hi >= 2:
        assert required_corroborations(hi) >= 1


@given(days, days)
def test_minimum_never_decreases_over_time(a: date, b: date) -> None:
    early, late = sorted((a, b))
    assert policy_at(early).minimum_remote <= policy_at(late).minimum_remote
    assert policy_at(early).distinct_rirs <= policy_at(late).distinct_rirs


@given(days, outcomes)
def test_decision_is_the_rules_and_nothing_else(day: date, results: list[tuple[str, bool]]) -> None:
    policy = policy_at(day)
    decision = decide(day, results)
    used = len(results)
    good = [region for region, ok in results if ok]
    expected = (
        used >= policy.minimum_remote
        and used - len(good) <= allowed_non_corroborations(used)
        and len(set(good)) >= policy.distinct_rirs
    )
    assert decision.passed is expected
    assert decision.corroborated == len(good)
    assert decision.detail


@given(days, outcomes, st.integers(min_value=0, max_value=9))
def test_one_more_corroboration_never_hurts(
    day: date, results: list[tuple[str, bool]], index: int
) -> None:
    if not results:
        return
    i = index % len(results)
    region, ok = results[i]
    if ok:
        return
    better = [*results[:i], (region, True), *results[i + 1 :]]
    assert decide(day, better).passed >= decide(day, results).passed


def test_two_to_five_tolerate_one_failure_six_tolerate_two() -> None:
    for used in range(2, 6):
        day = AUTUMN_2025 if used < 3 else SPRING_2026 if used < 4 else SUMMER_2026
        one_down = [("ARIN", True)] * (used - 1) + [("RIPE", False)]
        one_down[0] = ("RIPE", True)
        assert decide(day, one_down).passed, used
        two_down = [*one_down[:-2], ("ARIN", False), ("RIPE", False)]
        refused = decide(day, two_down)
        assert not refused.passed
        assert f"needs {used - 1}" in refused.detail
    six = [("ARIN", True), ("RIPE", True)] + [("APNIC", True)] * 2 + [("ARIN", False)] * 2
    assert decide(WINTER_2026, six).passed
    assert not decide(WINTER_2026, [*six[:-3], ("ARIN", False), *six[-2:]]).passed


def test_dated_minimum_refuses_too_few_perspectives() -> None:
    three = [("ARIN", True), ("RIPE", True), ("APNIC", True)]
    assert decide(SPRING_2026, three).passed
    refused = decide(SUMMER_2026, three)
    assert not refused.passed
    assert "requires at least 4 since 2026-06-15" in refused.detail
    assert not decide(WINTER_2026, [*three, ("LACNIC", True)]).passed


def test_corroborations_must_span_two_rirs_from_march_2026() -> None:
    same_region = [("ARIN", True)] * 3
    assert decide(date(2026, 3, 14), same_region).passed
    refused = decide(SPRING_2026, same_region)
    assert not refused.passed
    assert "1 RIR region (ARIN)" in refused.detail
    # A failing perspective in another region does not count towards the span.
    assert not decide(SPRING_2026, [("ARIN", True), ("ARIN", True), ("RIPE", False)]).passed
    assert decide(SPRING_2026, [("ARIN", True), ("RIPE", True), ("RIPE", False)]).passed
