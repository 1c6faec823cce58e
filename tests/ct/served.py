"""RFC 6962 test logs served by uvicorn on loopback, and a small CA to feed them."""

from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID

from certkeeper.ct.loglist import LogList, parse_log_list, render_log_list
from certkeeper.ct.testlog import TestLog
from dnsserver import free_port


@dataclass
class ServedLog:
    log: TestLog
    operator: str
    url: str
    server: uvicorn.Server
    thread: threading.Thread


@contextmanager
def served_logs(roots: list[bytes], operators: list[str]) -> Iterator[list[ServedLog]]:
    """One log per entry of `operators` (the operator's name), each on its own port."""
    out: list[ServedLog] = []
    try:
        for i, operator in enumerate(operators):
            log = TestLog(ec.generate_private_key(ec.SECP256R1()), roots)
            port = free_port()
            config = uvicorn.Config(
                log.app,
                host="127.0.0.1",
                port=port,
                log_level="warning",
                lifespan="off",
                interface="asgi3",
            )
            server = uvicorn.Server(config)
            thread = threading.Thread(target=server.run, daemon=True, name=f"ct-log-{i}")
            thread.start()
            deadline = time.monotonic() + 10
            while not server.started:
                if time.monotonic() > deadline:
                    raise RuntimeError("uvicorn did not start")
                time.sleep(0.01)
            out.append(ServedLog(log, operator, f"http://127.0.0.1:{port}/", server, thread))
        yield out
    finally:
        for served in out:
            served.log.faults.clear()
            served.server.should_exit = True
        for served in out:
            served.thread.join(10)


def log_list_text(logs: list[ServedLog], now: datetime) -> str:
    return render_log_list(
        [(s.operator, f"test log {i}", s.log.spki, s.url) for i, s in enumerate(logs)], now
    )


def log_list(logs: list[ServedLog], now: datetime) -> LogList:
    return parse_log_list(log_list_text(logs, now), "test")


@dataclass
class MiniCa:
    """A root and an issuing CA, enough to make precertificates for submission tests."""

    root_key: ec.EllipticCurvePrivateKey
    root: x509.Certificate
    key: ec.EllipticCurvePrivateKey
    issuer: x509.Certificate

    @staticmethod
    def create(now: datetime) -> MiniCa:
        root_key = ec.generate_private_key(ec.SECP256R1())
        key = ec.generate_private_key(ec.SECP256R1())
        root = _ca_cert("Test Root", root_key, root_key, "Test Root", now)
        issuer = _ca_cert("Test Issuing CA", key, root_key, "Test Root", now)
        return MiniCa(root_key, root, key, issuer)

    def chain(self) -> list[bytes]:
        return [self.issuer.public_bytes(Encoding.DER), self.root.public_bytes(Encoding.DER)]

    def precertificate(self, not_before: datetime, days: int = 45, serial: int = 0) -> bytes:
        leaf = ec.generate_private_key(ec.SECP256R1())
        builder = (
            x509.CertificateBuilder()
            .serial_number(serial or x509.random_serial_number())
            .issuer_name(self.issuer.subject)
            .subject_name(x509.Name([]))
            .public_key(leaf.public_key())
            .not_valid_before(not_before)
            .not_valid_after(not_before + timedelta(days=days))
            .add_extension(
                x509.SubjectAlternativeName([x509.DNSName("ct.example.com")]), critical=True
            )
            .add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(self.key.public_key()),
                critical=False,
            )
            .add_extension(x509.PrecertPoison(), critical=True)
        )
        return builder.sign(self.key, hashes.SHA256()).public_bytes(Encoding.DER)


def _ca_cert(
    name: str,
    key: ec.EllipticCurvePrivateKey,
    signer: ec.EllipticCurvePrivateKey,
    issuer: str,
    now: datetime,
) -> x509.Certificate:
    return (
        x509.CertificateBuilder()
        .serial_number(x509.random_serial_number())
        .issuer_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, issuer)]))
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)]))
        .public_key(key.public_key())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(signer, hashes.SHA256())
    )


def write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path
