"""Hostile clients against `certkeeper serve` (granian and uvicorn, one worker,
loopback): many idle keep-alive connections and POST bodies sent one byte at a time,
re-opened as soon as the server drops them, while `openssl ocsp` and an ACME client
keep getting answers in time. Bounded: 3x the connection limit for about 12 seconds
per server."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from audit.status_audit_helpers import World, build_world, free_port

from .client import AcmeClient

MAX_CONNECTIONS = 32
IDLE_SECONDS = 1.0
BODY_SECONDS = 2.0
ATTACK_SECONDS = 12.0
# A legitimate request may wait for one attacker's timeout to free a connection slot.
IN_TIME = BODY_SECONDS + IDLE_SECONDS + 3.0


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> World:
    return build_world(tmp_path_factory.mktemp("hostile"), count=3)


@dataclass
class Server:
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"


@pytest.fixture(params=["granian", "uvicorn"])
def server(world: World, tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[Server]:
    port = free_port()
    log = tmp_path / "serve.log"
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": ""}
    args = ["--max-connections", str(MAX_CONNECTIONS), "--idle-timeout", str(IDLE_SECONDS)]
    args += ["--body-timeout", str(BODY_SECONDS), "--server", request.param]
    with log.open("wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "certkeeper",
                "serve",
                "--home",
                str(world.home),
                "--port",
                str(port),
                *args,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    try:
        _wait_up(port, proc)
        yield Server(port, log)
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_up(port: int, proc: subprocess.Popen[bytes]) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=2) as s:
                s.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
                if s.recv(64).startswith(b"HTTP/1.1 200"):
                    return
        except OSError:
            pass
        time.sleep(0.1)
    raise RuntimeError("certkeeper serve did not start")


@dataclass
class Attack:
    """Threads that each keep one hostile connection open, re-opening it when dropped."""

    port: int
    stop: threading.Event = field(default_factory=threading.Event)
    held: list[float] = field(default_factory=list)  # seconds each dropped connection lived
    opened: int = 0
    lock: threading.Lock = field(default_factory=threading.Lock)

    def idle(self) -> None:
        """One request, then keep the connection alive and silent."""
        while not self.stop.is_set():
            self._hold(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n", drip=False)

    def slow_body(self) -> None:
        """A POST to the OCSP responder whose body arrives one byte every 0.3 s."""
        head = b"POST /ocsp HTTP/1.1\r\nHost: x\r\nContent-Type: application/ocsp-request\r\n"
        while not self.stop.is_set():
            self._hold(head + b"Content-Length: 100\r\n\r\n", drip=True)

    def _hold(self, first: bytes, *, drip: bool) -> None:
        try:
            sock = socket.create_connection(("127.0.0.1", self.port), timeout=1)
        except OSError:
            time.sleep(0.05)
            return
        with sock:
            with self.lock:
                self.opened += 1
            start = time.monotonic()
            try:
                sock.sendall(first)
                if not drip:
                    sock.recv(4096)  # the answer to the one request
                sock.settimeout(0.3)
                while not self.stop.is_set():
                    if drip:
                        sock.sendall(b"0")
                    try:
                        sock.recv(4096)  # an answer (408) or the close: dropped
                        break
                    except TimeoutError:
                        continue
            except OSError:
                pass
            if not self.stop.is_set():
                with self.lock:
                    self.held.append(time.monotonic() - start)


def _pem(der: bytes, path: Path) -> Path:
    cert = x509.load_der_x509_certificate(der)
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def _openssl_ocsp(world: World, base: str, issuer: Path) -> tuple[float, str]:
    start = time.monotonic()
    out = subprocess.run(
        [
            "openssl",
            "ocsp",
            "-issuer",
            str(issuer),
            "-serial",
            "0x" + world.issued[-1],
            "-url",
            base + "/ocsp",
            "-noverify",
            "-timeout",
            "20",
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    return time.monotonic() - start, out.stdout + out.stderr


def _acme_round(base: str, client: AcmeClient) -> float:
    """The directory, a nonce and a signed POST-as-GET of the account (a database read)."""
    start = time.monotonic()
    AcmeClient(base + "/acme/directory", client.key)
    assert client.kid is not None
    reply = client.post(client.kid, None)
    assert reply.status == 200, reply.body
    return time.monotonic() - start


@pytest.mark.skipif(shutil.which("openssl") is None, reason="openssl is not installed")
def test_idle_and_slow_clients_do_not_stop_ocsp_or_acme(
    world: World, server: Server, tmp_path: Path
) -> None:
    issuer = _pem(world.issuer_der, tmp_path / "issuer.pem")
    # Before the attack: both answer.
    seconds, text = _openssl_ocsp(world, server.base, issuer)
    assert ": good" in text, text
    client = AcmeClient(server.base + "/acme/directory", ec.generate_private_key(ec.SECP256R1()))
    client.register()

    attack = Attack(server.port)
    threads = [
        threading.Thread(target=attack.idle if i % 2 else attack.slow_body, daemon=True)
        for i in range(3 * MAX_CONNECTIONS)
    ]
    for thread in threads:
        thread.start()
    time.sleep(1.5)  # every slot taken, the rest queued
    ocsp_times: list[float] = []
    acme_times: list[float] = []
    end = time.monotonic() + ATTACK_SECONDS
    try:
        while time.monotonic() < end:
            seconds, text = _openssl_ocsp(world, server.base, issuer)
            assert ": good" in text, text
            ocsp_times.append(seconds)
            acme_times.append(_acme_round(server.base, client))
    finally:
        attack.stop.set()
        for thread in threads:
            thread.join(5)
    assert len(ocsp_times) >= 2
    assert max(ocsp_times) < IN_TIME, ocsp_times
    assert max(acme_times) < 3 * IN_TIME, acme_times  # three requests each
    # The attack was real: far more connections than slots, and the server cut them.
    assert attack.opened > 3 * MAX_CONNECTIONS
    assert attack.held and max(attack.held) < BODY_SECONDS + IDLE_SECONDS + 2.0, max(attack.held)
