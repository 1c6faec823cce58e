"""The `[ct]` table of certkeeper.toml. No `log_list` means CT is off (the default
until a home has logs to submit to); the log list itself is read when issuance is
assembled, so a broken list stops issuance, not every other command."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from certkeeper.tomlcheck import TomlProblem, check_keys, get

# The browser CT policies `policies` may name (their rows are in ct/policy.py), and the
# ones met together unless the table says otherwise.
POLICY_NAMES = ("chrome", "apple")
DEFAULT_POLICIES = POLICY_NAMES


@dataclass(frozen=True)
class SubmissionSettings:
    timeout_seconds: float = 10.0  # one HTTP request
    deadline_seconds: float = 60.0  # the whole collection for one certificate
    attempts_per_log: int = 3
    backoff_seconds: float = 0.5  # doubled after each failed attempt on the same log
    policies: tuple[str, ...] = DEFAULT_POLICIES


@dataclass(frozen=True)
class CtSettings:
    log_list: Path | None = None  # Chrome v3 log_list.json; None = no CT
    submission: SubmissionSettings = field(default_factory=SubmissionSettings)

    @property
    def enabled(self) -> bool:
        return self.log_list is not None


_KEYS = (
    "log_list",
    "policies",
    "timeout_seconds",
    "deadline_seconds",
    "attempts_per_log",
    "backoff_seconds",
)


def parse_ct(table: dict[str, Any], where: str, home: Path) -> CtSettings:
    w = f"{where} [ct]"
    check_keys(table, _KEYS, w)
    log_list = get(table, "log_list", str, w, default="")
    policies = get(table, "policies", list, w, default=list(DEFAULT_POLICIES))
    if not policies or not all(isinstance(p, str) and p in POLICY_NAMES for p in policies):
        raise TomlProblem(f"{w}.policies: {policies!r}: each one of {', '.join(POLICY_NAMES)}")
    timeout = _positive(table, "timeout_seconds", w, 10.0)
    deadline = _positive(table, "deadline_seconds", w, 60.0)
    if deadline < timeout:
        raise TomlProblem(f"{w}.deadline_seconds: {deadline:g} is shorter than timeout_seconds")
    attempts = get(table, "attempts_per_log", int, w, default=3)
    if not 1 <= attempts <= 10:
        raise TomlProblem(f"{w}.attempts_per_log: {attempts} is not between 1 and 10")
    return CtSettings(
        log_list=(home / log_list) if log_list else None,
        submission=SubmissionSettings(
            timeout_seconds=timeout,
            deadline_seconds=deadline,
            attempts_per_log=attempts,
            backoff_seconds=_positive(table, "backoff_seconds", w, 0.5),
            policies=tuple(dict.fromkeys(policies)),
        ),
    )


def _positive(table: dict[str, Any], key: str, w: str, default: float) -> float:
    value = table.get(key, default)
    if isinstance(value, bool) or not isinstance(value, int | float) or not 0 < value <= 3600:
        raise TomlProblem(f"{w}.{key}: {value!r} is not a number of seconds in (0, 3600]")
    return float(value)
