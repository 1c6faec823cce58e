"""BR 4.9.1.1 deadlines and BR 7.2.2 reason rules."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from zoneinfo import ZoneInfo

import pytest

from certkeeper.errors import InputError
from certkeeper.revocation.reasons import (
    BR_4_9_1_1,
    CrlReason,
    deadline,
    encoded_reason,
    may_replace,
    parse_reason,
)


@pytest.mark.parametrize("item", range(1, 17))
def test_deadline_is_24_hours_for_items_1_to_5_and_5_days_after(item: int) -> None:
    aware = datetime(2026, 11, 23, 9, 30, tzinfo=UTC)
    expected = timedelta(hours=24) if item <= 5 else timedelta(days=5)
    assert deadline(aware, item) - aware == expected


def test_deadline_is_an_instant_whatever_the_zone() -> None:
    utc = datetime(2026, 3, 28, 23, 0, tzinfo=UTC)
    paris = utc.astimezone(ZoneInfo("Europe/Paris"))  # the night Paris moves to summer time
    tokyo = utc.astimezone(timezone(timedelta(hours=9)))
    for item in (3, 12):
        assert deadline(paris, item) == deadline(utc, item) == deadline(tokyo, item)
    # 24 elapsed hours, even though the Paris wall clock moves 25 hours
    assert deadline(paris, 3).astimezone(ZoneInfo("Europe/Paris")).hour == paris.hour + 1


def test_deadline_needs_a_zone_and_a_real_item() -> None:
    with pytest.raises(InputError, match="needs a time zone"):
        deadline(datetime(2026, 1, 1), 3)
    with pytest.raises(InputError, match="no item 17"):
        deadline(datetime(2026, 1, 1, tzinfo=UTC), 17)


def test_items_carry_the_br_reasons() -> None:
    reasons = {i.number: i.reason for i in BR_4_9_1_1}
    assert reasons[1] is CrlReason.unspecified
    assert reasons[3] is reasons[4] is reasons[16] is CrlReason.keyCompromise
    assert reasons[5] is reasons[6] is reasons[12] is CrlReason.superseded
    assert reasons[9] is CrlReason.cessationOfOperation
    assert reasons[14] is reasons[15] is CrlReason.unspecified
    assert len(BR_4_9_1_1) == 16


@pytest.mark.parametrize(
    ("text", "reason"),
    [
        ("keyCompromise", CrlReason.keyCompromise),
        ("KEY-COMPROMISE", CrlReason.keyCompromise),
        ("1", CrlReason.keyCompromise),
        ("superseded", CrlReason.superseded),
        ("0", CrlReason.unspecified),
        ("privilege_withdrawn", CrlReason.privilegeWithdrawn),
    ],
)
def test_reason_names_and_numbers(text: str, reason: CrlReason) -> None:
    assert parse_reason(text) is reason


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("certificateHold", "not allowed"),
        ("6", "not allowed"),
        ("cACompromise", "not allowed"),
        ("7", "unknown revocation reason"),
        ("lost", "unknown revocation reason"),
    ],
)
def test_forbidden_reasons(text: str, message: str) -> None:
    with pytest.raises(InputError, match=message):
        parse_reason(text)


def test_unspecified_is_never_encoded_and_only_key_compromise_replaces() -> None:
    assert encoded_reason(CrlReason.unspecified) is None
    assert encoded_reason(CrlReason.superseded) == 4
    assert may_replace(CrlReason.superseded, CrlReason.keyCompromise)
    assert not may_replace(CrlReason.keyCompromise, CrlReason.superseded)
    assert not may_replace(CrlReason.unspecified, CrlReason.superseded)
    assert not may_replace(CrlReason.keyCompromise, CrlReason.keyCompromise)
