"""tls-alpn-01 (RFC 8737) against a real TLS server on loopback that negotiates ALPN."""

from __future__ import annotations

import hashlib
import ipaddress
import socket
import ssl
import threading
import uuid
from collections.abc import Iterator
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.challenges import ACME_TLS_ALPN, ID_PE_ACME_IDENTIFIER, check_challenge
from certkeeper.validation.model import ChallengeAttempt


def _general_name(name: str) -> x509.GeneralName:
    """An iPAddress for an IP address (RFC 8738 6), else a dNSName."""
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def challenge_cert(
    sans: list[str], key_authorization: str | None, *, critical: bool = True
) -> tuple[bytes, bytes]:
    """(certificate PEM, key PEM) as an ACME client builds it (RFC 8737 3)."""
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "acme challenge")])
    builder = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=1))
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in sans]), False)
    )
    if key_authorization is not None:
        digest = hashlib.sha256(key_authorization.encode()).digest()
        ext = x509.UnrecognizedExtension(ID_PE_ACME_IDENTIFIER, b"\x04\x20" + digest)
        builder = builder.add_extension(ext, critical=critical)
    cert = builder.sign(key, hashes.SHA256())
    key_pem = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return cert.public_bytes(serialization.Encoding.PEM), key_pem


class TlsServer:
    """Answers TLS handshakes with the configured certificate and ALPN protocols."""

    def __init__(self, workdir: Path) -> None:
        self.workdir = workdir
        self.listener = socket.create_server(("127.0.0.1", 0))
        self.port = int(self.listener.getsockname()[1])
        self.context: ssl.SSLContext | None = None
        self.sni: list[str | None] = []
        self.thread = threading.Thread(target=self._run, daemon=True)
        self.thread.start()

    def configure(self, cert_pem: bytes, key_pem: bytes, alpn: list[str]) -> None:
        tag = uuid.uuid4().hex
        (self.workdir / f"{tag}.crt").write_bytes(cert_pem)
        (self.workdir / f"{tag}.key").write_bytes(key_pem)
        ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        ctx.load_cert_chain(self.workdir / f"{tag}.crt", self.workdir / f"{tag}.key")
        ctx.set_alpn_protocols(alpn)

        def remember(sock: ssl.SSLObject | ssl.SSLSocket, name: str | None, _: object) -> None:
            self.sni.append(name)

        ctx.sni_callback = remember
        self.context = ctx

    def _run(self) -> None:
        while True:
            try:
                conn, _ = self.listener.accept()
            except OSError:
                return
            try:
                assert self.context is not None
                with self.context.wrap_socket(conn, server_side=True) as tls:
                    tls.recv(1)
            except (OSError, AssertionError):
                conn.close()

    def close(self) -> None:
        self.listener.close()


@pytest.fixture
def tls_server(tmp_path: Path) -> Iterator[TlsServer]:
    server = TlsServer(tmp_path)
    yield server
    server.close()


def attempt() -> ChallengeAttempt:
    token = uuid.uuid4().hex
    return ChallengeAttempt(
        identifier=f"t{token[:12]}.example.com",
        challenge_type="tls-alpn-01",
        token=token,
        key_authorization=f"{token}.thumbprint",
        account_uri="https://ca.example/acme/acct/3",
    )


def on(settings: ValidationSettings, server: TlsServer) -> ValidationSettings:
    return replace(settings, tls_alpn_port=server.port)


def test_valid_challenge_certificate(settings: ValidationSettings, tls_server: TlsServer) -> None:
    a = attempt()
    tls_server.configure(*challenge_cert([a.identifier], a.key_authorization), [ACME_TLS_ALPN])
    result = check_challenge(a, on(settings, tls_server))
    assert result.ok, result.detail
    assert tls_server.sni[-1] == a.identifier  # SNI carried the name being validated
    assert result.evidence["tls"]["alpn"] == ACME_TLS_ALPN
    assert len(result.evidence["tls"]["certificate_sha256"]) == 64


def test_without_alpn_is_refused(settings: ValidationSettings, tls_server: TlsServer) -> None:
    a = attempt()
    tls_server.configure(*challenge_cert([a.identifier], a.key_authorization), ["http/1.1"])
    result = check_challenge(a, on(settings, tls_server))
    assert not result.ok and result.problem_type == "tls"


@pytest.mark.parametrize(
    ("case", "needle"),
    [
        ("wrong-digest", "SHA-256 of the key authorization"),
        ("extra-san", "exactly dNSName"),
        ("other-san", "exactly dNSName"),
        ("no-extension", "lacks the acmeIdentifier"),
        ("not-critical", "not critical"),
    ],
)
def test_bad_challenge_certificates(
    settings: ValidationSettings, tls_server: TlsServer, case: str, needle: str
) -> None:
    a = attempt()
    sans, critical = [a.identifier], True
    keyauth: str | None = a.key_authorization
    if case == "wrong-digest":
        keyauth = "other.keyauth"
    elif case == "extra-san":
        sans = [a.identifier, "www.example.com"]
    elif case == "other-san":
        sans = ["www.example.com"]
    elif case == "no-extension":
        keyauth = None
    else:
        critical = False
    tls_server.configure(*challenge_cert(sans, keyauth, critical=critical), [ACME_TLS_ALPN])
    result = check_challenge(a, on(settings, tls_server))
    assert not result.ok and result.problem_type == "unauthorized"
    assert needle in result.detail


def test_nothing_listening(settings: ValidationSettings) -> None:
    from dnsserver import free_port

    result = check_challenge(attempt(), replace(settings, tls_alpn_port=free_port()))
    assert not result.ok and result.problem_type == "connection"
