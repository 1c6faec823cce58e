"""How many SCTs a certificate needs, and from whom: browser CT policies as data.

Each policy is a row with its source and the date it took effect; `required_for`
combines the ones in force into the strictest demand. Current text (checked
2026-12): Chrome (googlechrome.github.io/CertificateTransparency/ct_policy.html, since
2022-04-15): embedded SCTs from at least 2 distinct logs for a lifetime of at most 180
days and 3 above, from at least 2 distinct log operators. Apple
(support.apple.com/103214, since 2021-04-21): 2 SCTs for at most 180 days, 3 above,
from at least 2 distinct operators. Lifetime is notAfter - notBefore, as both measure it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta

from certkeeper.settings.ct import DEFAULT_POLICIES


@dataclass(frozen=True)
class CtPolicy:
    name: str
    source: str
    effective: date  # applies to certificates with notBefore on or after this day
    # (longest lifetime in days, SCTs from distinct logs); the first row that fits applies
    tiers: tuple[tuple[int | None, int], ...]
    min_operators: int

    def scts_for(self, lifetime: timedelta) -> int:
        for max_days, count in self.tiers:
            if max_days is None or lifetime <= timedelta(days=max_days):
                return count
        raise AssertionError("the last tier has no limit")


CHROME = CtPolicy(
    name="chrome",
    source="https://googlechrome.github.io/CertificateTransparency/ct_policy.html",
    effective=date(2022, 4, 15),
    tiers=((180, 2), (None, 3)),
    min_operators=2,
)
APPLE = CtPolicy(
    name="apple",
    source="https://support.apple.com/103214",
    effective=date(2021, 4, 21),
    tiers=((180, 2), (None, 3)),
    min_operators=2,
)
# Keyed by the names [ct] policies may use (settings.ct.POLICY_NAMES, the same rows).
POLICIES: dict[str, CtPolicy] = {p.name: p for p in (CHROME, APPLE)}


@dataclass(frozen=True)
class Requirement:
    """What one certificate needs: SCTs from `logs` distinct logs of `operators` operators."""

    logs: int
    operators: int
    because: tuple[str, ...]  # the policies that set it

    def describe(self) -> str:
        return (
            f"{self.logs} SCTs from distinct logs of at least {self.operators} operators "
            f"({' and '.join(self.because)})"
        )

    def unmet(self, log_operators: Iterable[tuple[bytes, str]]) -> str | None:
        """Why SCTs from these (log id, operator) pairs fall short, or None if they do not."""
        pairs = dict(log_operators)
        operators = set(pairs.values())
        if len(pairs) >= self.logs and len(operators) >= self.operators:
            return None
        return (
            f"needs {self.describe()}; has {len(pairs)} from {len(operators)} operator"
            f"{'' if len(operators) == 1 else 's'}"
        )


def required_for(
    not_before: datetime, not_after: datetime, policies: Sequence[str] = DEFAULT_POLICIES
) -> Requirement:
    """The strictest demand of the named policies in force at notBefore."""
    lifetime = not_after - not_before
    day = not_before.astimezone(UTC).date()
    in_force = [POLICIES[name] for name in policies if POLICIES[name].effective <= day]
    if not in_force:  # before every policy: still ask for the oldest one's numbers
        in_force = [min((POLICIES[n] for n in policies), key=lambda p: p.effective)]
    logs = max(p.scts_for(lifetime) for p in in_force)
    operators = max(p.min_operators for p in in_force)
    because = tuple(p.name for p in in_force)
    return Requirement(logs=logs, operators=operators, because=because)


def statement(policies: Sequence[str] = DEFAULT_POLICIES) -> str:
    """The CT policy in words, for the CPS (`cps render`), from the same rows."""
    rows = [POLICIES[name] for name in policies]
    limits = sorted({days for p in rows for days, _ in p.tiers if days is not None})
    parts = [
        f"{max(p.scts_for(timedelta(days=days)) for p in rows)} for a lifetime of at most "
        f"{days} days"
        for days in limits
    ]
    above = timedelta(days=limits[-1], seconds=1) if limits else timedelta(0)
    parts.append(f"{max(p.scts_for(above) for p in rows)} above")
    operators = max(p.min_operators for p in rows)
    names = " and ".join(p.name.capitalize() for p in rows)
    which = (
        f"the stricter of the {names} CT policies" if len(rows) > 1 else f"the {names} CT policy"
    )
    return (
        "Certificate Transparency: every certificate embeds signed certificate timestamps "
        f"(RFC 6962 3.3) from distinct logs, {', '.join(parts)}, operated by at least "
        f"{operators} different log operators: {which} in force at the certificate's "
        "notBefore. Each timestamp is verified against its "
        "log's key before it is embedded; without enough of them no certificate is signed."
    )
