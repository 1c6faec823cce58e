"""The incident heuristic in plain words, and the remaining-certificates series."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.report.series import leave_time, remaining_series, value_at
from certkeeper.report.words import selector_in_words
from certkeeper.revocation import ledger

T0 = datetime(2026, 1, 1, tzinfo=UTC)
times = st.integers(0, 60 * 24 * 30).map(lambda m: T0 + timedelta(minutes=m))
hexes = st.text("0123456789abcdef", min_size=1, max_size=12).map(lambda s: "1" + s)
names = st.from_regex(r"[a-z][a-z0-9-]{0,12}", fullmatch=True)

filters = st.builds(
    CertificateFilter,
    issuer=st.none() | names,
    profile_id=st.none() | names,
    cps_version=st.none() | st.from_regex(r"[0-9]\.[0-9]", fullmatch=True),
    issued_after=st.none() | times,
    issued_before=st.none() | times,
    expiring_after=st.none() | times,
    key_type=st.none() | st.sampled_from(["rsa-2048", "ecdsa-p256"]),
    domain_suffix=st.none() | names.map(lambda n: f"{n}.example"),
    serial=st.none() | hexes,
    subscriber_id=st.none() | names,
    lint_id=st.none() | names,
    serials=st.none() | st.lists(hexes, min_size=1, max_size=5).map(tuple),
)


@given(filters)
def test_every_condition_of_the_selector_is_in_the_sentence(flt: CertificateFilter) -> None:
    words = selector_in_words(flt.to_dict(), T0)
    for value in (
        flt.issuer,
        flt.profile_id,
        flt.cps_version,
        flt.key_type,
        flt.domain_suffix,
        flt.serial,
        flt.subscriber_id,
        flt.lint_id,
    ):
        if value is not None:
            assert value in words
    for moment in (flt.issued_after, flt.issued_before, flt.expiring_after):
        if moment is not None:
            assert moment.strftime("%Y-%m-%d %H:%M:%S UTC") in words
    if flt.serials is not None:
        assert f"one of the {len(flt.serials)} listed serial" in words
    assert "2026-01-01 00:00:00 UTC (when the CA was made aware)" in words


def test_a_typical_selector_reads_as_a_sentence() -> None:
    flt = CertificateFilter(
        issuer="tls-rsa-1",
        key_type="rsa-2048",
        issued_after=datetime(2024, 7, 21, tzinfo=UTC),
        issued_before=datetime(2025, 4, 21, tzinfo=UTC),
    )
    assert selector_in_words(flt.to_dict(), T0).startswith(
        "Every certificate issued by the CA 'tls-rsa-1'; with a notBefore from "
        "2024-07-21 00:00:00 UTC up to, but not including, 2025-04-21 00:00:00 UTC; "
        "and with a subject public key of type rsa-2048, if it was unexpired at"
    )


entries = st.lists(st.tuples(times, st.none() | times, st.none() | times), min_size=0, max_size=40)


@given(entries, times, st.integers(3, 12))
def test_series_agrees_with_the_ledger_at_every_point(
    items: list[tuple[datetime, datetime | None, datetime | None]],
    end: datetime,
    max_points: int,
) -> None:
    start = T0
    leaves = [leave_time(not_after, revoked) for not_after, revoked, _ in items]
    series = remaining_series(leaves, len(items), start, end, max_points)
    assert series[0][0] == start and series[-1][0] == end
    assert len(series) <= max(max_points, 2)
    values = [v for _, v in series]
    assert values == sorted(values, reverse=True)  # never goes up
    records = [
        ledger.Entry(f"{i:064x}", not_after, revoked)
        for i, (not_after, revoked, _) in enumerate(items)
    ]
    for moment, value in series:
        assert value == ledger.status(records, moment).remaining
        assert value_at(series, moment) == value


@given(entries)
def test_the_plan_leaves_no_later_than_the_actual(
    items: list[tuple[datetime, datetime | None, datetime | None]],
) -> None:
    for not_after, revoked, planned in items:
        assert leave_time(not_after, revoked, planned) <= leave_time(not_after, revoked)
        if revoked is not None:  # a revocation that happened beats any plan
            assert leave_time(not_after, revoked, planned) == min(not_after, revoked)


def test_every_event_of_the_log_reads_as_a_sentence() -> None:
    from certkeeper.report.build import event_text
    from certkeeper.store.incidents import Event

    cases: dict[str, dict[str, Any]] = {
        "opened": {"affected": 7, "deadline": "2026-11-19T05:36:39+00:00"},
        "planned": {"summary": "all 7 at once"},
        "execution started": {"until": "2026-11-23T05:36:39+00:00"},
        "batch revoked": {"batch": 0, "revoked": 2, "already_revoked": 1, "expired": 0},
        "execution finished": {"revoked": 2, "already_revoked": 1, "expired": 0},
        "notifications": {"sent": 3, "failed": 1, "without_contact": ["s1"]},
        "report details updated": {"fields": ["description"]},
        "action item added": {"number": 1, "kind": "Prevent", "due": "2026-12-01"},
        "action item changed": {"number": 1, "status": "Complete"},
        "something new": {"b": 2, "a": 1},
    }
    texts = {k: event_text(Event(T0, "alice", k, d)) for k, d in cases.items()}
    assert texts["planned"] == "Revocation planned by alice: all 7 at once."
    assert texts["batch revoked"] == ("Batch 0 revoked: 2 revoked, 1 already revoked, 0 expired.")
    assert texts["notifications"] == (
        "Subscriber notices: 3 sent, 1 failed, 1 subscriber without a contact address."
    )
    assert texts["something new"] == "Something new (alice): a 1, b 2."
    assert all(t.endswith(".") for t in texts.values())
