"""Profiles refuse, at load time, anything that would produce a non-compliant certificate."""

from __future__ import annotations

import re
from datetime import date

import pytest

from certkeeper.ca.profile_registry import builtin_profile_sources
from certkeeper.errors import ProfileError
from certkeeper.profiles.schema import parse_profile

ECDSA = builtin_profile_sources()["tls-dv-ecdsa.toml"]
RSA = builtin_profile_sources()["tls-dv-rsa.toml"]
TODAY = date(2026, 11, 23)


def edit(source: str, old: str, new: str) -> str:
    assert old in source, old
    return source.replace(old, new, 1)


def test_builtin_profiles_load_with_the_br_key_usages() -> None:
    ecdsa = parse_profile(ECDSA, "ecdsa", today=TODAY)
    rsa = parse_profile(RSA, "rsa", today=TODAY)
    assert ecdsa.key_usage.bits == ("digital_signature",)
    assert rsa.key_usage.bits == ("digital_signature", "key_encipherment")
    for p in (ecdsa, rsa):
        assert p.basic_constraints.include and p.basic_constraints.critical
        assert p.policies == ("2.23.140.1.2.1",)
        assert p.extended_key_usage.usages == ("server_auth",)
        assert p.validity_days == 45
    assert ecdsa.key_algorithm == "ecdsa" and rsa.key_algorithm == "rsa"


@pytest.mark.parametrize(
    ("source", "old", "new", "expected"),
    [
        (
            ECDSA,
            "critical = true\nca = false",
            "critical = false\nca = false",
            r"basicConstraints MUST be critical",
        ),
        (ECDSA, "ca = false", "ca = true", r"cA false"),
        (
            ECDSA,
            "key_encipherment = false",
            "key_encipherment = true",
            r"key_encipherment: MUST NOT be set for ECDSA",
        ),
        (
            RSA,
            "key_encipherment = true",
            "key_encipherment = true\nkey_cert_sign = true",
            r"key_cert_sign: MUST NOT",
        ),
        (
            RSA,
            "digital_signature = true",
            "digital_signature = false",
            r"digital_signature: must be true",
        ),
        (
            ECDSA,
            'usages = ["server_auth"]',
            'usages = ["server_auth", "any"]',
            r"'any' is not allowed",
        ),
        (
            ECDSA,
            'usages = ["server_auth"]',
            'usages = ["client_auth"]',
            r"server_auth MUST be present",
        ),
        (
            ECDSA,
            'policies = ["2.23.140.1.2.1"]',
            'policies = ["2.23.140.1.2.2"]',
            r"exactly one reserved policy",
        ),
        (
            ECDSA,
            'policies = ["2.23.140.1.2.1"]',
            'policies = ["2.23.140.1.2.1", "1.2.x"]',
            r"not a dotted OID",
        ),
        (ECDSA, "validity_days = 45", "validity_days = 398", r"outside 1\.\.200 \(BR 6\.3\.2"),
        (ECDSA, "validity_days = 45", 'validity_days = "90"', r"validity_days: expected int"),
        (ECDSA, '"ecdsa-p256", "ecdsa-p384"]', '"ecdsa-p256", "rsa-2048"]', r"mixes RSA and ECDSA"),
        (ECDSA, '"ecdsa-p256", "ecdsa-p384"]', '"ecdsa-p521"]', r"'ecdsa-p521' is not allowed"),
        (
            ECDSA,
            "validity_days = 45",
            "validty_days = 45",
            r"unknown key 'validty_days' \(did you mean 'validity_days'\?\)",
        ),
        (ECDSA, "[extensions.key_usage]", "[extensions.key_usages]", r"unknown key 'key_usages'"),
        (ECDSA, "ca_issuers = true", "ca_issuers = false", r"caIssuers MUST be present"),
        (ECDSA, "ocsp = true", "ocsp = false", None),
        (
            ECDSA,
            'common_name = "first_san"',
            'common_name = "whatever"',
            r"'whatever' is not one of",
        ),
        (ECDSA, 'validation = "dv"', 'validation = "ev"', r"'ev' is not one of"),
        (ECDSA, "id = ", "id = 'bad id' #", r"must be 1-64 letters"),
        (ECDSA, "[subject]", "[subject\n", r"not valid TOML"),
    ],
)
def test_broken_profiles_are_refused_with_a_line_naming_the_problem(
    source: str, old: str, new: str, expected: str | None
) -> None:
    text = edit(source, old, new)
    if expected is None:  # the control: this edit is allowed
        parse_profile(text, "p.toml", today=TODAY)
        return
    with pytest.raises(ProfileError) as info:
        parse_profile(text, "p.toml", today=TODAY)
    message = str(info.value)
    assert "\n" not in message.strip()
    assert message.startswith("p.toml")
    assert re.search(expected, message), message


def test_crldp_cannot_be_dropped_when_ocsp_is_dropped_too() -> None:
    text = edit(
        edit(ECDSA, "ocsp = true", "ocsp = false"),
        "include = true\ncritical = false",
        "include = false\ncritical = false",
    )
    with pytest.raises(ProfileError, match="MUST carry a CRL distribution point"):
        parse_profile(text, "p.toml", today=TODAY)


@pytest.mark.parametrize(
    ("day", "limit"),
    [
        (date(2026, 3, 14), 398),
        (date(2026, 3, 15), 200),
        (date(2027, 3, 15), 100),
        (date(2029, 3, 15), 47),
    ],
)
def test_validity_limit_follows_the_br_schedule(day: date, limit: int) -> None:
    parse_profile(edit(ECDSA, "validity_days = 45", f"validity_days = {limit}"), "p", today=day)
    with pytest.raises(ProfileError, match=f"outside 1..{limit}"):
        parse_profile(
            edit(ECDSA, "validity_days = 45", f"validity_days = {limit + 1}"), "p", today=day
        )


def test_an_old_version_stays_readable_after_the_rules_tighten() -> None:
    text = edit(ECDSA, "validity_days = 45", "validity_days = 300")
    profile = parse_profile(text, "stored", version=3, historic=True)
    assert profile.validity_days == 300 and profile.version == 3
