"""Numbers from the CA/Browser Forum TLS Baseline Requirements that code enforces.

Each rule is data with its effective date, so a certificate is judged by the rule in
force at its notBefore (zlint's convention), not by today's rule.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta

from certkeeper.x509.oids import POLICY_DV, POLICY_EV, POLICY_IV, POLICY_OV

# BR 6.3.2: maximum validity of a Subscriber Certificate by date of issuance (notBefore).
# (effective from, maximum days); the last entry whose date <= notBefore applies. The
# 398-day limit is ballot SC31's (2020-09-01); issuance uses it for any earlier date too.
SUBSCRIBER_MAX_VALIDITY: tuple[tuple[date, int], ...] = (
    (date(2020, 9, 1), 398),
    (date(2026, 3, 15), 200),
    (date(2027, 3, 15), 100),
    (date(2029, 3, 15), 47),
)

# BR 7.1.2.7.9 / 7.1.6.1: the reserved CA/Browser Forum policy a subscriber certificate
# of each validation level asserts (the identifiers, and the set of all four as
# RESERVED_POLICIES, are in x509/oids.py).
VALIDATION_POLICY = {"dv": POLICY_DV, "ov": POLICY_OV, "iv": POLICY_IV, "ev": POLICY_EV}


def max_subscriber_validity_days(not_before: date | datetime) -> int:
    """The BR 6.3.2 maximum validity in days for a certificate with this notBefore."""
    day = not_before.astimezone(UTC).date() if isinstance(not_before, datetime) else not_before
    limit = SUBSCRIBER_MAX_VALIDITY[0][1]
    for start, days in SUBSCRIBER_MAX_VALIDITY:
        if day >= start:
            limit = days
    return limit


# Earlier limits, for judging old certificates, in calendar months from notBefore: 60
# months from BR 1.0 (2012-07-01), 39 months from 2015-04-01 (BR 1.0's schedule); then
# 825 days from 2018-03-01 (ballot 193).
SUBSCRIBER_MAX_VALIDITY_MONTHS: tuple[tuple[date, int], ...] = (
    (date(2012, 7, 1), 60),
    (date(2015, 4, 1), 39),
)
SUBSCRIBER_MAX_VALIDITY_825_FROM = date(2018, 3, 1)


def _months_later(day: date, months: int) -> date:
    """The same day `months` calendar months on (the month's last day when it is shorter)."""
    year, month = divmod(day.month - 1 + months, 12)
    year += day.year
    month += 1
    for last in (31, 30, 29, 28):
        try:
            return date(year, month, min(day.day, last))
        except ValueError:
            continue
    raise AssertionError("unreachable")


def historic_max_validity_days(not_before: date) -> int | None:
    """The BR 6.3.2 limit in days in force for a certificate issued then (None before
    BR 1.0), for judging old certificates; issuance uses max_subscriber_validity_days."""
    if not_before >= SUBSCRIBER_MAX_VALIDITY[0][0]:
        return max_subscriber_validity_days(not_before)
    if not_before >= SUBSCRIBER_MAX_VALIDITY_825_FROM:
        return 825
    months = None
    for start, limit in SUBSCRIBER_MAX_VALIDITY_MONTHS:
        if not_before >= start:
            months = limit
    return None if months is None else (_months_later(not_before, months) - not_before).days


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
# BR 1.0 Appendix A (as zlint reads it): Root CA certificates always 2048 bits; 1024-bit
# RSA still allowed in a subordinate CA certificate whose validity began by 2010-12-31
# and ended by 2013-12-31, and in a subscriber certificate whose validity ended by
# 2013-12-31.
RSA_1024_CA_BEGINNING_BY = date(2010, 12, 31)
RSA_1024_ENDING_BY = date(2013, 12, 31)
RSA_LEGACY_MIN_MODULUS_BITS = 1024


def rsa_min_modulus_bits(kind: str, not_before: date, not_after: date) -> int:
    """The smallest RSA modulus the BR allowed for a certificate with this validity;
    kind is "root", "ca" (any other CA) or "leaf"."""
    legacy = kind != "root" and not_after <= RSA_1024_ENDING_BY
    if kind == "ca":
        legacy = legacy and not_before <= RSA_1024_CA_BEGINNING_BY
    return RSA_LEGACY_MIN_MODULUS_BITS if legacy else RSA_MIN_MODULUS_BITS


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


# BR 3.2.2.9: remote Network Perspectives are counted by the Regional Internet Registry
# service region they are in; these are the regions.
RIR_REGIONS = ("AFRINIC", "APNIC", "ARIN", "LACNIC", "RIPE")


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


# --- Effective dates of certificate, CRL and OCSP lint rules ------------------------------
# A rule judges a document by the document's own time (certificate notBefore, CRL
# thisUpdate, OCSP producedAt). Rules the BR 2.0 profiles only restated keep their
# original date, so an older certificate is judged by the rules of its time; what it
# breaks of later rules is a legacy finding (LintContext.legacy), not a defect.

# BR 1.0, in force from 2012-07-01: the first certificate profile (then Appendix B and
# section 9; later 7.1.2 and 7.1.4): a Root CA certificate carries no extKeyUsage; a
# Subordinate CA certificate has a cRLDistributionPoints with an HTTP URL; a Subscriber
# Certificate carries an OCSP URL (so revocation information); a CRL distribution point,
# where present, holds an HTTP URL; a CA's name holds organizationName and countryName
# (it is the issuer name of what the CA signs); a certificate asserting the DV policy
# (2.23.140.1.2.1) carries no organization, street, locality, state or postal code.
BR_1_0 = date(2012, 7, 1)
# Ballot 199 (BR 1.4.8): commonName required in Root and Subordinate CA certificates.
CA_COMMON_NAME_REQUIRED_FROM = date(2017, 6, 8)
# BR 2.0.0 (ballot SC-62): the certificate profiles of BR 7.1.2 as they stand now.
BR_2_0_PROFILES = date(2023, 9, 15)
# BR 7.1.2.7 (from BR 2.0.0): a subscriber certificate's notBefore is "a value within 48
# hours of the certificate signing operation".
MAX_BACKDATE = timedelta(hours=48)
# BR 7.1: at least 64 bits of CSPRNG output in serial numbers (ballot 164).
SERIAL_ENTROPY_FROM = date(2016, 9, 30)
# BR 7.1.3 (ballot 118): no SHA-1 signatures on subscriber or subordinate certificates
# issued from 2016-01-01.
SHA1_BANNED_FROM = date(2016, 1, 1)
# BR 7.1.4.2.2 d-h as amended on 2016-09-07, when givenName and surname came into
# subscriber certificates: no locality, state, street or postal code in a subject that
# names neither an organization nor an individual (BR 2.0 keeps this through its profiles).
SUBJECT_ADDRESS_NEEDS_NAME_FROM = date(2016, 9, 7)
# BR 1.8.0 (ballot SC48, published 2021-08-25): a commonName holding a domain name is a
# character-for-character copy of a dNSName entry (then 7.1.4.2.2 a, now 7.1.4.3).
CN_EXACT_COPY_FROM = date(2021, 8, 25)
# Ballot SC47: organizationalUnitName no longer allowed in subscriber certificates.
SUBSCRIBER_OU_BANNED_FROM = date(2022, 9, 1)
# Ballot SC31 (BR 1.7.1, "Browser Alignment"), in force 2020-09-30: certificateHold is
# gone from CRLs and OCSP, and the 4.9.10 OCSP validity interval limits apply.
BROWSER_ALIGNMENT_FROM = date(2020, 9, 30)
# BR 7.3.2 (added by ballot SC31, BR 1.7.1 published 2020-08-20): no reasonCode in an
# OCSP response's singleExtensions.
OCSP_REASON_CODE_BANNED_FROM = date(2020, 8, 20)
# Ballot SC-061 (BR 7.2.2): the CRL and OCSP revocation reasons allowed, from 2023-07-15.
REVOCATION_REASONS_FROM = date(2023, 7, 15)
# Ballot 144 (.onion names), as zlint dates it: Onion Domain Names allowed (in EV
# certificates, EV Guidelines Appendix F) with a version 2 or 3 onion address, until
# SC27 required version 3 and opened them to DV and OV.
ONION_EV_ONLY_FROM = date(2015, 5, 1)
# BR 1.x 7.1.2.3 (c), BR 2.0.0 7.1.2.7.7: a subscriber certificate's AIA carries the
# issuing CA's OCSP URL, until ballot SC-063 made OCSP optional (CRLs then required).
SUBSCRIBER_OCSP_URL_OPTIONAL_FROM = date(2024, 3, 15)
# Ballot 201 (EV Guidelines Appendix F): a TorServiceDescriptor for each onion name,
# until SC27 required version 3 onion addresses.
TOR_SERVICE_DESCRIPTOR_FROM = date(2017, 7, 28)
# Ballot SC27 (BR 1.6.9): Onion Domain Names in DV/OV certificates, each a valid
# Version 3 Onion Address (then Appendix C, now Appendix B).
ONION_V3_FROM = date(2020, 3, 27)
# BR 1.0 / 7.1.4.2.1: no certificate with a Reserved IP Address expiring after
# 2015-11-01; from then on no such certificate could be issued at all.
RESERVED_IP_BANNED_FROM = date(2015, 11, 1)
# EV Guidelines 1.7.0 (ballot SC17), in force 2020-01-31: the syntax of an EV subject's
# organizationIdentifier (EVG 9.2.8) and the CA/B Forum extension repeating it (9.8.2).
EV_ORGANIZATION_IDENTIFIER_FROM = date(2020, 1, 31)
# BR 4.2.2 (ballot SC-086): no Domain Name ending in an IP Reverse Zone Suffix
# (in-addr.arpa, ip6.arpa) in certificates issued from this date.
IP_REVERSE_ZONE_BANNED_FROM = date(2026, 3, 15)
# BR 7.1.2.4: from this date the Precertificate Signing CA profile MUST NOT be used.
PRECERT_SIGNING_CA_RETIRED = date(2026, 3, 15)
