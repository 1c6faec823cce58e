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

CERTKEEPER = Path(sys.executable).parent / "certkeeper"


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_home(tmp_path_factory.mktemp("cli") / "home")


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
