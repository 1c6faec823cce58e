"""Submission to real (loopback) RFC 6962 logs, with the faults real logs show."""

from __future__ import annotations

import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from certkeeper.ct.sct import precert_entry, verify_sct
from certkeeper.ct.submit import Submitter
from certkeeper.settings.ct import SubmissionSettings

from .served import MiniCa, ServedLog, log_list, served_logs

T = datetime(2026, 11, 2, tzinfo=UTC)
FAST = SubmissionSettings(
    timeout_seconds=0.5, deadline_seconds=3.0, attempts_per_log=2, backoff_seconds=0.05
)


@pytest.fixture(scope="module")
def ca() -> MiniCa:
    return MiniCa.create(T)


@pytest.fixture
def logs(ca: MiniCa) -> Iterator[list[ServedLog]]:
    with served_logs([ca.chain()[-1]], ["Op A", "Op A", "Op B", "Op C"]) as served:
        for s in served:
            s.log.timeout_seconds = 2.0
        yield served


def collect(
    ca: MiniCa, logs: list[ServedLog], days: int = 45, settings: SubmissionSettings = FAST
) -> tuple[Submitter, list[str], list[str], str | None]:
    submitter = Submitter(log_list(logs, T), settings)
    pre = ca.precertificate(T, days)
    result = submitter.collect(pre, ca.chain())
    for got in result.scts:
        verify_sct(got.sct, got.log.key, precert_entry(pre, ca.issuer))
    return submitter, [c.log.operator for c in result.scts], result.problems, result.unmet()


def test_short_certificate_gets_two_operators_long_one_three_logs(
    ca: MiniCa, logs: list[ServedLog]
) -> None:
    _, operators, problems, unmet = collect(ca, logs)
    assert unmet is None and not problems
    assert len(operators) == 2 and len(set(operators)) == 2
    _, operators, problems, unmet = collect(ca, logs, days=181)
    assert unmet is None and not problems
    assert len(operators) == 3 and len(set(operators)) >= 2
    asked = [s.log.submissions for s in logs]
    assert sum(asked) == 5  # only as many logs as the policy needs


@pytest.mark.parametrize(
    ("fault", "problem"),
    [
        ("timeout", "timed out"),
        ("5xx", "HTTP 503"),
        ("bad_signature", "SCT refused: signature does not verify"),
        ("wrong_log_id", "SCT refused: log id"),
        ("clock", "SCT refused: timestamp 3600s in the future"),
    ],
)
def test_a_faulty_log_is_replaced_and_its_sct_never_used(
    ca: MiniCa, logs: list[ServedLog], fault: str, problem: str
) -> None:
    if fault == "clock":  # a log whose clock runs an hour ahead
        logs[0].log.clock_ms = lambda: time.time_ns() // 1_000_000 + 3_600_000
    else:
        logs[0].log.faults.add(fault)
    _, operators, problems, unmet = collect(ca, logs)
    assert unmet is None
    assert len(set(operators)) == 2
    assert any(problem in p and "test log 0" in p for p in problems), problems


def test_policy_unmet_by_the_deadline_is_reported_not_hidden(
    ca: MiniCa, logs: list[ServedLog]
) -> None:
    for s in logs[1:]:
        s.log.faults.add("timeout")
    started = time.monotonic()
    _, operators, problems, unmet = collect(ca, logs)
    elapsed = time.monotonic() - started
    assert operators == ["Op A"]
    assert unmet is not None and "has 1 from 1 operator" in unmet
    assert any("deadline of 3s passed" in p for p in problems)
    assert elapsed < FAST.deadline_seconds + 1.0


def test_a_list_that_cannot_meet_the_policy_submits_nothing(
    ca: MiniCa, logs: list[ServedLog]
) -> None:
    _, operators, problems, unmet = collect(ca, logs[:2])  # one operator only
    assert operators == [] and unmet is not None
    assert "too few usable logs" in problems[0]
    assert all(s.log.submissions == 0 for s in logs)
