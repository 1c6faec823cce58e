"""Numbers from the CA/Browser Forum TLS Baseline Requirements that code enforces.

Each rule is data with its effective date, so a certificate is judged by the rule in
force at its notBefore (zlint's convention), not by today's rule.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

# BR 6.3.2: maximum validity of a Subscriber Certificate by date of issuance (notBefore).
# (effective from, maximum days); the last entry whose date <= notBefore applies.
SUBSCRIBER_MAX_VALIDITY: tuple[tuple[date, int], ...] = (
    (date(1970, 1, 1), 398),
    (date(2026, 3, 15), 200),
    (date(2027, 3, 15), 100),
    (date(2029, 3, 15), 47),
)

# BR 7.1.2.7.9 / 7.1.6.1: reserved CA/Browser Forum policy identifiers for subscribers.
POLICY_DV = "2.23.140.1.2.1"
POLICY_OV = "2.23.140.1.2.2"
POLICY_IV = "2.23.140.1.2.3"
POLICY_EV = "2.23.140.1.1"
RESERVED_SUBSCRIBER_POLICIES = frozenset({POLICY_DV, POLICY_OV, POLICY_IV, POLICY_EV})
VALIDATION_POLICY = {"dv": POLICY_DV, "ov": POLICY_OV, "iv": POLICY_IV, "ev": POLICY_EV}


def max_subscriber_validity_days(not_before: date | datetime) -> int:
    """The BR 6.3.2 maximum validity in days for a certificate with this notBefore."""
    day = not_before.astimezone(UTC).date() if isinstance(not_before, datetime) else not_before
    limit = SUBSCRIBER_MAX_VALIDITY[0][1]
    for start, days in SUBSCRIBER_MAX_VALIDITY:
        if day >= start:
            limit = days
    return limit


def validity_period(not_before: datetime, not_after: datetime) -> timedelta:
    """RFC 5280 4.1.2.5 / BR 1.6.1: the validity period includes both notBefore and
    notAfter, so it is one second longer than the plain difference."""
    return not_after - not_before + timedelta(seconds=1)


def not_after_for(not_before: datetime, days: int) -> datetime:
    """The notAfter that makes a validity period of exactly `days` days."""
    return not_before + timedelta(days=days) - timedelta(seconds=1)


# BR 6.1.1.3: a Certificate Request is rejected when its key fails 6.1.5/6.1.6, was made by
# a flawed method (ROCA, Fermat-close primes), or is known compromised (4.9.1.1). In force
# for every certificate this CA can issue, so no date selects it.

# BR 6.1.5: RSA modulus of at least 2048 bits, a multiple of 8; ECDSA on P-256, P-384, P-521.
RSA_MIN_MODULUS_BITS = 2048
RSA_MODULUS_MULTIPLE_BITS = 8
ECDSA_CURVES = ("secp256r1", "secp384r1", "secp521r1")

# BR 6.1.6 (NIST SP 800-89 5.3.3): the exponent MUST be odd and >= 3 and SHOULD lie in
# [2^16 + 1, 2^256 - 1]; the modulus SHOULD be odd, not a prime power, and have no factor
# smaller than 752. certkeeper enforces the SHOULDs too.
RSA_MIN_EXPONENT = 3
RSA_EXPONENT_RANGE = (2**16 + 1, 2**256 - 1)
RSA_SMALL_FACTOR_BOUND = 752


# BR 3.2.2.4 (and 4.2.2.2 in later versions) and 4.2.2.1.1, ballot SC-085: from this date
# DNSSEC validation back to the IANA DNSSEC root trust anchor MUST be performed on every
# DNS query of domain validation by the Primary Network Perspective (CNAME lookups while
# choosing the ADN included) and of CAA lookups; local policy MUST NOT disable it and a
# DNSSEC failure (bogus, SERVFAIL) is never permission to issue. certkeeper validates on
# every lookup whatever the date; the date says from when the records must show it.
DNSSEC_VALIDATION_FROM = date(2026, 3, 15)


def dnssec_validation_required(at: date | datetime) -> bool:
    """Whether BR 3.2.2.4 / 4.2.2.1.1 require DNSSEC validation of a lookup made `at`."""
    day = at.astimezone(UTC).date() if isinstance(at, datetime) else at
    return day >= DNSSEC_VALIDATION_FROM

# BR 3.2.2.4 (methods 7, 19 and others using a Random Value): the value remains valid for a
# confirming response for no more than 30 days from its creation; Random Values carry at
# least 112 bits of entropy (BR 1.6.1).
RANDOM_VALUE_MAX_DAYS = 30
RANDOM_VALUE_MIN_BITS = 112


# BR 3.2.2.6: no Wildcard Certificate whose FQDN portion is "registry-controlled" or a
# "public suffix", unless the Applicant proves control of the entire namespace (this CA
# has no procedure for that proof, so it refuses). The BR say a CA using the Public
# Suffix List SHOULD consult its ICANN section only; certkeeper consults both sections
# for this rule, which is stricter and so also compliant: a PRIVATE-section entry
# (github.io, s3.amazonaws.com) has mutually untrusting registrants below it, and a
# wildcard over it would cover all of them. In force for every certificate, no date.
# Registered domains (rate limits) use both sections too; TLD existence (internal
# names) and "is this name itself a suffix" use the ICANN section.
WILDCARD_PSL_SECTIONS: tuple[str, ...] = ("icann", "private")


# BR 4.9.7 (ballot SC-063, from 2024-03-15): a CA issuing Subscriber Certificates
# publishes a new CRL at least every seven days if all its certificates carry an OCSP URL
# (AIA id-ad-ocsp), every four days in all other cases. The short-lived profiles carry
# no OCSP URL, so certkeeper holds every shard to four days. nextUpdate is at most ten
# days after thisUpdate (BR 7.2).
CRL_MAX_INTERVAL = timedelta(days=4)
CRL_MAX_NEXT_UPDATE = timedelta(days=10)
# BR 4.9.7 (in force since BR 1.0, 2012; text read 2026-12): "For the status of
# Subordinate CA Certificates" the CA reissues its CRL at least once every twelve months
# and within 24 hours after revoking a Subordinate CA Certificate; nextUpdate MUST NOT be
# more than twelve months beyond thisUpdate. Used for the root's CA CRL (ARL), which is
# signed in a key ceremony.
CA_CRL_MAX_NEXT_UPDATE_MONTHS = 12
CA_CRL_AFTER_CA_REVOCATION = timedelta(hours=24)
# BR 4.9.10: an OCSP response's validity interval is at most ten days.
OCSP_MAX_VALIDITY = timedelta(days=10)


# BR 1.6.1 "Short-lived Subscriber Certificate": a Validity Period of at most 10 days
# (864,000 s) for certificates issued from 2024-03-15, at most 7 days (604,800 s) from
# 2026-03-15. Such a certificate may carry neither an OCSP URL nor a CRL distribution
# point (BR 7.1.2.7.6, 7.1.2.11.2). (effective from, maximum days); none before the first.
SHORT_LIVED_MAX_DAYS: tuple[tuple[date, int], ...] = (
    (date(2024, 3, 15), 10),
    (date(2026, 3, 15), 7),
)


def short_lived_max_days(not_before: date | datetime) -> int | None:
    """The longest validity that is short-lived for a certificate issued then, or None."""
    day = not_before.astimezone(UTC).date() if isinstance(not_before, datetime) else not_before
    days = None
    for since, limit in SHORT_LIVED_MAX_DAYS:
        if day >= since:
            days = limit
    return days


def is_short_lived(not_before: datetime, not_after: datetime) -> bool:
    """BR 1.6.1: validity (notAfter - notBefore + 1 s) within the limit of its notBefore."""
    limit = short_lived_max_days(not_before)
    return limit is not None and validity_period(not_before, not_after) <= timedelta(days=limit)
