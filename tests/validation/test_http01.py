"""http-01 against a real HTTP server on loopback, names resolved by a real DNS server."""

from __future__ import annotations

import ssl
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.challenges import MAX_BODY, check_challenge
from certkeeper.validation.model import ChallengeAttempt
from dnsserver import ChallTestSrv
from validation.conftest import Route, WebServer

KEY_AUTH_SUFFIX = ".9jg46WB3rR_AHD-EBXdN7cBkH1WOu0tA3M9fm21mqTI"


def attempt(name: str, token: str = "tok-123") -> ChallengeAttempt:
    return ChallengeAttempt(
        identifier=name,
        challenge_type="http-01",
        token=token,
        key_authorization=token + KEY_AUTH_SUFFIX,
        account_uri="https://ca.example/acme/acct/1",
    )


def fresh_name() -> str:
    return f"h{uuid.uuid4().hex[:12]}.example.com"


def on(settings: ValidationSettings, web: WebServer) -> ValidationSettings:
    return replace(settings, http_port=web.port, redirect_ports=(web.port,))


def test_key_authorization_served_is_valid(settings: ValidationSettings, web: WebServer) -> None:
    name = fresh_name()
    a = attempt(name)
    path = f"/.well-known/acme-challenge/{a.token}"
    web.set(name, path, Route(body=(a.key_authorization + "\r\n").encode()))
    result = check_challenge(a, on(settings, web))
    assert result.ok, result.detail
    assert web.requests == [(name, path)]
    hop = result.evidence["urls"][0]
    assert hop["status"] == 200 and hop["address"] == "127.0.0.1"
    assert "127.0.0.1" in hop["addresses"]


def test_wrong_body_is_incorrect_response(settings: ValidationSettings, web: WebServer) -> None:
    name = fresh_name()
    a = attempt(name)
    web.set(name, f"/.well-known/acme-challenge/{a.token}", Route(body=b"something else"))
    result = check_challenge(a, on(settings, web))
    assert not result.ok and result.problem_type == "incorrectResponse"
    # Leading whitespace is not trimmed: the body must be the key authorization exactly.
    web.set(
        name,
        f"/.well-known/acme-challenge/{a.token}",
        Route(body=b" " + a.key_authorization.encode()),
    )
    assert not check_challenge(a, on(settings, web)).ok


def test_404_is_unauthorized(settings: ValidationSettings, web: WebServer) -> None:
    result = check_challenge(attempt(fresh_name()), on(settings, web))
    assert not result.ok and result.problem_type == "unauthorized"
    assert "HTTP 404" in result.detail


def test_redirect_followed_to_other_host(settings: ValidationSettings, web: WebServer) -> None:
    name, other = fresh_name(), fresh_name()
    a = attempt(name)
    path = f"/.well-known/acme-challenge/{a.token}"
    web.set(name, path, Route(302, headers={"Location": f"http://{other}:{web.port}/x"}))
    web.set(other, "/x", Route(body=a.key_authorization.encode()))
    result = check_challenge(a, on(settings, web))
    assert result.ok, result.detail
    assert [h["status"] for h in result.evidence["urls"]] == [302, 200]


def test_redirect_to_unauthorized_port_refused(
    settings: ValidationSettings, web: WebServer
) -> None:
    name = fresh_name()
    a = attempt(name)
    path = f"/.well-known/acme-challenge/{a.token}"
    web.set(name, path, Route(301, headers={"Location": f"http://{name}:8081/x"}))
    result = check_challenge(a, replace(settings, http_port=web.port))
    assert not result.ok and "Authorized Port" in result.detail


