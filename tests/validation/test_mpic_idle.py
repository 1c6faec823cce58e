"""Remote perspectives after idle time and restarts: pooled mutual-TLS connections that the
perspective has closed are never the reason a corroboration fails, and a transport
failure is never reported as a finding about the domain (a CAA denial)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

import pytest

from certkeeper.settings.validation import PerspectiveConfig, ValidationSettings
from certkeeper.validation import mpic
from certkeeper.validation.authority import corroboration_problem
from certkeeper.validation.model import Corroboration, PerspectiveResult
from certkeeper.validation.mpic import RemotePerspectives
from dnsserver import ChallTestSrv

from .mpic_helpers import (
    DnsRelay,
    Network,
    Pki,
    RemoteProcess,
    make_pki,
    open_network,
    primary_settings,
    start_remote,
    stop_all,
)

SERVER_IDLE_SECONDS = 5.0  # `serve va-remote` closes a kept-alive connection after this
NAMES = ("p0", "p1", "p2", "p3")
ACCOUNT = "https://ca.example/acme/acct/1"
BASE = "idle.example.com"
REGIONS = ("ARIN", "RIPE", "APNIC", "LACNIC")


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    with open_network() as net:
        yield net


@pytest.fixture(scope="module")
def remotes(
    network: Network, dns: ChallTestSrv, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Pki, list[RemoteProcess]]]:
    sites = [network.add_site() for _ in NAMES]
    pki = make_pki(
        tmp_path_factory.mktemp("mtls-idle"),
        {n: [s.address] for n, s in zip(NAMES, sites, strict=True)},
    )
    dns.add_caa(BASE, [("issue", "ca.example")])
    # perspectives in namespaces reach the test DNS server through a relay on the host
    relay = DnsRelay(network.shared_address, dns.port) if network.use_netns else None
    resolver = relay.address if relay is not None else dns.address
    started: list[RemoteProcess] = []
    try:
        for name, site, region in zip(NAMES, sites, REGIONS, strict=True):
            started.append(start_remote(name, region, site, pki, resolver=resolver, wait=False))
        for remote in started:
            remote.wait_ready()
        yield pki, started
    finally:
        stop_all(started)
        if relay is not None:
            relay.close()


def caa_round(client: RemotePerspectives, parallel: int) -> list[Corroboration]:
    """`parallel` CAA corroborations at once: each perspective gets that many connections
    (an ACME server checks every name of an order side by side)."""

    def one(i: int) -> Corroboration:
        return client.corroborate_caa(
            f"n{i}.{BASE}", wildcard=False, account_uri=ACCOUNT, method="dns-01"
        )

    with ThreadPoolExecutor(parallel) as pool:
        return list(pool.map(one, range(parallel)))


def reached(corroboration: Corroboration) -> bool:
    """Every perspective answered and corroborated: no transport failure."""
    outcomes = [r.outcome for r in corroboration.results]
    return outcomes == ["corroborated"] * len(NAMES) and corroboration.passed


def pooled(client: RemotePerspectives) -> int:
    return sum(len(conns) for conns in client._idle.values())


def test_idle_longer_than_the_perspectives_keep_alive(
    remotes: tuple[Pki, list[RemoteProcess]], caplog: pytest.LogCaptureFixture
) -> None:
    """Several pooled connections per perspective, all closed by the perspectives while
    idle: the next corroboration still reaches every perspective. The pool's own idle
    bound is set above the server's so the closed connections are really reused."""
    pki, started = remotes
    settings = replace(primary_settings(pki, started), mpic_pool_idle_seconds=60.0)
    client = RemotePerspectives(settings)
    try:
        first = caa_round(client, 4)
        assert all(len(c.results) == 4 for c in first), first[0]
        assert pooled(client) >= 2 * len(NAMES), first[0]  # more than one per perspective
        time.sleep(SERVER_IDLE_SECONDS + 1.5)
        caplog.set_level(logging.INFO, logger=mpic.__name__)
        second = caa_round(client, 2)
    finally:
        client.close()
    for corroboration in second:
        assert reached(corroboration), corroboration.detail
    outcomes = [r for r in caplog.records if r.getMessage() == "perspective outcome"]
    assert len(outcomes) == 2 * len(NAMES)  # every perspective, every corroboration, logged
    assert {r.perspective for r in outcomes} == set(NAMES)


