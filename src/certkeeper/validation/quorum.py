"""The BR 3.2.2.9 quorum (Multi-Perspective Issuance Corroboration) as data.

Pure: dates and counts in, a decision out. The quorum table and the phased minimum are
copied from the Baseline Requirements so that a change of the rules is a change of the
tables below, reviewed against the text, and nothing else.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import date

# Where does a remote perspective's answer stand against the primary's determination.
Outcome = tuple[str, bool]  # (RIR region, corroborated)


@dataclass(frozen=True)
class QuorumRow:
    """One row of the "Quorum Requirements" table."""

    used_from: int  # distinct remote Network Perspectives used, lower bound
    used_to: int | None  # upper bound, None for "and more"
    allowed_non_corroborations: int


# Table: Quorum Requirements (BR 3.2.2.9).
QUORUM_TABLE: tuple[QuorumRow, ...] = (
    QuorumRow(2, 5, 1),
    QuorumRow(6, None, 2),
)


@dataclass(frozen=True)
class Phase:
    """One step of the BR 3.2.2.9 "Phased Implementation Timeline"."""

    effective: date
    minimum_remote: int  # remote Network Perspectives the CA must use
    mandatory: bool  # MUST (True) or SHOULD (False)
    quorum_blocks_issuance: bool  # MUST NOT proceed when the quorum fails
    distinct_rirs: int  # corroborating perspectives must span this many RIR regions


PHASES: tuple[Phase, ...] = (
    Phase(date(2024, 9, 15), 2, mandatory=False, quorum_blocks_issuance=False, distinct_rirs=0),
    Phase(date(2025, 3, 15), 2, mandatory=True, quorum_blocks_issuance=False, distinct_rirs=0),
    Phase(date(2025, 9, 15), 2, mandatory=True, quorum_blocks_issuance=True, distinct_rirs=0),
    Phase(date(2026, 3, 15), 3, mandatory=True, quorum_blocks_issuance=True, distinct_rirs=2),
    Phase(date(2026, 6, 15), 4, mandatory=True, quorum_blocks_issuance=True, distinct_rirs=2),
    Phase(date(2026, 12, 15), 5, mandatory=True, quorum_blocks_issuance=True, distinct_rirs=2),
)

# certkeeper always uses at least this many remote perspectives when MPIC is required,
# including before the first phase: BR 3.2.2.9 never allows fewer than two.
FLOOR_REMOTE = 2


def allowed_non_corroborations(used: int) -> int:
    """Remote perspectives that may fail to corroborate when `used` were used.

    Fewer than two is outside the table (BR 3.2.2.9 never permits it): none may fail."""
    for row in QUORUM_TABLE:
        if used >= row.used_from and (row.used_to is None or used <= row.used_to):
            return row.allowed_non_corroborations
    return 0


def required_corroborations(used: int) -> int:
    """Remote perspectives that must corroborate when `used` were used."""
    return used - allowed_non_corroborations(used)


def phase_at(day: date) -> Phase | None:
    """The phase in force on `day` (None before the first one)."""
    current = None
    for phase in PHASES:
        if phase.effective <= day:
            current = phase
    return current


@dataclass(frozen=True)
class Policy:
    """What certkeeper enforces on one day.

    Stricter than the BR in one respect: the quorum always blocks issuance, also in the
    2025 window where the BR still allowed proceeding after a failed quorum."""

    day: date
    minimum_remote: int
    distinct_rirs: int
    since: date | None  # effective date of the phase the minimum comes from


def policy_at(day: date) -> Policy:
    phase = phase_at(day)
    if phase is None:
        return Policy(day, FLOOR_REMOTE, 0, None)
    return Policy(
        day, max(FLOOR_REMOTE, phase.minimum_remote), phase.distinct_rirs, phase.effective
    )


@dataclass(frozen=True)
class Decision:
    passed: bool
    required: int  # corroborating remote perspectives needed
    corroborated: int
    detail: str


def decide(day: date, outcomes: Sequence[Outcome]) -> Decision:
    """Apply the quorum table, the dated minimum and the RIR rule to remote outcomes.

    `outcomes` holds one (region, corroborated) pair per distinct remote perspective
    used; a perspective that timed out or failed is a pair with corroborated=False."""
    policy = policy_at(day)
    used = len(outcomes)
    required = required_corroborations(used) if used >= FLOOR_REMOTE else policy.minimum_remote
    corroborating = [region for region, ok in outcomes if ok]
    count = len(corroborating)
    if used < policy.minimum_remote:
        since = f" since {policy.since.isoformat()}" if policy.since else ""
        return Decision(
            False,
            required,
            count,
            f"{used} remote perspective{_s(used)} used; BR 3.2.2.9 requires at least "
            f"{policy.minimum_remote}{since}",
        )
    if count < required:
        return Decision(
            False,
            required,
            count,
            f"{count} of {used} remote perspectives corroborated; the BR 3.2.2.9 quorum "
            f"needs {required} (at most {used - required} non-corroboration"
            f"{_s(used - required)})",
        )
    regions = sorted(set(corroborating))
    if len(regions) < policy.distinct_rirs:
        return Decision(
            False,
            required,
            count,
            f"corroborating remote perspectives span {len(regions)} RIR region"
            f"{_s(len(regions))} ({', '.join(regions) or 'none'}); BR 3.2.2.9 requires "
            f"{policy.distinct_rirs} distinct regions",
        )
    return Decision(True, required, count, f"{count} of {used} remote perspectives corroborated")


def _s(n: int) -> str:
    return "" if n == 1 else "s"