def test_redirect_scheme_and_status_rules(settings: ValidationSettings, web: WebServer) -> None:
    name = fresh_name()
    a = attempt(name)
    path = f"/.well-known/acme-challenge/{a.token}"
    web.set(name, path, Route(302, headers={"Location": "ftp://example.com/x"}))
    result = check_challenge(a, on(settings, web))
    assert not result.ok and "only http and https" in result.detail
    # 303 is not one of the BR 3.2.2.4.19 redirect codes: treated as a non-2xx answer.
    web.set(name, path, Route(303, headers={"Location": path}))
    assert not check_challenge(a, on(settings, web)).ok


def test_redirect_loop_stops_after_ten(settings: ValidationSettings, web: WebServer) -> None:
    name = fresh_name()
    a = attempt(name)
    path = f"/.well-known/acme-challenge/{a.token}"
    web.set(name, path, Route(307, headers={"Location": path}))
    result = check_challenge(a, on(settings, web))
    assert not result.ok and "more than 10 redirects" in result.detail
    assert len(result.evidence["urls"]) == 11


def test_oversized_body_refused(settings: ValidationSettings, web: WebServer) -> None:
    name = fresh_name()
    a = attempt(name)
    body = a.key_authorization.encode() + b" " * MAX_BODY
    web.set(name, f"/.well-known/acme-challenge/{a.token}", Route(body=body))
    result = check_challenge(a, on(settings, web))
    assert not result.ok and "longer than" in result.detail


def test_private_addresses_refused_by_default(settings: ValidationSettings, web: WebServer) -> None:
    name = fresh_name()
    a = attempt(name)
    web.set(
        name, f"/.well-known/acme-challenge/{a.token}", Route(body=a.key_authorization.encode())
    )
    result = check_challenge(a, replace(on(settings, web), private_addresses=False))
    assert not result.ok and "non-public addresses" in result.detail
    assert web.requests == []


def test_dns_failure_is_dns_problem(
    settings: ValidationSettings, web: WebServer, dns: ChallTestSrv
) -> None:
    name = fresh_name()
    dns.set_servfail(name)
    result = check_challenge(attempt(name), on(settings, web))
    assert not result.ok and result.problem_type == "dns"


def test_nothing_listening_is_connection_problem(settings: ValidationSettings) -> None:
    from dnsserver import free_port

    result = check_challenge(attempt(fresh_name()), replace(settings, http_port=free_port()))
    assert not result.ok and result.problem_type == "connection"


def test_wildcard_refused_for_http01(settings: ValidationSettings) -> None:
    a = replace(attempt(fresh_name()), wildcard=True)
    result = check_challenge(a, settings)
    assert not result.ok and result.problem_type == "rejectedIdentifier"


def test_key_authorization_must_start_with_token(settings: ValidationSettings) -> None:
    a = replace(attempt(fresh_name()), key_authorization="other" + KEY_AUTH_SUFFIX)
    result = check_challenge(a, settings)
    assert not result.ok and result.problem_type == "malformed"


def test_redirect_to_https_followed_without_trusting_its_certificate(
    settings: ValidationSettings, web: WebServer, tmp_path: Path
) -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "self-signed")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(1)
        .not_valid_before(now - timedelta(hours=1))
        .not_valid_after(now + timedelta(hours=1))
        .sign(key, hashes.SHA256())
    )
    (tmp_path / "c.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    (tmp_path / "k.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.load_cert_chain(tmp_path / "c.pem", tmp_path / "k.pem")
    secure = WebServer(tls=ctx)
    try:
        name = fresh_name()
        a = attempt(name)
        path = f"/.well-known/acme-challenge/{a.token}"
        target = f"https://{name}:{secure.port}/acme/{a.token}"
        web.set(name, path, Route(308, headers={"Location": target}))
        secure.set(name, f"/acme/{a.token}", Route(body=a.key_authorization.encode()))
        s = replace(settings, http_port=web.port, redirect_ports=(web.port, secure.port))
        result = check_challenge(a, s)
        assert result.ok, result.detail
        assert [h["url"] for h in result.evidence["urls"]][-1] == target
        assert secure.requests == [(name, f"/acme/{a.token}")]
    finally:
        secure.close()
