"""DNSSEC on every validation and CAA lookup (BR 3.2.2.4, 4.2.2.1.1), through a real
validating resolver (unbound) over zones signed by ldns-signzone and served by knotd."""

from __future__ import annotations

import time
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path

import pytest

from certkeeper import br
from certkeeper.ca.home import CaHome
from certkeeper.errors import NameNotAuthorized
from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.caa import check_caa
from certkeeper.validation.challenges import check_challenge
from certkeeper.validation.dnsclient import LookupFailed, lookup
from certkeeper.validation.model import ChallengeAttempt
from certkeeper.wiring import validation_authority
from factories import PASSPHRASE, make_home
from signed_zones import (
    BOGUS_TARGET,
    CA_IDENTITY,
    DNS01_KEY_AUTHORIZATION,
    DNS01_TOKEN,
    SignedZones,
)
from validation.conftest import Route, WebServer

ACCOUNT = "https://ca.example/acme/acct/dnssec"
# What unbound's Extended DNS Error text says of each broken zone (its RFC 8914 code can
# change to "DNSSEC bogus" once the zone's key is cached as bad; the text names the cause)
BROKEN = {
    "expired": "signature expired",
    "wrongds": "no keys have a DS",
    "nosig": "no signatures",
}


@pytest.fixture
def secure(zones: SignedZones) -> ValidationSettings:
    return ValidationSettings(
        resolver=zones.resolver,
        timeout_seconds=5.0,
        caa_identities=(CA_IDENTITY,),
        mpic_required=False,
        private_addresses=True,
    )


def deadline() -> float:
    return time.monotonic() + 5


def dns01(fqdn: str) -> ChallengeAttempt:
    return ChallengeAttempt(fqdn, "dns-01", DNS01_TOKEN, DNS01_KEY_AUTHORIZATION, ACCOUNT)


def http01(fqdn: str, web: WebServer) -> ChallengeAttempt:
    token = uuid.uuid4().hex
    attempt = ChallengeAttempt(fqdn, "http-01", token, f"{token}.thumb", ACCOUNT)
    path = f"/.well-known/acme-challenge/{token}"
    web.set(fqdn, path, Route(body=attempt.key_authorization.encode()))
    return attempt


# --- the resolver's verdicts ---------------------------------------------------------


@pytest.mark.parametrize("child", ["ok13", "ok8"])
def test_signed_zones_answer_secure(secure: ValidationSettings, child: str) -> None:
    for label, rdtype in (("www", "A"), ("caa", "CAA"), ("nothing-here", "A")):
        answer = lookup(SignedZones.name(child, label), rdtype, secure, deadline())
        assert answer.dnssec == "secure", (label, rdtype)


def test_unsigned_zone_answers_insecure(secure: ValidationSettings) -> None:
    answer = lookup(SignedZones.name("unsigned"), "A", secure, deadline())
    assert answer.dnssec == "insecure"
    assert [str(r) for r in answer.records] == ["127.0.0.1"]


@pytest.mark.parametrize("child", sorted(BROKEN))
def test_broken_zones_fail_with_the_reason(secure: ValidationSettings, child: str) -> None:
    with pytest.raises(LookupFailed) as failed:
        lookup(SignedZones.name(child), "A", secure, deadline())
    assert failed.value.dnssec == "bogus"
    assert "failed DNSSEC validation" in str(failed.value)
    assert BROKEN[child] in str(failed.value)


def test_a_cname_to_a_bogus_target_fails(secure: ValidationSettings) -> None:
    with pytest.raises(LookupFailed) as failed:
        lookup(SignedZones.name("ok13", "alias"), "TXT", secure, deadline())
    assert failed.value.dnssec == "bogus"
    assert "signature expired" in str(failed.value)


def test_a_signed_zone_without_ds_is_insecure_not_refused(secure: ValidationSettings) -> None:
    """An island of security (signed, parent without DS) has no chain of trust: insecure
    (RFC 4035 4.3), allowed like an unsigned zone, although its answers carry RRSIGs."""
    answer = lookup(SignedZones.name("island"), "A", secure, deadline())
    assert answer.dnssec == "insecure"
    assert [str(r) for r in answer.records] == ["127.0.0.1"]
    result = check_challenge(dns01(SignedZones.name("island")), secure)
    assert result.ok and result.dnssec == "insecure", result.detail


# --- dns-01, http-01 and CAA go through it ---------------------------------------------


@pytest.mark.parametrize(
    ("child", "status"), [("ok13", "secure"), ("ok8", "secure"), ("unsigned", "insecure")]
)
def test_dns01_passes_and_records_the_status(
    secure: ValidationSettings, child: str, status: str
) -> None:
    result = check_challenge(dns01(SignedZones.name(child)), secure)
    assert result.ok, result.detail
    assert result.dnssec == status
    assert result.evidence["dnssec_lookups"][0]["dnssec"] == status


@pytest.mark.parametrize("child", sorted(BROKEN))
def test_dns01_in_a_broken_zone_is_a_dns_problem(secure: ValidationSettings, child: str) -> None:
    result = check_challenge(dns01(SignedZones.name(child)), secure)
    assert not result.ok
    assert result.problem_type == "dns"
    assert "failed DNSSEC validation" in result.detail
    assert BROKEN[child] in result.detail


