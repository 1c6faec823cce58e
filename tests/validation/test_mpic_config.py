"""What the primary and a perspective accept as configuration and as requests."""

from __future__ import annotations

import asyncio
import contextlib
import json
import subprocess
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.errors import InputError
from certkeeper.settings.validation import parse_validation
from certkeeper.tomlcheck import TomlProblem
from certkeeper.validation.model import ChallengeAttempt
from certkeeper.validation.pki import Endpoint, issue_pki, parse_hosts
from certkeeper.validation.remote import RemoteApp, RemoteConfig
from certkeeper.validation.remote_requests import (
    BadRequest,
    CaaQuery,
    parse_attempt,
    parse_caa_query,
)
from certkeeper.validation.remote_server import remote_config

MTLS = {
    "mpic_client_cert": "mtls/primary.pem",
    "mpic_client_key": "mtls/primary.key",
    "mpic_ca_file": "/etc/certkeeper/mtls-ca.pem",
}


def perspectives(*entries: dict[str, Any]) -> dict[str, Any]:
    return {"perspectives": list(entries), **MTLS}


def p(name: str, region: str = "ARIN", url: str | None = None) -> dict[str, Any]:
    return {"name": name, "region": region, "url": url or f"https://{name}.va.example:8443"}


def test_perspectives_and_mtls_paths_are_read() -> None:
    settings = parse_validation(
        {**perspectives(p("east"), p("west", "RIPE")), "mpic_timeout_seconds": 4},
        "/srv/ca/certkeeper.toml",
    )
    assert [(x.name, x.region, x.url) for x in settings.perspectives] == [
        ("east", "ARIN", "https://east.va.example:8443"),
        ("west", "RIPE", "https://west.va.example:8443"),
    ]
    # Relative paths are relative to the config file's directory (the CA home).
    assert settings.mpic_client_cert == Path("/srv/ca/mtls/primary.pem")
    assert settings.mpic_ca_file == Path("/etc/certkeeper/mtls-ca.pem")
    assert settings.mpic_timeout_seconds == 4
    assert settings.mpic_required is True
    assert parse_validation({}, "x.toml").perspectives == ()


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"perspectives": [p("a")]}, "mpic_client_cert, mpic_client_key, mpic_ca_file"),
        (perspectives(p("a", "EUROPE")), "region: 'EUROPE' is not one of"),
        (perspectives(p("a", url="http://a.example:80")), "is not https://host:port"),
        (perspectives(p("a", url="https://a.example")), "is not https://host:port"),
        (perspectives(p("a", url="https://a.example:99999")), "is not https://host:port"),
        (perspectives(p("a", url="https://a.example:8443/v1")), "is not https://host:port"),
        (perspectives(p("a"), p("a", "RIPE", "https://b.example:1")), "name 'a' is used twice"),
        (
            perspectives(p("a", url="https://x.example:1"), p("b", url="https://x.example:1")),
            "url 'https://x.example:1' is used twice",
        ),
        (perspectives({"name": "a", "region": "ARIN"}), "missing required key 'url'"),
        (perspectives({**p("a"), "weight": 2}), "unknown key 'weight'"),
        (perspectives(p("a b")), "is not a name"),
        ({**perspectives(p("a")), "mpic_timeout_seconds": 0}, "outside 0..120"),
        ({**perspectives(p("a")), "mpic_ca_file": ""}, "empty path"),
        ({"perspectives": ["https://a.example:1"]}, "expected a table"),
        ({"mpic_required": "no"}, "expected bool"),
    ],
)
def test_bad_perspective_settings_are_named(table: dict[str, Any], message: str) -> None:
    with pytest.raises(TomlProblem) as info:
        parse_validation(table, "certkeeper.toml")
    assert message in str(info.value)


def good_attempt(**changes: Any) -> dict[str, Any]:
    token = "A" * 43
    data: dict[str, Any] = {
        "identifier": "www.example.com",
        "challenge_type": "http-01",
        "token": token,
        "key_authorization": f"{token}.{'b' * 43}",
        "account_uri": "https://ca.example/acme/acct/1",
    }
    data.update(changes)
    return {k: v for k, v in data.items() if v is not None}


