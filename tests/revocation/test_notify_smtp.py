"""Subscriber notices over SMTP as mail servers really run: STARTTLS or implicit TLS
with authentication (aiosmtpd), retries that back off, notices that give up loudly, and
a dry run that shows the mails without sending them."""

from __future__ import annotations

import dataclasses
import ipaddress
import socket
import ssl
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from email import message_from_bytes
from pathlib import Path
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from aiosmtpd.smtp import SMTP as SmtpServer
from aiosmtpd.smtp import AuthResult, Envelope, LoginPassword, Session
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from typer.testing import CliRunner

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.cli.main import app
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.store.incidents import IncidentStore
from certkeeper.wiring import issuance_service
from factories import csr_pem

USER, PASSWORD = "ca-notices", "correct horse battery staple"


class Mailbox:
    def __init__(self) -> None:
        self.messages: list[bytes] = []
        self.refuse: set[str] = set()

    async def handle_RCPT(
        self, server: SmtpServer, session: Session, envelope: Envelope, address: str, _: Any
    ) -> str:
        if address in self.refuse:
            return "550 5.1.1 mailbox unavailable"
        envelope.rcpt_tos.append(address)
        return "250 OK"

    async def handle_DATA(self, server: SmtpServer, session: Session, envelope: Envelope) -> str:
        self.messages.append(bytes(envelope.content))  # type: ignore[arg-type]
        return "250 Message accepted"


def authenticate(
    server: SmtpServer, session: Session, envelope: Envelope, mechanism: str, data: Any
) -> AuthResult:
    ok = isinstance(data, LoginPassword) and (data.login, data.password) == (
        USER.encode(),
        PASSWORD.encode(),
    )
    return AuthResult(success=ok)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture(scope="module")
def tls_files(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A mail server certificate for 127.0.0.1, trusted through SSL_CERT_FILE."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "test mail server")])
    start = datetime(2026, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650 * 3))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.SubjectAlternativeName([x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]),
            critical=False,
        )
        .sign(key, hashes.SHA256())
    )
    directory = tmp_path_factory.mktemp("smtp-tls")
    cert_file, key_file = directory / "cert.pem", directory / "key.pem"
    cert_file.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    key_file.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return cert_file, key_file


def server_context(tls_files: tuple[Path, Path]) -> ssl.SSLContext:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(*tls_files)
    return context


@pytest.fixture
def starttls_server(tls_files: tuple[Path, Path]) -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        tls_context=server_context(tls_files),
        require_starttls=True,
        auth_require_tls=True,
        authenticator=authenticate,
        auth_required=True,
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


@pytest.fixture
def implicit_server(tls_files: tuple[Path, Path]) -> Iterator[tuple[Mailbox, int]]:
    box, port = Mailbox(), free_port()
    controller = Controller(
        box,
        hostname="127.0.0.1",
        port=port,
        ssl_context=server_context(tls_files),
        authenticator=authenticate,
        auth_required=True,
        auth_require_tls=False,
    )
    controller.start()
    try:
        yield box, port
    finally:
        controller.stop()


def opened(ca: CaHome, now: datetime) -> int:
    store = IncidentStore(ca.inventory.engine)
    ca.inventory.ensure_subscriber("shop", now)
    store.set_contacts("shop", ["ops@shop.example"], ["cto@shop.example"])
    service = issuance_service(ca)
    for name in ("a.shop.example.com", "b.shop.example.com"):
        service.issue(IssueRequest(load_csr(csr_pem([name])), "tls-dv-ecdsa", subscriber_id="shop"))
    incident = wiring.build(ca).incidents.open_incident(
        title="basicConstraints not critical",
        aware_at=now - timedelta(hours=1),
        br_item_number=12,
        selector=CertificateFilter(profile_id="tls-dv-ecdsa"),
        now=now,
    )
    assert incident.id is not None
    wiring.build(ca).incidents.make_plan(incident.id, now)
    return incident.id


def with_smtp(ca: CaHome, port: int, **settings: Any) -> CaHome:
    return CaHome(dataclasses.replace(ca.config, smtp_host="127.0.0.1", smtp_port=port, **settings))


