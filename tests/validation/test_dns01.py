"""dns-01 through a real DNS server (pebble-challtestsrv)."""

from __future__ import annotations

import uuid
from dataclasses import replace

from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.challenges import check_challenge, key_authorization_digest
from certkeeper.validation.model import ChallengeAttempt
from dnsserver import ChallTestSrv, free_port


def attempt(name: str, *, wildcard: bool = False) -> ChallengeAttempt:
    token = "dnstoken"
    return ChallengeAttempt(
        identifier=name,
        challenge_type="dns-01",
        token=token,
        key_authorization=token + ".thumbprint-abc",
        account_uri="https://ca.example/acme/acct/7",
        wildcard=wildcard,
    )


def fresh_name() -> str:
    return f"d{uuid.uuid4().hex[:12]}.example.com"


def test_digest_matches_rfc8555_example_shape() -> None:
    digest = key_authorization_digest("token.thumb")
    assert len(digest) == 43 and "=" not in digest  # 32 octets, base64url, unpadded


def test_txt_with_digest_is_valid(settings: ValidationSettings, dns: ChallTestSrv) -> None:
    name = fresh_name()
    a = attempt(name)
    dns.set_txt(f"_acme-challenge.{name}", "unrelated")
    dns.set_txt(f"_acme-challenge.{name}", key_authorization_digest(a.key_authorization))
    result = check_challenge(a, settings)
    assert result.ok, result.detail
    assert result.evidence["query"] == f"_acme-challenge.{name}"
    assert set(result.evidence["txt"]) == {
        "unrelated",
        key_authorization_digest(a.key_authorization),
    }


def test_wildcard_uses_base_name(settings: ValidationSettings, dns: ChallTestSrv) -> None:
    name = fresh_name()
    a = attempt(name, wildcard=True)
    dns.set_txt(f"_acme-challenge.{name}", key_authorization_digest(a.key_authorization))
    assert check_challenge(a, settings).ok


def test_wrong_txt_is_incorrect_response(settings: ValidationSettings, dns: ChallTestSrv) -> None:
    name = fresh_name()
    dns.set_txt(f"_acme-challenge.{name}", key_authorization_digest("other.key"))
    result = check_challenge(attempt(name), settings)
    assert not result.ok and result.problem_type == "incorrectResponse"


def test_missing_txt_is_dns_problem(settings: ValidationSettings) -> None:
    result = check_challenge(attempt(fresh_name()), settings)
    assert not result.ok and result.problem_type == "dns"
    assert "no TXT record" in result.detail


def test_cname_is_followed(settings: ValidationSettings, dns: ChallTestSrv) -> None:
    name, delegated = fresh_name(), f"{uuid.uuid4().hex[:10]}.acme-dns.example.net"
    a = attempt(name)
    dns.set_cname(f"_acme-challenge.{name}", delegated)
    dns.set_txt(delegated, key_authorization_digest(a.key_authorization))
    result = check_challenge(a, settings)
    assert result.ok, result.detail
    assert result.evidence["cnames"] == [delegated]


def test_servfail_and_timeout_fail_without_raising(
    settings: ValidationSettings, dns: ChallTestSrv
) -> None:
    name = fresh_name()
    dns.set_servfail(f"_acme-challenge.{name}")
    result = check_challenge(attempt(name), settings)
    assert not result.ok and result.problem_type == "dns"
    silent = replace(settings, resolver=f"127.0.0.1:{free_port()}", timeout_seconds=0.5)
    result = check_challenge(attempt(name), silent)
    assert not result.ok and result.problem_type == "dns"
