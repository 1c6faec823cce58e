"""CAA (RFC 8659, RFC 8657) against real DNS servers: challtestsrv and Knot."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from dataclasses import replace

import pytest

from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.caa import check_caa
from certkeeper.validation.model import CaaResult
from dnsserver import ChallTestSrv, KnotZone, free_port
from validation.conftest import CA_IDENTITY

ACCOUNT = "https://ca.example/acme/acct/42"


def zone() -> str:
    return f"z{uuid.uuid4().hex[:10]}.example.com"


def caa(
    name: str, settings: ValidationSettings, *, wildcard: bool = False, method: str = "http-01"
) -> CaaResult:
    return check_caa(name, wildcard=wildcard, account_uri=ACCOUNT, method=method, settings=settings)


def test_no_caa_anywhere_allows(settings: ValidationSettings) -> None:
    result = caa(f"www.{zone()}", settings)
    assert result.allowed and result.problem_type is None
    looked = [step["name"] for step in result.evidence["lookups"]]
    assert looked[0].startswith("www.") and looked[-1] == "com"  # climbed to the TLD


def test_tree_climbing_finds_parent_record(settings: ValidationSettings, dns: ChallTestSrv) -> None:
    z = zone()
    dns.add_caa(z, [("issue", "other-ca.example")])
    result = caa(f"a.b.{z}", settings)
    assert not result.allowed and result.problem_type == "caa"
    assert result.evidence["relevant"]["name"] == z
    dns.add_caa(f"b.{z}", [("issue", CA_IDENTITY)])  # a closer RRset wins
    result = caa(f"a.b.{z}", settings)
    assert result.allowed, result.detail
    assert result.evidence["relevant"]["name"] == f"b.{z}"


def test_issue_value_forms(settings: ValidationSettings, dns: ChallTestSrv) -> None:
    z = zone()
    dns.add_caa(z, [("issue", f"  {CA_IDENTITY.upper()} ; foo=bar")])
    assert caa(z, settings).allowed  # case-insensitive, whitespace, unknown parameter
    dns.add_caa(f"none.{z}", [("issue", ";")])
    assert not caa(f"none.{z}", settings).allowed
    dns.add_caa(f"bad.{z}", [("issue", f"{CA_IDENTITY} garbage")])
    assert not caa(f"bad.{z}", settings).allowed  # unparseable: authorizes nobody
    dns.add_caa(f"mail.{z}", [("iodef", "mailto:sec@example.com"), ("issuemail", "x.example")])
    assert caa(f"mail.{z}", settings).allowed  # no issue property: no restriction


def test_issuewild(settings: ValidationSettings, dns: ChallTestSrv) -> None:
    z = zone()
    dns.add_caa(z, [("issue", CA_IDENTITY), ("issuewild", ";")])
    assert caa(z, settings).allowed
    assert not caa(z, settings, wildcard=True, method="dns-01").allowed
    z2 = zone()
    dns.add_caa(z2, [("issue", CA_IDENTITY)])  # no issuewild: issue decides for wildcards
    assert caa(z2, settings, wildcard=True, method="dns-01").allowed
    z3 = zone()
    dns.add_caa(z3, [("issue", ";"), ("issuewild", CA_IDENTITY)])
    assert caa(z3, settings, wildcard=True, method="dns-01").allowed
    assert not caa(z3, settings).allowed


def test_accounturi_and_validationmethods(settings: ValidationSettings, dns: ChallTestSrv) -> None:
    z = zone()
    dns.add_caa(z, [("issue", f"{CA_IDENTITY}; accounturi={ACCOUNT}")])
    assert caa(z, settings).allowed
    z2 = zone()
    dns.add_caa(z2, [("issue", f"{CA_IDENTITY}; accounturi=https://ca.example/acme/acct/43")])
    result = caa(z2, settings)
    assert not result.allowed and "accounturi" in result.detail
    z3 = zone()
    dns.add_caa(z3, [("issue", f"{CA_IDENTITY}; validationmethods=dns-01,tls-alpn-01")])
    assert caa(z3, settings, method="dns-01").allowed
    result = caa(z3, settings, method="http-01")
    assert not result.allowed and "validationmethods" in result.detail
    z4 = zone()  # one record restricted to another account, another open: the open one wins
    dns.add_caa(
        z4,
        [
            ("issue", f"{CA_IDENTITY}; accounturi=https://ca.example/acme/acct/1"),
            ("issue", CA_IDENTITY),
        ],
    )
    assert caa(z4, settings).allowed


def test_cname_followed_at_each_name(settings: ValidationSettings, dns: ChallTestSrv) -> None:
    z, target = zone(), zone()
    dns.set_cname(f"www.{z}", f"cdn.{target}")
    dns.add_caa(f"cdn.{target}", [("issue", "other-ca.example")])
    result = caa(f"www.{z}", settings)
    assert not result.allowed
    assert result.evidence["relevant"]["name"] == f"www.{z}"
    assert result.evidence["relevant"]["canonical"] == f"cdn.{target}"


def test_lookup_failure_blocks(settings: ValidationSettings, dns: ChallTestSrv) -> None:
    z = zone()
    dns.set_servfail(z)
    result = caa(f"www.{z}", settings)  # www has no CAA, the climb hits the SERVFAIL
    assert not result.allowed and result.problem_type == "dns"
    silent = replace(settings, resolver=f"127.0.0.1:{free_port()}", timeout_seconds=0.5)
    result = caa(f"www.{zone()}", silent)
    assert not result.allowed and result.problem_type == "dns"


@pytest.fixture(scope="module")
def knot() -> Iterator[KnotZone]:
    if not KnotZone.available():
        pytest.skip("knotd is not installed (Debian package knot)")
    with KnotZone.start(
        "example.org",
        f'crit CAA 128 tbs "unknown"\ncrit CAA 0 issue "{CA_IDENTITY}"\n'
        f'known CAA 128 issue "{CA_IDENTITY}"\n'
        f'noncrit CAA 0 tbs "unknown"\nnoncrit CAA 0 issue "{CA_IDENTITY}"\n',
    ) as server:
        yield server


def test_critical_unknown_tag_forbids(knot: KnotZone, settings: ValidationSettings) -> None:
    at_knot = replace(settings, resolver=knot.address)
    result = caa("crit.example.org", at_knot)
    assert not result.allowed and result.problem_type == "caa"
    assert "critical" in result.detail
    assert caa("known.example.org", at_knot).allowed  # critical, but understood
    assert caa("noncrit.example.org", at_knot).allowed  # unknown, not critical
    records = caa("crit.example.org", at_knot).evidence["relevant"]["records"]
    assert {"flags": 128, "tag": "tbs", "value": "unknown"} in records