@pytest.mark.parametrize("mode", ["starttls", "implicit"])
def test_tls_and_authentication(
    mode: str,
    fresh_ca: CaHome,
    tls_files: tuple[Path, Path],
    request: pytest.FixtureRequest,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    monkeypatch.setenv("CERTKEEPER_SMTP_PASSWORD", PASSWORD)
    box, port = request.getfixturevalue(f"{mode}_server")
    now = datetime.now(UTC).replace(microsecond=0)
    incident = opened(fresh_ca, now)
    ca = with_smtp(fresh_ca, port, smtp_tls=mode, smtp_username=USER)
    report = wiring.build(ca).notifier.notify(incident, now=now)
    assert (report.sent, report.failed, report.errors) == (2, 0, [])
    assert len(box.messages) == 2

    monkeypatch.setenv("CERTKEEPER_SMTP_PASSWORD", "wrong")
    IncidentStore(ca.inventory.engine).set_contacts("shop", ["new@shop.example"], [])
    failed = wiring.build(ca).notifier.notify(incident, now=now)
    assert failed.failed == 1 and "authentication" in failed.errors[0]


def test_plain_smtp_to_a_starttls_only_server_fails_with_the_reason(
    fresh_ca: CaHome, starttls_server: tuple[Mailbox, int]
) -> None:
    _, port = starttls_server
    now = datetime.now(UTC).replace(microsecond=0)
    incident = opened(fresh_ca, now)
    report = wiring.build(with_smtp(fresh_ca, port)).notifier.notify(incident, now=now)
    assert report.sent == 0 and report.failed == 2
    assert all("STARTTLS" in e or "530" in e for e in report.errors), report.errors


def test_retries_back_off_then_give_up_loudly(
    fresh_ca: CaHome,
    tls_files: tuple[Path, Path],
    starttls_server: tuple[Mailbox, int],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("SSL_CERT_FILE", str(tls_files[0]))
    monkeypatch.setenv("CERTKEEPER_SMTP_PASSWORD", PASSWORD)
    box, port = starttls_server
    box.refuse.add("cto@shop.example")
    t0 = datetime.now(UTC).replace(microsecond=0)
    incident = opened(fresh_ca, t0)
    ca = with_smtp(
        fresh_ca,
        port,
        smtp_tls="starttls",
        smtp_username=USER,
        notify_attempts=2,
        notify_retry_minutes=15,
    )
    first = wiring.build(ca).notifier.notify(incident, now=t0)
    assert (first.sent, first.failed, first.abandoned) == (1, 1, [])
    early = wiring.build(ca).notifier.notify(incident, now=t0 + timedelta(minutes=14))
    assert (early.sent, early.failed, early.waiting) == (0, 0, 1)
    second = wiring.build(ca).notifier.notify(incident, now=t0 + timedelta(minutes=16))
    assert second.failed == 1 and len(second.abandoned) == 0
    for later in (timedelta(hours=1), timedelta(days=3)):  # reported every run, never sent
        after = wiring.build(ca).notifier.notify(incident, now=t0 + later)
        assert (after.sent, after.failed, after.waiting) == (0, 0, 0)
        assert len(after.abandoned) == 1 and "cto@shop.example" in after.abandoned[0]
    assert len(box.messages) == 1


def test_dry_run_prints_the_notices_and_records_nothing(fresh_ca: CaHome) -> None:
    now = datetime.now(UTC).replace(microsecond=0)
    incident = opened(fresh_ca, now)
    result = CliRunner().invoke(
        app, ["incident", "notify", str(incident), "--dry-run", "--home", str(fresh_ca.config.home)]
    )
    assert result.exit_code == 0, result.output
    assert "2 notice(s) due; nothing sent (--dry-run)" in result.output
    for name in ("a.shop.example.com", "b.shop.example.com"):
        assert f"names: {name}" in result.output
    assert result.output.count("https://crt.sh/?sha256=") == 4  # 2 certificates, 2 mails
    assert "revocation planned at" in result.output
    assert IncidentStore(fresh_ca.inventory.engine).notifications(incident) == []
    first = message_from_bytes(result.output.encode())
    assert "Action required: 2 certificate(s) to be revoked" in str(first["Subject"])
