"""The `[acme]` table of certkeeper.toml, parsed and checked at load.

Pure: a TOML table in, a frozen settings object out. Rate limits are part of the
configuration because a public CA tunes them to its capacity and to abuse it sees;
each one is a count over a sliding window, kept in the database so that every ACME
front-end process enforces the same budget.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from certkeeper.tomlcheck import TomlProblem, check_keys, get

# RFC 9773 4.3: Retry-After says when to ask again, and clients obey it (certbot skips
# the ARI check until then). So the longest one ever given bounds how late a client hears
# of an incident that moves its window: an hour at most, also in quiet times, since the
# client that asked just before the incident was opened waits for the quiet answer.
MAX_RETRY_AFTER_SECONDS = 3600

_PROFILE_NAME = re.compile(r"^[a-z0-9][a-z0-9-]{0,31}$")


@dataclass(frozen=True)
class AcmeProfile:
    """An ACME profile (draft-ietf-acme-profiles): a name clients ask for in newOrder, and
    the certkeeper profile used for each kind of CSR key."""

    name: str
    ecdsa: str
    rsa: str

    def for_key(self, key_type: str) -> str:
        return self.rsa if key_type.startswith("rsa") else self.ecdsa


# Offered unless [acme.profiles] says otherwise: the everyday profiles, and short-lived
# ones (BR 1.6.1: at most 7 days; no OCSP URL or CRL distribution point needed).
DEFAULT_SHORT_LIVED = AcmeProfile("shortlived", "tls-dv-ecdsa-short", "tls-dv-rsa-short")
DEFAULT_PROFILE_NAME = "classic"


@dataclass(frozen=True)
class AcmeSettings:
    # Externally visible base URL of the ACME server; empty means derived from the request.
    base_url: str = ""
    # Profile used for each key type of a finalize CSR.
    ecdsa_profile: str = "tls-dv-ecdsa"
    rsa_profile: str = "tls-dv-rsa"
    # Directory "meta" (RFC 8555 7.1.1); empty strings are left out. caaIdentities come
    # from [validation] caa_identities.
    terms_of_service: str = ""
    website: str = ""
    # Lifetimes.
    order_lifetime_hours: int = 168
    authorization_lifetime_hours: int = 168
    nonce_lifetime_seconds: int = 3600
    # Largest request body accepted (a JWS with a CSR of several hundred names fits).
    max_request_bytes: int = 65536
    # Most identifiers in one order.
    max_identifiers: int = 100
    # Rate limits: counts per sliding window. 0 disables a limit.
    orders_per_account_per_hour: int = 300
    certificates_per_domain_per_week: int = 50
    failed_validations_per_account_name_per_hour: int = 5
    accounts_per_ip_per_3_hours: int = 10
    # Seconds a client is told to wait before polling a resource still processing.
    processing_retry_after: int = 1
    # Seconds a challenge POST waits for its validation before answering "processing"
    # (0: never waits): most validations end in well under a second.
    challenge_answer_wait_seconds: float = 0.5
    # Seconds a client is told to wait before asking for renewal information again.
    # (at most MAX_RETRY_AFTER_SECONDS: it bounds how late a client hears of an incident)
    renewal_info_retry_after: int = 3600
    # ACME profiles clients may name in newOrder; an order without one uses ecdsa_profile
    # or rsa_profile (the "classic" profile, listed first by default).
    profiles: tuple[AcmeProfile, ...] = (
        AcmeProfile(DEFAULT_PROFILE_NAME, "tls-dv-ecdsa", "tls-dv-rsa"),
        DEFAULT_SHORT_LIVED,
    )

    def profile(self, name: str) -> AcmeProfile | None:
        return next((p for p in self.profiles if p.name == name), None)


_INT_KEYS: dict[str, tuple[int, int]] = {
    "order_lifetime_hours": (1, 24 * 30),
    "authorization_lifetime_hours": (1, 24 * 30),
    "nonce_lifetime_seconds": (30, 86400),
    "max_request_bytes": (4096, 1 << 20),
    "max_identifiers": (1, 1000),
    "orders_per_account_per_hour": (0, 1_000_000),
    "certificates_per_domain_per_week": (0, 1_000_000),
    "failed_validations_per_account_name_per_hour": (0, 1_000_000),
    "accounts_per_ip_per_3_hours": (0, 1_000_000),
    "processing_retry_after": (1, 3600),
    "renewal_info_retry_after": (60, MAX_RETRY_AFTER_SECONDS),
}

_KEYS = (
    "base_url",
    "ecdsa_profile",
    "rsa_profile",
    "terms_of_service",
    "website",
    "profiles",
    "challenge_answer_wait_seconds",
    *_INT_KEYS,
)


def parse_acme(table: dict[str, Any], where: str) -> AcmeSettings:
    w = f"{where} [acme]"
    check_keys(table, _KEYS, w)
    base_url = get(table, "base_url", str, w, default="")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise TomlProblem(f"{w}.base_url: must be an http(s):// URL, got {base_url!r}")
    for key in ("terms_of_service", "website"):
        value = get(table, key, str, w, default="")
        if value and not value.startswith(("http://", "https://")):
            raise TomlProblem(f"{w}.{key}: must be an http(s):// URL, got {value!r}")
    ints: dict[str, int] = {}
    for key, (low, high) in _INT_KEYS.items():
        value = get(table, key, int, w, default=getattr(AcmeSettings, key))
        if isinstance(value, bool) or not low <= value <= high:
            raise TomlProblem(f"{w}.{key}: {value!r} is outside {low}..{high}")
        ints[key] = value
    wait = get(table, "challenge_answer_wait_seconds", (int, float), w, default=0.5)
    if not 0 <= wait <= 10:
        raise TomlProblem(f"{w}.challenge_answer_wait_seconds: {wait!r} is outside 0..10")
    ecdsa_profile = get(table, "ecdsa_profile", str, w, default="tls-dv-ecdsa")
    rsa_profile = get(table, "rsa_profile", str, w, default="tls-dv-rsa")
    return AcmeSettings(
        base_url=base_url.rstrip("/"),
        ecdsa_profile=ecdsa_profile,
        rsa_profile=rsa_profile,
        profiles=_profiles(table, w, AcmeProfile(DEFAULT_PROFILE_NAME, ecdsa_profile, rsa_profile)),
        terms_of_service=get(table, "terms_of_service", str, w, default=""),
        website=get(table, "website", str, w, default=""),
        challenge_answer_wait_seconds=float(wait),
        **ints,
    )


def _profiles(table: dict[str, Any], w: str, classic: AcmeProfile) -> tuple[AcmeProfile, ...]:
    """`[acme.profiles.<name>]` tables with `ecdsa` and `rsa` certkeeper profile ids;
    absent, the classic profile (ecdsa_profile/rsa_profile) and the short-lived one."""
    if "profiles" not in table:
        return (classic, DEFAULT_SHORT_LIVED)
    entries = get(table, "profiles", dict, w)
    out: list[AcmeProfile] = []
    for name, entry in entries.items():
        pw = f"{w}.profiles.{name}"
        if not _PROFILE_NAME.match(name):
            raise TomlProblem(f"{pw}: {name!r} is not a profile name (a-z, 0-9, -; 1-32)")
        if not isinstance(entry, dict):
            raise TomlProblem(f"{pw}: expected a table with ecdsa and rsa")
        check_keys(entry, ("ecdsa", "rsa"), pw)
        out.append(AcmeProfile(name, get(entry, "ecdsa", str, pw), get(entry, "rsa", str, pw)))
    if not out:
        raise TomlProblem(f"{w}.profiles: at least one profile, or leave the table out")
    return tuple(out)