def test_a_well_formed_attempt_round_trips() -> None:
    attempt = parse_attempt(good_attempt(wildcard=True, challenge_type="dns-01"))
    assert attempt.wildcard and attempt.challenge_type == "dns-01"
    assert parse_attempt(json.loads(json.dumps(attempt.to_json()))) == attempt
    query = CaaQuery("example.com", False, "https://ca.example/a/1", "dns-01", ("ca.example",))
    assert parse_caa_query(json.loads(json.dumps(query.to_json()))) == query


@pytest.mark.parametrize(
    ("changes", "message"),
    [
        ({"identifier": "Example.COM"}, "lower-case"),
        ({"identifier": "localhost"}, "fully-qualified"),
        ({"identifier": "-a.example"}, "fully-qualified"),
        ({"challenge_type": "email"}, "not one of"),
        ({"token": "short"}, "at least 16"),
        ({"token": "A" * 42 + "/"}, "base64url"),
        ({"key_authorization": "other." + "b" * 43}, "the token"),
        ({"account_uri": "mailto:a@example.com"}, "http(s) URL"),
        ({"wildcard": "yes"}, "true or false"),
        ({"wildcard": True}, "wildcard name cannot be validated with http-01"),
        ({"identifier": None}, "missing field 'identifier'"),
        ({"surprise": 1}, "unknown field 'surprise'"),
    ],
)
def test_malformed_attempts_are_named(changes: dict[str, Any], message: str) -> None:
    with pytest.raises(BadRequest) as info:
        parse_attempt(good_attempt(**changes))
    assert message in str(info.value)


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=20), inner),
    max_leaves=12,
)


@given(json_values)
def test_any_json_is_an_attempt_or_a_bad_request(value: Any) -> None:
    for parse in (parse_attempt, parse_caa_query):
        with contextlib.suppress(BadRequest):
            parse(value)


@given(
    st.dictionaries(
        st.sampled_from(
            [
                "identifier",
                "challenge_type",
                "token",
                "key_authorization",
                "account_uri",
                "wildcard",
            ]
        ),
        json_values,
    )
)
def test_mutated_attempts_never_escape_as_other_errors(fields: dict[str, Any]) -> None:
    data = {**good_attempt(), **fields}
    try:
        attempt = parse_attempt(data)
    except BadRequest:
        return
    assert isinstance(attempt, ChallengeAttempt)
    assert attempt.key_authorization.startswith(attempt.token + ".")


def test_remote_config_travels_through_the_environment_unchanged() -> None:
    config = remote_config(
        "east-1",
        "ARIN",
        resolver="10.0.0.53:53",
        http_port=8080,
        tls_alpn_port=8443,
        timeout_seconds=7,
        private_addresses=True,
        redirect_ports=(8081,),
    )
    assert RemoteConfig.from_env(config.to_env()) == config
    assert config.validation.mpic_required is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"region": "MARS"}, "--region"),
        ({"name": "a b"}, "--name"),
        ({"resolver": "10.0.0.53"}, "--resolver"),
        ({"timeout_seconds": 0}, "--timeout"),
    ],
)
def test_bad_remote_options_are_named(kwargs: dict[str, Any], message: str) -> None:
    args: dict[str, Any] = {
        "name": "east",
        "region": "ARIN",
        "resolver": "",
        "http_port": 80,
        "tls_alpn_port": 443,
        "timeout_seconds": 10,
    }
    args.update(kwargs)
    with pytest.raises(InputError, match=message):
        remote_config(
            args.pop("name"),
            args.pop("region"),
            **args,
        )


