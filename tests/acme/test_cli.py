"""`certkeeper serve acme` as a real process: it needs the key passphrase (one clear line
without it) and serves the directory; `certkeeper serve` mounts ACME beside OCSP."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from dnsserver import free_port
from factories import PASSPHRASE, make_home
from public_ct import PublicCt

CERTKEEPER = Path(sys.executable).parent / "certkeeper"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory, public_ct: PublicCt) -> Path:
    home = make_home(tmp_path_factory.mktemp("cli") / "home", public_ct, public=True)
    with (home / "certkeeper.toml").open("a") as config:
        # the system resolver here validates nothing (tests/validation/test_dnssec_startup.py)
        config.write("\n[validation]\ndnssec_check = false\n")
    return home


def env(**extra: str) -> dict[str, str]:
    out = {k: v for k, v in os.environ.items() if k != "CERTKEEPER_PASSPHRASE"}
    out.update(extra)
    return out


def test_serve_acme_without_passphrase_is_one_clear_line(home: Path) -> None:
    result = subprocess.run(
        [str(CERTKEEPER), "serve", "acme", "--home", str(home), "--port", str(free_port())],
        capture_output=True,
        text=True,
        env=env(),
        timeout=60,
    )
    assert result.returncode != 0
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert len(lines) == 1, result.stderr
    assert "passphrase" in lines[0]
    assert "Traceback" not in result.stderr


def wait_for(url: str, deadline: float) -> bytes:
    while True:
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                return bytes(response.read())
        except OSError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.2)


@pytest.mark.parametrize("mode", [["serve", "acme"], ["serve"]], ids=["acme", "all"])
def test_serve_answers_the_directory(home: Path, mode: list[str]) -> None:
    port = free_port()
    proc = subprocess.Popen(
        [str(CERTKEEPER), *mode, "--home", str(home), "--port", str(port), "--server", "uvicorn"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env(CERTKEEPER_PASSPHRASE=PASSPHRASE),
    )
    try:
        body = wait_for(f"http://127.0.0.1:{port}/acme/directory", time.monotonic() + 60)
        assert f"http://127.0.0.1:{port}/acme/new-order".encode() in body
        if mode == ["serve"]:
            assert wait_for(f"http://127.0.0.1:{port}/health", time.monotonic() + 5) == b"ok\n"
    finally:
        proc.terminate()
        proc.wait(10)


def _self_signed(directory: Path) -> tuple[Path, Path]:
    """A P-256 server certificate for 127.0.0.1, made by openssl."""
    cert, key = directory / "acme.pem", directory / "acme.key"
    subprocess.run(
        [
            "openssl",
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            str(key),
            "-out",
            str(cert),
            "-days",
            "2",
            "-subj",
            "/CN=127.0.0.1",
            "-addext",
            "subjectAltName=IP:127.0.0.1",
        ],
        check=True,
        capture_output=True,
    )
    return cert, key


@pytest.mark.parametrize("server", ["granian", "uvicorn"])
def test_serve_acme_over_https(home: Path, tmp_path: Path, server: str) -> None:
    """RFC 8555 6.1: ACME over HTTPS, with every URL in the directory https too."""
    import ssl

    cert, key = _self_signed(tmp_path)
    port = free_port()
    proc = subprocess.Popen(
        [
            str(CERTKEEPER),
            "serve",
            "acme",
            "--home",
            str(home),
            "--port",
            str(port),
            "--server",
            server,
            "--tls-cert",
            str(cert),
            "--tls-key",
            str(key),
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        env=env(CERTKEEPER_PASSPHRASE=PASSPHRASE),
    )
    context = ssl.create_default_context(cafile=str(cert))
    url = f"https://127.0.0.1:{port}/acme/directory"
    deadline = time.monotonic() + 60
    try:
        while True:
            try:
                with urllib.request.urlopen(url, timeout=2, context=context) as response:
                    body = response.read()
                break
            except OSError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.2)
        assert f"https://127.0.0.1:{port}/acme/new-order".encode() in body
        assert b"http://" not in body.replace(b"https://", b"")
    finally:
        proc.terminate()
        proc.wait(10)


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--tls-cert", "CERT"], "--tls-cert and --tls-key go together"),
        (["--tls-cert", "CERT", "--tls-key", "/nonexistent.key"], "no such file"),
        (["--tls-cert", "KEY", "--tls-key", "KEY"], "not a usable certificate and key"),
    ],
)
def test_serve_acme_tls_options_are_checked(
    home: Path, tmp_path: Path, extra: list[str], message: str
) -> None:
    cert, key = _self_signed(tmp_path)
    args = [a.replace("CERT", str(cert)).replace("KEY", str(key)) for a in extra]
    result = subprocess.run(
        [str(CERTKEEPER), "serve", "acme", "--home", str(home), "--port", str(free_port()), *args],
        capture_output=True,
        text=True,
        env=env(CERTKEEPER_PASSPHRASE=PASSPHRASE),
        timeout=60,
    )
    assert result.returncode != 0 and message in result.stderr, result.stderr
    assert "Traceback" not in result.stderr
