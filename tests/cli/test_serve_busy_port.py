"""A server never shares a busy port: granian binds with SO_REUSEPORT, so without the
check a second `certkeeper serve` started silently and took about half the connections."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from audit.status_audit_helpers import serve_subprocess
from dnsserver import free_port
from factories import PASSPHRASE, make_home

HOST = "127.0.0.1"


def certkeeper(*args: str) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": PASSPHRASE}
    return subprocess.run(
        [sys.executable, "-m", "certkeeper", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=30,
    )


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("serve") / "home")


@pytest.fixture
def reuseport_listener() -> Iterator[int]:
    """A listener that, like granian, set SO_REUSEPORT: the kind a second granian would
    silently share the port with."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        sock.bind((HOST, 0))
        sock.listen()
        yield int(sock.getsockname()[1])


def assert_refused(out: subprocess.CompletedProcess[str], port: int) -> None:
    assert out.returncode == 1, (out.stdout, out.stderr)
    last = out.stderr.strip().splitlines()[-1]
    assert last == (
        f"error: --port {port}: {HOST} port {port} is already in use by another process; "
        "stop it or choose another --port"
    ), out.stderr
    assert "Traceback" not in out.stderr and "Listening at" not in out.stderr


def test_a_second_serve_on_a_port_a_running_serve_holds_exits_non_zero(home: Path) -> None:
    with serve_subprocess(home) as base:
        port = int(base.rsplit(":", 1)[1])
        for args in (["serve"], ["serve", "ocsp"], ["serve", "--server", "uvicorn"]):
            assert_refused(certkeeper(*args, "--home", str(home), "--port", str(port)), port)
        conn = http.client.HTTPConnection(HOST, port, timeout=5)
        conn.request("GET", "/health")
        assert conn.getresponse().status == 200  # the first server still answers


def test_serve_acme_refuses_a_busy_port(home: Path, reuseport_listener: int) -> None:
    port = reuseport_listener
    assert_refused(certkeeper("serve", "acme", "--home", str(home), "--port", str(port)), port)


def test_serve_va_remote_refuses_a_busy_port(tmp_path: Path, reuseport_listener: int) -> None:
    pki = tmp_path / "pki"
    made = certkeeper("mpic", "pki", "--out", str(pki), "--perspective", f"east={HOST}")
    assert made.returncode == 0, made.stderr
    port = reuseport_listener
    out = certkeeper(
        "serve", "va-remote", "--name", "east", "--region", "ARIN",
        "--cert", str(pki / "east.pem"), "--key", str(pki / "east.key"),
        "--client-ca", str(pki / "ca.pem"), "--host", HOST, "--port", str(port),
    )  # fmt: skip
    assert_refused(out, port)


def test_a_free_port_is_not_held_by_the_check() -> None:
    from certkeeper.ports import ensure_port_free

    port = free_port()
    ensure_port_free(HOST, port)
    ensure_port_free(HOST, port)  # the probe socket is closed again
    with socket.create_server((HOST, port)):
        pass
