"""BR 3.2.2.9 end to end: 2 to 5 remote perspectives as separate processes, each doing
its own http-01, dns-01 and CAA checks through its own resolver. All agreeing passes, one
disagreeing is tolerated, two are not.

The honest perspectives use the test's DNS server and the right http-01 responder; the
dissenters use a second DNS server with other TXT and CAA answers and an http-01
responder that serves a wrong key authorization: a network path an attacker controls.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, date, datetime
from pathlib import Path

import pytest

from certkeeper.ca.home import CaHome
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.settings.validation import PerspectiveConfig, ValidationSettings
from certkeeper.validation.authority import ValidationAuthority
from certkeeper.validation.caa import check_caa
from certkeeper.validation.challenges import check_challenge, key_authorization_digest
from certkeeper.validation.model import ChallengeAttempt, Corroboration
from certkeeper.validation.mpic import RemotePerspectives
from certkeeper.wiring import (
    issuance_service_with,
    key_checker,
    sct_source,
    validation_authority,
)
from dnsserver import ChallTestSrv
from factories import PASSPHRASE, csr_pem, make_home
from public_ct import PublicCt

from .mpic_helpers import (
    ChallengeHttpServer,
    DnsRelay,
    Network,
    Pki,
    RemoteProcess,
    make_pki,
    netns_available,
    primary_settings,
    start_remote,
    stop_all,
)

BASE = "mpic.example.com"
IDENTITY = "ca.example"
ACCOUNT = "https://ca.example/acme/acct/7"
HONEST_REGIONS = ("ARIN", "RIPE", "APNIC", "ARIN", "RIPE")
DISSENT_REGIONS = ("LACNIC", "AFRINIC")
# A day in each phase, so that n perspectives meet the minimum in force (BR 3.2.2.9).
DAY_FOR = {
    2: date(2025, 10, 1),
    3: date(2026, 4, 1),
    4: date(2026, 7, 1),
    5: date(2026, 12, 20),
}


@dataclass
class World:
    network: Network
    pki: Pki
    dns: ChallTestSrv
    liar_dns: ChallTestSrv
    http: ChallengeHttpServer
    honest: list[RemoteProcess]
    dissenters: list[RemoteProcess]
    spare: RemoteProcess  # stopped by the test that needs a dead perspective

    def settings(self, remotes: Sequence[RemoteProcess | PerspectiveConfig]) -> ValidationSettings:
        return primary_settings(
            self.pki,
            remotes,
            resolver=self.dns.address,
            http_port=self.http.port,
            caa_identities=(IDENTITY,),
        )

    def name(self, label: str) -> str:
        name = f"{label}-{secrets.token_hex(3)}.{BASE}"
        for server in (self.dns, self.liar_dns):
            server.add_a(name, [self.network.shared_address])
        return name


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    if not ChallTestSrv.available():
        pytest.fail("pebble-challtestsrv is missing (Debian package pebble)", pytrace=False)
    network = Network(use_netns=netns_available())
    cleanup: list[object] = []
    started: list[RemoteProcess] = []
    try:
        dns, liar_dns = ChallTestSrv.start(), ChallTestSrv.start()
        cleanup += [dns, liar_dns]
        sites = [network.add_site() for _ in range(8)]
        shared = network.shared_address
        http = ChallengeHttpServer(shared)
        liar_http = ChallengeHttpServer(shared, lie=True)
        cleanup += [http, liar_http]
        # Perspectives in namespaces reach the DNS servers through a relay on the host.
        resolver, liar_resolver = dns.address, liar_dns.address
        if network.use_netns:
            relays = [DnsRelay(shared, dns.port), DnsRelay(shared, liar_dns.port)]
            cleanup += relays
            resolver, liar_resolver = relays[0].address, relays[1].address
        dns.add_caa(BASE, [("issue", IDENTITY)])
        liar_dns.add_caa(BASE, [("issue", "other-ca.example")])
        names = [f"p{i}" for i in range(5)] + ["d0", "d1", "spare"]
        pki = make_pki(
            tmp_path_factory.mktemp("mtls"),
            {name: [site.address] for name, site in zip(names, sites, strict=True)},
        )
        for i in range(5):
            started.append(
                start_remote(
                    f"p{i}",
                    HONEST_REGIONS[i],
                    sites[i],
                    pki,
                    resolver=resolver,
                    http_port=http.port,
                    wait=False,
                )
            )
        for i in range(2):
            started.append(
                start_remote(
                    f"d{i}",
                    DISSENT_REGIONS[i],
                    sites[5 + i],
                    pki,
                    resolver=liar_resolver,
                    http_port=liar_http.port,
                    wait=False,
                )
            )
        started.append(
            start_remote(
                "spare", "APNIC", sites[7], pki, resolver=resolver, http_port=http.port, wait=False
            )
        )
        for remote in started:
            remote.wait_ready()
        yield World(network, pki, dns, liar_dns, http, started[:5], started[5:7], started[7])
    finally:
        stop_all(started)
        for item in reversed(cleanup):
            item.close() if hasattr(item, "close") else item.stop()  # type: ignore[attr-defined]
        network.close()


def attempt_for(world: World, kind: str, name: str) -> ChallengeAttempt:
    token = secrets.token_urlsafe(32)
    attempt = ChallengeAttempt(
        identifier=name,
        challenge_type=kind,
        token=token,
        key_authorization=f"{token}.{secrets.token_urlsafe(32)}",
        account_uri=ACCOUNT,
    )
    if kind == "http-01":
        world.http.answers[token] = attempt.key_authorization
    else:
        digest = key_authorization_digest(attempt.key_authorization)
        world.dns.set_txt(f"_acme-challenge.{name}", digest)
        world.liar_dns.set_txt(f"_acme-challenge.{name}", key_authorization_digest("forged"))
    return attempt


def corroborate(world: World, kind: str, remotes: list[RemoteProcess], day: date) -> Corroboration:
    """The primary checks first (as the validation authority does), then asks remotes."""
    settings = world.settings(remotes)
    client = RemotePerspectives(
        settings, clock=lambda: datetime.combine(day, datetime.min.time(), UTC)
    )
    try:
        name = world.name(kind.replace("-", ""))
        if kind == "caa":
            primary = check_caa(
                name, wildcard=False, account_uri=ACCOUNT, method="dns-01", settings=settings
            )
            assert primary.allowed, primary
            return client.corroborate_caa(
                name, wildcard=False, account_uri=ACCOUNT, method="dns-01"
            )
        attempt = attempt_for(world, kind, name)
        primary_check = check_challenge(attempt, settings)
        assert primary_check.ok, primary_check
        return client.corroborate_challenge(attempt)
    finally:
        client.close()


@pytest.mark.parametrize("n", [2, 3, 4, 5])
@pytest.mark.parametrize("kind", ["http-01", "dns-01", "caa"])
def test_one_disagreeing_perspective_is_tolerated_two_are_not(
    world: World, kind: str, n: int
) -> None:
    day = DAY_FOR[n]
    everyone = corroborate(world, kind, world.honest[:n], day)
    assert everyone.passed, everyone
    assert everyone.required == n - 1
    assert [r.ok for r in everyone.results] == [True] * n
    assert [r.perspective for r in everyone.results] == [f"p{i}" for i in range(n)]

    one = corroborate(world, kind, [*world.honest[: n - 1], world.dissenters[0]], day)
    assert one.passed, one
    assert [r.perspective for r in one.results if not r.ok] == ["d0"]
    assert f"{n - 1} of {n} remote perspectives corroborated" in one.detail

    two = corroborate(world, kind, [*world.honest[: n - 2], *world.dissenters], day)
    assert not two.passed
    assert [r.perspective for r in two.results if not r.ok] == ["d0", "d1"]
    assert f"needs {n - 1}" in two.detail


def test_what_a_dissenter_saw_is_kept_in_its_result(world: World) -> None:
    one = corroborate(world, "http-01", [world.honest[0], world.dissenters[0]], DAY_FOR[2])
    dissent = one.results[1]
    assert not dissent.ok and dissent.region == "LACNIC"
    assert dissent.detail  # the remote's own explanation, stored with the validation record
    assert dissent.seconds >= 0
    caa = corroborate(world, "caa", [world.honest[0], world.dissenters[0]], DAY_FOR[2])
    assert "other-ca.example" in caa.results[1].detail or "not" in caa.results[1].detail


def test_a_stopped_perspective_is_one_non_corroboration(world: World) -> None:
    world.spare.stop()
    day = DAY_FOR[3]
    tolerated = corroborate(world, "http-01", [*world.honest[:2], world.spare], day)
    assert tolerated.passed
    assert "unreachable" in tolerated.results[2].detail
    refused = corroborate(world, "dns-01", [world.honest[0], world.spare, world.dissenters[0]], day)
    assert not refused.passed


def test_too_few_perspectives_for_the_day_are_refused(world: World) -> None:
    three = world.honest[:3]
    assert corroborate(world, "dns-01", three, DAY_FOR[3]).passed
    late = corroborate(world, "dns-01", three, DAY_FOR[5])
    assert not late.passed
    assert "requires at least 5 since 2026-12-15" in late.detail


def test_corroborating_perspectives_must_span_two_rirs(world: World) -> None:
    # p0 and p3 are both ARIN: with one dissent, the two that agree are one region.
    same = corroborate(
        world, "http-01", [world.honest[0], world.honest[3], world.dissenters[0]], DAY_FOR[3]
    )
    assert not same.passed
    assert "RIR" in same.detail


def test_without_perspectives_mpic_refuses_unless_switched_off(world: World) -> None:
    settings = world.settings([])
    refused = RemotePerspectives(settings).corroborate_challenge(
        attempt_for(world, "dns-01", world.name("none"))
    )
    assert not refused.passed and refused.required >= 2
    assert "mpic_required" in refused.detail
    relaxed = RemotePerspectives(replace(settings, mpic_required=False))
    passed = relaxed.corroborate_caa(BASE, wildcard=False, account_uri=ACCOUNT, method="dns-01")
    assert passed.passed and passed.required == 0 and passed.results == ()


@pytest.fixture(scope="module")
def home_dir(tmp_path_factory: pytest.TempPathFactory, public_ct: PublicCt) -> Path:
    return make_home(tmp_path_factory.mktemp("mpic-va") / "home", public_ct, public=True)


def authority(
    home_dir: Path, world: World, remotes: list[RemoteProcess], day: date
) -> tuple[CaHome, ValidationAuthority]:
    opened = CaHome.open(home_dir)
    settings = world.settings(remotes)
    home = CaHome(replace(opened.config, validation=settings))
    at = datetime.combine(day, datetime.min.time(), UTC)
    client = RemotePerspectives(settings, clock=lambda: at)
    return home, validation_authority(home, clock=lambda: at, perspectives=client)


def test_every_perspective_result_is_stored_with_the_record_and_the_caa_check(
    world: World, home_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The validation authority with real remote perspectives: a record and a certificate
    despite one dissenter, each perspective's answer kept; no record with two."""
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    day = DAY_FOR[3]
    home, va = authority(home_dir, world, [*world.honest[:2], world.dissenters[0]], day)
    try:
        fqdn = world.name("va")
        outcome = va.validate(attempt_for(world, "http-01", fqdn))
        assert outcome.valid, outcome.detail
        assert outcome.record_id is not None
        record = va.store.get(outcome.record_id)
        assert record is not None
        stored = record.perspectives
        assert stored["passed"] is True and stored["required"] == 2
        assert [(r["perspective"], r["ok"]) for r in stored["results"]] == [
            ("p0", True),
            ("p1", True),
            ("d0", False),
        ]
        issued = issuance_service_with(
            home,
            name_authorizer=va.authorizer(ACCOUNT),
            key_checker=key_checker(home),
            sct_source=sct_source(home),
        ).issue(IssueRequest(load_csr(csr_pem([fqdn])), "tls-dv-ecdsa"))
        checks = va.store.caa_checks(fqdn=fqdn)
        assert [c.allowed for c in checks] == [True]
        assert [r["ok"] for r in checks[0].perspectives["results"]] == [True, True, False]
        assert issued.serial
    finally:
        home.close()

    home, va = authority(home_dir, world, [world.honest[0], *world.dissenters], day)
    try:
        fqdn = world.name("va2")
        refused = va.validate(attempt_for(world, "dns-01", fqdn))
        assert not refused.valid and refused.record_id is None
        assert "corroboration" in refused.detail
        assert refused.corroboration is not None and not refused.corroboration.passed
        assert va.store.history(fqdn) == []
    finally:
        home.close()