def test_the_pool_drops_connections_idle_beyond_its_bound(
    remotes: tuple[Pki, list[RemoteProcess]],
) -> None:
    pki, started = remotes
    settings = replace(primary_settings(pki, started), mpic_pool_idle_seconds=0.2)
    client = RemotePerspectives(settings)
    try:
        caa_round(client, 2)
        before = {url: [id(c) for c, _ in conns] for url, conns in client._idle.items()}
        time.sleep(0.5)
        again = caa_round(client, 1)
        after = {url: [id(c) for c, _ in conns] for url, conns in client._idle.items()}
    finally:
        client.close()
    assert reached(again[0]), again[0].detail
    for url, ids in after.items():
        assert not set(ids) & set(before.get(url, [])), "a connection idle too long was reused"


def test_a_stale_connection_that_looks_alive_is_retried_on_a_fresh_one(
    remotes: tuple[Pki, list[RemoteProcess]], monkeypatch: pytest.MonkeyPatch
) -> None:
    """If the close is not visible yet (no FIN arrived), the failed send on a reused
    connection drops every pooled connection of that perspective and goes out again on a
    new one, instead of on the next pooled connection that is just as stale."""
    pki, started = remotes
    settings = replace(primary_settings(pki, started), mpic_pool_idle_seconds=60.0)
    client = RemotePerspectives(settings)
    try:
        caa_round(client, 3)
        time.sleep(SERVER_IDLE_SECONDS + 1.5)
        monkeypatch.setattr(mpic, "_still_open", lambda _conn: True)
        again = caa_round(client, 1)
    finally:
        client.close()
    assert reached(again[0]), again[0].detail


def test_a_perspective_killed_and_restarted_between_orders(
    network: Network, remotes: tuple[Pki, list[RemoteProcess]]
) -> None:
    pki, started = remotes
    settings = replace(primary_settings(pki, started), mpic_pool_idle_seconds=60.0)
    client = RemotePerspectives(settings)
    victim = started[1]
    try:
        assert all(reached(c) for c in caa_round(client, 3))
        victim.proc.kill()
        victim.proc.wait(5)
        restarted = start_remote(
            victim.name, victim.region, victim.site, pki, port=victim.port, wait=True
        )
        started[1] = restarted  # the module fixture stops it
        after = caa_round(client, 2)
    finally:
        client.close()
    for corroboration in after:
        assert reached(corroboration), corroboration.detail


def test_unreachable_perspectives_are_the_cas_failure_not_a_caa_denial(
    remotes: tuple[Pki, list[RemoteProcess]],
) -> None:
    """Every perspective down: the corroboration fails, names each perspective's error,
    and is classified serverInternal, never caa."""
    pki, started = remotes
    dead = [
        PerspectiveConfig(name=r.name, region=r.region, url=f"https://{r.site.address}:9")
        for r in started
    ]
    settings: ValidationSettings = replace(primary_settings(pki, dead), mpic_timeout_seconds=2.0)
    client = RemotePerspectives(settings)
    try:
        corroboration = client.corroborate_caa(
            f"down.{BASE}", wildcard=False, account_uri=ACCOUNT, method="dns-01"
        )
    finally:
        client.close()
    assert not corroboration.passed
    assert [r.outcome for r in corroboration.results] == ["unreachable"] * 4
    assert all(f"{name} (" in corroboration.detail for name in NAMES)
    assert corroboration_problem(corroboration, "caa") == "serverInternal"


def result(outcome: str, problem: str | None = None) -> PerspectiveResult:
    ok = outcome == "corroborated"
    return PerspectiveResult("p", "ARIN", ok, "d", 0.1, outcome, problem)


@pytest.mark.parametrize(
    ("outcomes", "expected"),
    [
        ([result("unreachable")] * 4, "serverInternal"),
        ([result("corroborated")] * 2 + [result("unreachable")] * 2, "serverInternal"),
        ([result("disagreed", "caa"), result("unreachable")] * 2, "caa"),
        ([result("disagreed", "dns"), result("unreachable")] * 2, "dns"),
        ([], "serverInternal"),
    ],
)
def test_corroboration_problem(outcomes: list[PerspectiveResult], expected: str) -> None:
    corroboration = Corroboration(tuple(outcomes), required=3, passed=False, detail="x")
    assert corroboration_problem(corroboration, "caa") == expected
