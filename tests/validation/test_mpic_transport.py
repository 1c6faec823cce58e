"""The channel between the primary and its remote perspectives: mutual TLS 1.3 only.

Remote perspectives are real `certkeeper serve va-remote` processes, each at its own
network location (namespace or loopback address, see mpic_helpers)."""

from __future__ import annotations

import http.client
import json
import ssl
import time
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from certkeeper.errors import ConfigError
from certkeeper.settings.validation import PerspectiveConfig
from certkeeper.validation.model import ChallengeAttempt
from certkeeper.validation.mpic import RemotePerspectives

from .mpic_helpers import (
    Network,
    Pki,
    RemoteProcess,
    make_pki,
    netns_available,
    primary_settings,
    silent_listener,
    start_remote,
    stop_all,
)


@pytest.fixture(scope="module")
def network() -> Iterator[Network]:
    net = Network(use_netns=netns_available())
    try:
        yield net
    finally:
        net.close()


@pytest.fixture(scope="module")
def remotes(
    network: Network, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[tuple[Pki, list[RemoteProcess]]]:
    sites = [network.add_site() for _ in range(2)]
    pki = make_pki(tmp_path_factory.mktemp("mtls"), {f"p{s.index}": [s.address] for s in sites})
    started: list[RemoteProcess] = []
    try:
        for site, region in zip(sites, ("ARIN", "RIPE"), strict=True):
            started.append(start_remote(f"p{site.index}", region, site, pki, wait=False))
        for remote in started:
            remote.wait_ready()
        yield pki, started
    finally:
        stop_all(started)


@pytest.fixture(scope="module")
def rogue(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    """Another private CA: same names, different keys. Nothing it issued may pass."""
    return make_pki(tmp_path_factory.mktemp("rogue"), {"p0": ["127.0.0.2"]})


def context(
    pki: Pki | None, *, client: str | None = "primary", tls12: bool = False
) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    if tls12:
        ctx.maximum_version = ssl.TLSVersion.TLSv1_2
    if pki is not None:
        ctx.load_verify_locations(cafile=str(pki.ca))
    if pki is not None and client:
        ctx.load_cert_chain(str(pki.cert(client)), str(pki.key(client)))
    return ctx


def call(
    remote: RemoteProcess,
    ctx: ssl.SSLContext,
    method: str,
    path: str,
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, str, dict[str, object]]:
    conn = http.client.HTTPSConnection(remote.site.address, remote.port, context=ctx, timeout=5)
    try:
        conn.request(method, path, body=body, headers=headers or {})
        response = conn.getresponse()
        return (
            response.status,
            response.getheader("content-type") or "",
            json.loads(response.read()),
        )
    finally:
        conn.close()


def test_health_of_every_perspective_over_mutual_tls(
    remotes: tuple[Pki, list[RemoteProcess]],
) -> None:
    pki, started = remotes
    client = RemotePerspectives(primary_settings(pki, started))
    try:
        results = client.health()
    finally:
        client.close()
    assert [(r.perspective, r.region, r.ok) for r in results] == [
        ("p0", "ARIN", True),
        ("p1", "RIPE", True),
    ]


def test_a_client_without_a_certificate_is_refused(
    remotes: tuple[Pki, list[RemoteProcess]],
) -> None:
    pki, started = remotes
    with pytest.raises((ssl.SSLError, ConnectionError)) as info:
        call(started[0], context(pki, client=None), "GET", "/v1/health")
    assert "certificate required" in str(info.value) or isinstance(info.value, ConnectionError)


def test_a_client_certificate_from_another_ca_is_refused(
    remotes: tuple[Pki, list[RemoteProcess]], rogue: Pki
) -> None:
    pki, started = remotes
    ctx = context(pki, client=None)
    ctx.load_cert_chain(str(rogue.cert("primary")), str(rogue.key("primary")))
    with pytest.raises((ssl.SSLError, ConnectionError)):
        call(started[0], ctx, "GET", "/v1/health")
    # Through the primary's client: every perspective refuses, none corroborates.
    settings = replace(
        primary_settings(pki, started),
        mpic_client_cert=rogue.cert("primary"),
        mpic_client_key=rogue.key("primary"),
    )
    client = RemotePerspectives(settings)
    try:
        results = client.health()
    finally:
        client.close()
    assert not any(r.ok for r in results)


def test_a_perspective_not_issued_by_our_mtls_ca_is_not_believed(
    remotes: tuple[Pki, list[RemoteProcess]], rogue: Pki
) -> None:
    pki, started = remotes
    settings = replace(primary_settings(pki, started), mpic_ca_file=rogue.ca)
    client = RemotePerspectives(settings)
    try:
        results = client.health()
    finally:
        client.close()
    assert not any(r.ok for r in results)
    assert all("certificate verify failed" in r.detail for r in results), results


def test_tls_below_1_3_and_plain_http_are_refused(
    remotes: tuple[Pki, list[RemoteProcess]],
) -> None:
    pki, started = remotes
    with pytest.raises((ssl.SSLError, ConnectionError)):
        call(started[0], context(pki, tls12=True), "GET", "/v1/health")
    conn = http.client.HTTPConnection(started[0].site.address, started[0].port, timeout=5)
    try:
        with pytest.raises((http.client.HTTPException, ConnectionError, OSError)):
            conn.request("GET", "/v1/health")
            response = conn.getresponse()
            if response.status == 200:
                pytest.fail("plain HTTP was answered")
            raise ConnectionError(f"refused with {response.status}")
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("method", "path", "body", "ctype", "status", "needle"),
    [
        ("POST", "/v1/challenge", b"{not json", "application/json", 400, "not JSON"),
        ("POST", "/v1/challenge", b"[]", "application/json", 400, "JSON object"),
        (
            "POST",
            "/v1/challenge",
            b'{"identifier": "a.example"}',
            "application/json",
            400,
            "missing field",
        ),
        (
            "POST",
            "/v1/caa",
            b'{"fqdn": "x.example", "extra": 1}',
            "application/json",
            400,
            "unknown field 'extra'",
        ),
        ("POST", "/v1/challenge", b"{}", "text/plain", 415, "application/json"),
        ("GET", "/v1/challenge", None, "", 405, "not allowed"),
        ("GET", "/admin", None, "", 404, "no such endpoint"),
    ],
)
def test_bad_requests_get_problem_documents(
    remotes: tuple[Pki, list[RemoteProcess]],
    method: str,
    path: str,
    body: bytes | None,
    ctype: str,
    status: int,
    needle: str,
) -> None:
    pki, started = remotes
    headers = {"Content-Type": ctype} if ctype else {}
    got, content_type, doc = call(started[0], context(pki), method, path, body, headers)
    assert got == status
    assert content_type == "application/problem+json"
    assert doc["status"] == status
    assert str(doc["type"]).startswith("urn:certkeeper:va-remote:")
    assert needle in str(doc["detail"]), doc


def test_an_oversized_body_is_refused_before_it_is_read(
    remotes: tuple[Pki, list[RemoteProcess]],
) -> None:
    pki, started = remotes
    conn = http.client.HTTPSConnection(
        started[0].site.address, started[0].port, context=context(pki), timeout=5
    )
    try:
        conn.putrequest("POST", "/v1/challenge")
        conn.putheader("Content-Type", "application/json")
        conn.putheader("Content-Length", "1000000")
        conn.endheaders()
        response = conn.getresponse()
        doc = json.loads(response.read())
    finally:
        conn.close()
    assert response.status == 413
    assert "larger than 16384 bytes" in doc["detail"]


def test_a_challenge_with_a_malformed_field_is_refused_before_any_lookup(
    remotes: tuple[Pki, list[RemoteProcess]],
) -> None:
    pki, started = remotes
    attempt = ChallengeAttempt(
        identifier="WWW.Example.COM",
        challenge_type="http-01",
        token="t" * 43,
        key_authorization="t" * 43 + ".abc",
        account_uri="https://ca.example/acme/acct/1",
    )
    status, _, doc = call(
        started[0],
        context(pki),
        "POST",
        "/v1/challenge",
        json.dumps(attempt.to_json()).encode(),
        {"Content-Type": "application/json"},
    )
    assert status == 400
    assert "lower-case" in str(doc["detail"])


def test_a_perspective_answering_under_another_name_does_not_count(
    remotes: tuple[Pki, list[RemoteProcess]],
) -> None:
    """Two entries pointing at one service must not count one location twice."""
    pki, started = remotes
    impostor = PerspectiveConfig(name="p9", region="APNIC", url=started[0].url)
    client = RemotePerspectives(primary_settings(pki, [started[0].config(), impostor]))
    try:
        results = client.health()
    finally:
        client.close()
    assert [r.ok for r in results] == [True, False]
    assert "answered as 'p0'" in results[1].detail


def test_stopped_and_hanging_perspectives_are_non_corroborations_within_the_timeout(
    remotes: tuple[Pki, list[RemoteProcess]], network: Network
) -> None:
    pki, started = remotes
    host = network.shared_address
    with silent_listener(host) as hanging_port:
        stopped = PerspectiveConfig(name="gone", region="LACNIC", url=f"https://{host}:1")
        hanging = PerspectiveConfig(
            name="hangs", region="AFRINIC", url=f"https://{host}:{hanging_port}"
        )
        settings = replace(
            primary_settings(pki, [*started, stopped, hanging]), mpic_timeout_seconds=1.5
        )
        client = RemotePerspectives(settings)
        began = time.monotonic()
        try:
            results = client.health()
        finally:
            client.close()
        took = time.monotonic() - began
    assert [r.ok for r in results] == [True, True, False, False]
    assert "unreachable" in results[2].detail
    assert "1.5s" in results[3].detail or "timed out" in results[3].detail
    assert took < 3.5


def test_missing_mtls_material_is_a_config_error(
    remotes: tuple[Pki, list[RemoteProcess]], tmp_path: Path
) -> None:
    pki, started = remotes
    settings = replace(primary_settings(pki, started), mpic_client_key=tmp_path / "nope.key")
    with pytest.raises(ConfigError, match="mpic_client_key"):
        RemotePerspectives(settings)


def test_the_uvicorn_fallback_enforces_the_same_channel(
    network: Network, remotes: tuple[Pki, list[RemoteProcess]], rogue: Pki, tmp_path: Path
) -> None:
    site = network.add_site()
    pki = make_pki(tmp_path, {"uv": [site.address]})
    remote = start_remote("uv", "APNIC", site, pki, server="uvicorn")
    try:
        status, _, doc = call(remote, context(pki), "GET", "/v1/health")
        assert status == 200 and doc["perspective"] == "uv"
        for ctx in (context(pki, client=None), context(pki, tls12=True)):
            with pytest.raises((ssl.SSLError, ConnectionError)):
                call(remote, ctx, "GET", "/v1/health")
        ctx = context(pki, client=None)
        ctx.load_cert_chain(str(rogue.cert("primary")), str(rogue.key("primary")))
        with pytest.raises((ssl.SSLError, ConnectionError)):
            call(remote, ctx, "GET", "/v1/health")
    finally:
        remote.stop()


def test_a_restarted_perspective_is_reached_again_on_a_fresh_connection(
    network: Network, tmp_path: Path
) -> None:
    """The client keeps connections alive; one the perspective closed is not an error."""
    site = network.add_site()
    pki = make_pki(tmp_path, {"again": [site.address]})
    first = start_remote("again", "RIPE", site, pki)
    client = RemotePerspectives(primary_settings(pki, [first]))
    second: RemoteProcess | None = None
    try:
        assert [r.ok for r in client.health()] == [True]
        assert [r.ok for r in client.health()] == [True]  # same kept-alive connection
        first.stop()
        second = start_remote("again", "RIPE", site, pki, port=first.port)
        results = client.health()
        assert [r.ok for r in results] == [True], results
    finally:
        client.close()
        first.stop()
        if second is not None:
            second.stop()