def test_pki_issues_leaves_openssl_accepts_and_reuses_its_ca(tmp_path: Path) -> None:
    now = datetime.now(UTC)
    issued = issue_pki(
        tmp_path,
        [
            Endpoint("primary", (), server=False),
            Endpoint("east", parse_hosts(["127.0.0.2", "East.VA.example."], "test")),
        ],
        now=now,
    )
    assert [i.name for i in issued] == ["primary", "east"]
    assert (tmp_path / "ca.key").stat().st_mode & 0o777 == 0o600
    assert (tmp_path / "east.key").stat().st_mode & 0o777 == 0o600
    for purpose, name in (("sslserver", "east"), ("sslclient", "primary")):
        out = subprocess.run(
            [
                "openssl",
                "verify",
                "-purpose",
                purpose,
                "-CAfile",
                str(tmp_path / "ca.pem"),
                str(tmp_path / f"{name}.pem"),
            ],
            capture_output=True,
            text=True,
        )
        assert out.returncode == 0, out.stderr
    east = x509.load_pem_x509_certificate((tmp_path / "east.pem").read_bytes())
    san = east.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(v) for v in san.get_values_for_type(x509.IPAddress)] == ["127.0.0.2"]
    assert san.get_values_for_type(x509.DNSName) == ["east.va.example"]
    # A later perspective joins under the same CA; existing leaves are not replaced.
    ca_before = (tmp_path / "ca.pem").read_bytes()
    issue_pki(tmp_path, [Endpoint("west", ("10.1.2.3",))], now=now)
    assert (tmp_path / "ca.pem").read_bytes() == ca_before
    with pytest.raises(InputError, match="--force"):
        issue_pki(tmp_path, [Endpoint("west", ("10.1.2.3",))], now=now)
    issue_pki(tmp_path, [Endpoint("west", ("10.1.2.4",))], now=now, force=True)


@pytest.mark.parametrize(
    ("endpoints", "message"),
    [
        ([Endpoint("east", ())], "needs at least one host"),
        ([Endpoint("a", ("1.2.3.4",)), Endpoint("a", ("1.2.3.5",))], "unique"),
        ([Endpoint("ca", ("1.2.3.4",))], "not a usable name"),
        ([Endpoint("../x", ("1.2.3.4",))], "not a usable name"),
    ],
)
def test_bad_pki_requests_are_named(
    tmp_path: Path, endpoints: list[Endpoint], message: str
) -> None:
    with pytest.raises(InputError, match=message):
        issue_pki(tmp_path, endpoints, now=datetime.now(UTC))


def test_bad_hosts_are_named() -> None:
    with pytest.raises(InputError, match="neither an IP address nor a DNS name"):
        parse_hosts(["under_score.example"], "--perspective a")


def asgi(app: RemoteApp, scope: dict[str, Any], body: bytes = b"") -> tuple[int, dict[str, Any]]:
    """One request through the raw ASGI app, in this process."""
    sent: list[dict[str, Any]] = []
    messages = [{"type": "http.request", "body": body, "more_body": False}]

    async def receive() -> dict[str, Any]:
        return messages.pop(0) if messages else {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    asyncio.run(app(scope, receive, send))
    status = sent[0]["status"]
    return status, json.loads(sent[1]["body"])


def scope(path: str, *, method: str = "GET", scheme: str = "https") -> dict[str, Any]:
    return {
        "type": "http",
        "scheme": scheme,
        "method": method,
        "path": path,
        "headers": [(b"content-type", b"application/json")],
    }


def test_the_app_answers_nothing_useful_without_tls() -> None:
    """A listener misconfigured without TLS (so without client authentication) refuses."""
    app = RemoteApp(remote_config("east", "ARIN", resolver="", http_port=80,
                                  tls_alpn_port=443, timeout_seconds=5))  # fmt: skip
    assert asgi(app, scope("/v1/health"))[0] == 200
    status, doc = asgi(app, scope("/v1/health", scheme="http"))
    assert status == 403 and "mutual TLS" in doc["detail"]
    body = json.dumps(good_attempt()).encode()
    status, doc = asgi(app, scope("/v1/challenge", method="POST", scheme="http"), body)
    assert status == 403


def test_the_app_starts_and_stops_with_the_server() -> None:
    app = RemoteApp(remote_config("east", "ARIN", resolver="", http_port=80,
                                  tls_alpn_port=443, timeout_seconds=5))  # fmt: skip
    sent: list[str] = []
    inbox = [{"type": "lifespan.startup"}, {"type": "lifespan.shutdown"}]

    async def receive() -> dict[str, Any]:
        return inbox.pop(0)

    async def send(message: dict[str, Any]) -> None:
        sent.append(message["type"])

    asyncio.run(app({"type": "lifespan"}, receive, send))
    assert sent == ["lifespan.startup.complete", "lifespan.shutdown.complete"]
