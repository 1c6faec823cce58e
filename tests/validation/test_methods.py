"""BR 3.2.2.4 methods and the BR 4.2.1 reuse schedule as dated data."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from certkeeper.validation import methods


def at(y: int, m: int, d: int, hour: int = 0) -> datetime:
    return datetime(y, m, d, hour, tzinfo=UTC)


@pytest.mark.parametrize(
    ("when", "days"),
    [
        (at(2025, 1, 1), 398),
        (at(2026, 3, 14, 23), 398),
        (at(2026, 3, 15), 200),
        (at(2027, 3, 14, 23), 200),
        (at(2027, 3, 15), 100),
        (at(2029, 3, 14, 23), 100),
        (at(2029, 3, 15), 10),
        (at(2035, 1, 1), 10),
    ],
)
def test_reuse_schedule_sc081(when: datetime, days: int) -> None:
    assert methods.max_reuse_days(when) == days


def test_configured_days_capped_by_limit_in_force() -> None:
    assert methods.reuse_days(30, at(2026, 11, 23)) == 30
    assert methods.reuse_days(398, at(2026, 11, 23)) == 200
    assert methods.reuse_days(None, at(2029, 6, 1)) == 10
    validated = at(2026, 1, 10)
    assert methods.reuse_until(validated, None) == validated + timedelta(days=398)


def test_reuse_shrinks_with_the_schedule() -> None:
    validated = at(2026, 1, 10)
    until = methods.reuse_until(validated, None)  # 398 days
    assert methods.still_reusable(validated, until, None, at(2026, 3, 14))
    # From 2026-03-15 only 200 days count back from the day of reliance.
    assert methods.still_reusable(validated, until, None, validated + timedelta(days=199))
    assert not methods.still_reusable(validated, until, None, validated + timedelta(days=200))
    assert not methods.still_reusable(validated, until, 5, validated + timedelta(days=6))


def test_methods_in_force_and_challenge_types() -> None:
    now = at(2026, 11, 23)
    assert methods.method_for_challenge("http-01", now).section == "3.2.2.4.19"  # type: ignore[union-attr]
    assert methods.method_for_challenge("dns-01", now).section == "3.2.2.4.7"  # type: ignore[union-attr]
    assert methods.method_for_challenge("tls-alpn-01", now).section == "3.2.2.4.20"  # type: ignore[union-attr]
    assert methods.method_for_challenge("tls-sni-01", now) is None
    assert methods.challenge_types_in_force(now, wildcard=True) == ["dns-01"]
    # Before SC33 there was no tls-alpn-01 method.
    assert "tls-alpn-01" not in methods.challenge_types_in_force(at(2020, 1, 1), wildcard=False)


def test_retired_methods_are_data() -> None:
    m6 = methods.method("3.2.2.4.6")
    assert m6.sunset is not None and not m6.in_force(at(2026, 1, 1))
    assert m6.in_force(at(2019, 1, 1))
    assert not methods.method("3.2.2.4.10").in_force(at(2021, 1, 1))
    with pytest.raises(KeyError):
        methods.method("3.2.2.4.99")
