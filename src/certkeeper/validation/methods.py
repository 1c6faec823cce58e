"""BR 3.2.2.4 (domain) and 3.2.2.5 (IP address) validation methods and the BR 4.2.1
reuse schedule, as dated data.

Methods come and go by ballot (method 6 and method 10 were retired; method 20 replaced
method 10), and reuse periods shrink on fixed dates (ballot SC-081). Keeping both as
data with their dates means the code asks "what is in force at this instant" and a rule
change is a new row, not a code change. Dates are UTC days; a rule applies from 00:00 UTC.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, date, datetime, timedelta


@dataclass(frozen=True)
class Method:
    section: str  # BR section, e.g. "3.2.2.4.19"
    name: str
    challenge_type: str | None  # the ACME challenge implementing it, if any
    effective: date  # first day validations may use it
    sunset: date | None  # first day validations may no longer use it
    wildcard: bool  # suitable for Wildcard Domain Names (and FQDNs below the validated one)
    source: str  # ballot or RFC behind the dates
    ip: bool = False  # validates an IP address (BR 3.2.2.5), not a domain name (3.2.2.4)

    def in_force(self, at: datetime) -> bool:
        day = at.astimezone(UTC).date()
        return self.effective <= day and (self.sunset is None or day < self.sunset)


# The methods this CA implements, plus the retired ones whose ACME-era records may still
# exist, so that a record naming them is recognised and refused rather than unknown.
METHODS: tuple[Method, ...] = (
    Method(
        "3.2.2.4.6",
        "Agreed-Upon Change to Website",
        None,
        date(2016, 8, 5),
        date(2020, 6, 3),
        False,
        "ballot 169; sunset by ballot SC25",
    ),
    Method(
        "3.2.2.4.7",
        "DNS Change",
        "dns-01",
        date(2016, 8, 5),
        None,
        True,
        "ballot 169",
    ),
    Method(
        "3.2.2.4.10",
        "TLS Using a Random Number",
        None,
        date(2016, 8, 5),
        date(2020, 8, 14),
        False,
        "ballot 169; retired by ballot SC33",
    ),
    Method(
        "3.2.2.4.19",
        "Agreed-Upon Change to Website - ACME",
        "http-01",
        date(2020, 2, 1),
        None,
        False,
        "ballot SC25; RFC 8555 8.3",
    ),
    Method(
        "3.2.2.4.20",
        "TLS Using ALPN",
        "tls-alpn-01",
        date(2020, 8, 14),
        None,
        False,
        "ballot SC33; RFC 8737",
    ),
    # BR 3.2.2.5: IP addresses (RFC 8738), both added with MPIC by ballot SC067 (BR 2.0.7).
    # dns-01 has no IP counterpart: RFC 8738 7 defines none.
    Method(
        "3.2.2.5.6",
        'ACME "http-01" method for IP Addresses',
        "http-01",
        date(2024, 9, 6),
        None,
        False,
        "ballot SC067; RFC 8738 4",
        ip=True,
    ),
    Method(
        "3.2.2.5.7",
        'ACME "tls-alpn-01" method for IP Addresses',
        "tls-alpn-01",
        date(2024, 9, 6),
        None,
        False,
        "ballot SC067; RFC 8738 6",
        ip=True,
    ),
)

_BY_SECTION = {m.section: m for m in METHODS}


def method(section: str) -> Method:
    try:
        return _BY_SECTION[section]
    except KeyError:
        raise KeyError(f"unknown BR 3.2.2.4 method {section!r}") from None


def method_for_challenge(challenge_type: str, at: datetime, *, ip: bool = False) -> Method | None:
    """The method in force at `at` that `challenge_type` implements for a domain name (or
    for an IP address, `ip`), else None."""
    for m in METHODS:
        if m.challenge_type == challenge_type and m.ip == ip and m.in_force(at):
            return m
    return None


def challenge_types_in_force(at: datetime, *, wildcard: bool, ip: bool = False) -> list[str]:
    """ACME challenge types whose method is in force for a domain name (or an IP address);
    for a wildcard, only wildcard-capable ones (BR 3.2.2.6: http-01 and tls-alpn-01
    validate only the exact FQDN)."""
    return [
        m.challenge_type
        for m in METHODS
        if m.challenge_type is not None
        and m.ip == ip
        and m.in_force(at)
        and (m.wildcard or not wildcard)
    ]


@dataclass(frozen=True)
class ReusePeriod:
    start: date  # applies to validations relied upon on or after this day
    days: int
    source: str


# BR 4.2.1, Domain Name and IP Address validation data: 398 days since 2021-10-01 (SC42),
# then the reductions of ballot SC-081.
REUSE_SCHEDULE: tuple[ReusePeriod, ...] = (
    ReusePeriod(date(2021, 10, 1), 398, "ballot SC42"),
    ReusePeriod(date(2026, 3, 15), 200, "ballot SC-081"),
    ReusePeriod(date(2027, 3, 15), 100, "ballot SC-081"),
    ReusePeriod(date(2029, 3, 15), 10, "ballot SC-081"),
)


def max_reuse_days(at: datetime) -> int:
    """The BR 4.2.1 maximum reuse period in force at `at`."""
    day = at.astimezone(UTC).date()
    days = REUSE_SCHEDULE[0].days
    for period in REUSE_SCHEDULE:
        if day >= period.start:
            days = period.days
    return days


def reuse_days(configured: int | None, at: datetime) -> int:
    """Configured reuse days, capped by the BR maximum in force at `at`."""
    limit = max_reuse_days(at)
    return limit if configured is None else min(configured, limit)


def reuse_until(validated_at: datetime, configured: int | None) -> datetime:
    return validated_at + timedelta(days=reuse_days(configured, validated_at))


def still_reusable(
    validated_at: datetime, until: datetime, configured: int | None, now: datetime
) -> bool:
    """A record may be relied upon while inside its own window AND inside the window the BR
    (and configuration) allow today: a record made under 398 days is cut to 200 days on
    2026-03-15, because BR 4.2.1 counts back from the day of issuance."""
    return now < until and now < validated_at + timedelta(days=reuse_days(configured, now))