def test_every_perspective_outcome_is_counted(world: World) -> None:
    from prometheus_client import REGISTRY

    def count(perspective: str, outcome: str) -> float:
        labels = {"method": "challenge", "outcome": outcome, "perspective": perspective}
        return REGISTRY.get_sample_value("certkeeper_validations_total", labels) or 0.0

    agreed, disagreed = count("p0", "corroborated"), count("d0", "disagreed")
    one = corroborate(world, "http-01", [world.honest[0], world.dissenters[0]], DAY_FOR[2])
    assert [r.outcome for r in one.results] == ["corroborated", "disagreed"]
    assert count("p0", "corroborated") - agreed == 1
    assert count("d0", "disagreed") - disagreed == 1


def test_an_ip_address_is_corroborated_over_http01(world: World) -> None:
    """RFC 8738 / BR 3.2.2.5.6: every perspective connects to the address itself, no DNS;
    the dissenters' path to it serves another key authorization."""
    day = DAY_FOR[3]
    address = world.network.shared_address
    for remotes, passed in (
        (world.honest[:3], True),
        ([world.honest[0], *world.dissenters], False),
    ):
        settings = world.settings(remotes)
        attempt = attempt_for(world, "http-01", address)
        primary = check_challenge(attempt, settings)
        assert primary.ok and "dnssec_lookups" not in primary.evidence, primary
        client = RemotePerspectives(
            settings, clock=lambda: datetime.combine(day, datetime.min.time(), UTC)
        )
        try:
            result = client.corroborate_challenge(attempt)
        finally:
            client.close()
        assert result.passed is passed, result