@pytest.mark.parametrize(("child", "status"), [("ok13", "secure"), ("unsigned", "insecure")])
def test_http01_address_lookup_is_validated(
    secure: ValidationSettings, web: WebServer, child: str, status: str
) -> None:
    settings = replace(secure, http_port=web.port)
    result = check_challenge(http01(SignedZones.name(child), web), settings)
    assert result.ok, result.detail
    assert result.dnssec == status


@pytest.mark.parametrize("label", ["www.expired", "www.nosig", "alias.ok13"])
def test_http01_never_connects_on_a_bogus_address(
    secure: ValidationSettings, web: WebServer, label: str
) -> None:
    settings = replace(secure, http_port=web.port)
    fqdn = f"{label}.zones.example.com"
    result = check_challenge(http01(fqdn, web), settings)
    assert result.problem_type == "dns"
    assert "failed DNSSEC validation" in result.detail
    assert web.requests == []  # the bogus answer was never used


def test_caa_in_a_signed_zone_is_secure(secure: ValidationSettings) -> None:
    caa = check_caa(
        SignedZones.name("ok8", "caa"),
        wildcard=False,
        account_uri=ACCOUNT,
        method="dns-01",
        settings=secure,
    )
    assert caa.allowed, caa.detail
    assert caa.dnssec == "secure"
    assert all(step["dnssec"] == "secure" for step in caa.evidence["lookups"])


def test_caa_climb_from_an_unsigned_zone_is_allowed_and_insecure(
    secure: ValidationSettings,
) -> None:
    caa = check_caa(
        SignedZones.name("unsigned"),
        wildcard=False,
        account_uri=ACCOUNT,
        method="dns-01",
        settings=secure,
    )
    assert caa.allowed, caa.detail
    assert caa.dnssec == "insecure"
    steps = {step["name"]: step["dnssec"] for step in caa.evidence["lookups"]}
    assert steps == {
        "www.unsigned.zones.example.com": "insecure",
        "unsigned.zones.example.com": "insecure",
        "zones.example.com": "secure",
        "example.com": "secure",
        "com": "secure",
    }


@pytest.mark.parametrize("label", ["caa.expired", "caa.wrongds", "caa.nosig", "alias.ok13"])
def test_caa_bogus_refuses_with_dns(secure: ValidationSettings, label: str) -> None:
    caa = check_caa(
        f"{label}.zones.example.com",
        wildcard=False,
        account_uri=ACCOUNT,
        method="dns-01",
        settings=secure,
    )
    assert not caa.allowed
    assert caa.problem_type == "dns"
    assert "failed DNSSEC validation" in caa.detail
    assert caa.evidence["lookups"][-1]["dnssec"] == "bogus"


# --- the validation authority: records and the issuance gate ------------------------------


@pytest.fixture(scope="module")
def home_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("dnssec") / "home")


@pytest.fixture
def ca(
    home_dir: Path, secure: ValidationSettings, monkeypatch: pytest.MonkeyPatch
) -> Iterator[CaHome]:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    opened = CaHome.open(home_dir)
    home = CaHome(replace(opened.config, validation=secure))
    yield home
    home.close()
    opened.close()


NOW = datetime(2026, 6, 1, tzinfo=UTC)  # after BR DNSSEC_VALIDATION_FROM


def test_signed_zone_validates_and_passes_the_gate_with_secure_records(ca: CaHome) -> None:
    va = validation_authority(ca, clock=lambda: NOW)
    fqdn = SignedZones.name("ok13")
    outcome = va.validate(dns01(fqdn))
    assert outcome.valid, outcome.detail
    assert outcome.record_id is not None
    record = va.store.get(outcome.record_id)
    assert record is not None
    assert record.dnssec == "secure"
    assert record.evidence["dnssec_required_by_br"] is br.dnssec_validation_required(NOW)
    authorizer = va.authorizer(ACCOUNT)
    authorizer([fqdn])  # CAA: none from www.ok13 up to com, every answer validated
    checks = va.store.caa_checks(fqdn=fqdn)
    assert [(c.allowed, c.dnssec) for c in checks] == [(True, "secure")]


def test_unsigned_zone_validates_with_an_insecure_record(ca: CaHome) -> None:
    va = validation_authority(ca, clock=lambda: NOW)
    outcome = va.validate(dns01(SignedZones.name("unsigned")))
    assert outcome.valid, outcome.detail
    assert outcome.record_id is not None
    record = va.store.get(outcome.record_id)
    assert record is not None and record.dnssec == "insecure"


@pytest.mark.parametrize("child", sorted(BROKEN))
def test_broken_zone_never_validates(ca: CaHome, child: str) -> None:
    va = validation_authority(ca, clock=lambda: NOW)
    outcome = va.validate(dns01(SignedZones.name(child)))
    assert not outcome.valid
    assert outcome.problem_type == "dns"
    assert BROKEN[child] in outcome.detail


def test_bogus_caa_blocks_issuance_and_is_recorded(ca: CaHome) -> None:
    """A record made while the zone validated does not carry a later bogus CAA answer."""
    va = validation_authority(ca, clock=lambda: NOW)
    fqdn = SignedZones.name("ok13", "alias")  # CNAME into the expired zone
    with pytest.raises(NameNotAuthorized) as refused:
        va.authorizer(ACCOUNT)([fqdn])
    assert refused.value.problem_type == "unauthorized"  # no validation record at all
    assert BOGUS_TARGET.startswith("www.expired.")
