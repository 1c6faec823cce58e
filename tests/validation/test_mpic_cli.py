"""`certkeeper mpic pki`, `certkeeper mpic check` and `certkeeper serve va-remote` as an
operator runs them: real processes, one-line errors, exit codes."""

from __future__ import annotations

import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from typer.testing import CliRunner

from certkeeper.cli.main import app
from factories import make_home

from .mpic_helpers import CERTKEEPER, Network, Pki, RemoteProcess, start_remote, stop_all


def run(*args: str) -> subprocess.CompletedProcess[str]:
    """A real process, as an operator runs it."""
    return subprocess.run([CERTKEEPER, *args], capture_output=True, text=True, timeout=120)


def run_here(*args: str) -> subprocess.CompletedProcess[str]:
    """In this process (for the many error cases: the CLI's start-up dominates otherwise)."""
    result = CliRunner().invoke(app, list(args))
    return subprocess.CompletedProcess(list(args), result.exit_code, result.stdout, result.stderr)


@pytest.fixture(scope="module")
def mtls(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    root = tmp_path_factory.mktemp("cli-mtls")
    out = run(
        "mpic", "pki", "--out", str(root),
        "--perspective", "east=127.0.0.21",
        "--perspective", "west=127.0.0.22,west.va.example",
    )  # fmt: skip
    assert out.returncode == 0, out.stderr
    assert "east" in out.stdout and "primary" in out.stdout
    return Pki(root)


@pytest.fixture(scope="module")
def running(mtls: Pki) -> Iterator[list[RemoteProcess]]:
    network = Network(use_netns=False)
    sites = [network.add_site() for _ in range(21)][-2:]  # 127.0.0.21 and 127.0.0.22
    started = [
        start_remote("east", "ARIN", sites[0], mtls, wait=False),
        start_remote("west", "RIPE", sites[1], mtls, wait=False),
    ]
    try:
        for remote in started:
            remote.wait_ready()
        yield started
    finally:
        stop_all(started)


def home_with(tmp_path: Path, mtls: Pki, urls: list[tuple[str, str, str]]) -> Path:
    home = make_home(tmp_path / "home", public=True)
    entries = "".join(
        f'\n[[validation.perspectives]]\nname = "{n}"\nregion = "{r}"\nurl = "{u}"\n'
        for n, r, u in urls
    )
    config = home / "certkeeper.toml"
    config.write_text(
        config.read_text() + f'\n[validation]\nmpic_client_cert = "{mtls.cert("primary")}"\n'
        f'mpic_client_key = "{mtls.key("primary")}"\nmpic_ca_file = "{mtls.ca}"\n'
        "mpic_timeout_seconds = 3\n" + entries
    )
    return home


def test_check_reports_every_perspective(
    tmp_path: Path, mtls: Pki, running: list[RemoteProcess]
) -> None:
    urls = [(r.name, r.region, r.url) for r in running]
    home = home_with(tmp_path, mtls, urls)
    out = run("mpic", "check", "--home", str(home), "--format", "json")
    assert out.returncode == 0, out.stderr
    assert '"perspective": "east"' in out.stdout and '"ok": true' in out.stdout


def test_check_fails_when_a_perspective_is_unreachable(
    tmp_path: Path, mtls: Pki, running: list[RemoteProcess]
) -> None:
    urls = [(r.name, r.region, r.url) for r in running]
    urls.append(("gone", "APNIC", "https://127.0.0.23:1"))
    home = home_with(tmp_path, mtls, urls)
    out = run_here("mpic", "check", "--home", str(home))
    assert out.returncode == 4
    assert out.stderr.strip().splitlines()[-1] == "error: unreachable or refusing: gone"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--perspective", "east"], "is not NAME=HOST"),
        (["--perspective", "east=not_a_host"], "neither an IP address nor a DNS name"),
        (["--perspective", "ca=1.2.3.4"], "not a usable name"),
        (["--perspective", "a=1.2.3.4", "--days", "0"], "--days"),
    ],
)
def test_pki_input_errors_are_one_line(tmp_path: Path, args: list[str], message: str) -> None:
    out = run_here("mpic", "pki", "--out", str(tmp_path / "pki"), *args)
    assert out.returncode == 1
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: ") and message in lines[0], out.stderr
    assert "Traceback" not in out.stderr


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"--cert": "/nonexistent/cert.pem"}, "--cert: /nonexistent/cert.pem does not exist"),
        ({"--key": "CA"}, "cannot load the certificate and key"),
        ({"--client-ca": "KEY"}, "--client-ca"),
        ({"--region": "MOON"}, "--region: 'MOON' is not one of"),
    ],
)
def test_serve_va_remote_refuses_bad_material_in_one_line(
    mtls: Pki, change: dict[str, str], message: str
) -> None:
    options = {
        "--name": "east",
        "--region": "ARIN",
        "--cert": str(mtls.cert("east")),
        "--key": str(mtls.key("east")),
        "--client-ca": str(mtls.ca),
        "--port": "1",
    }
    for key, value in change.items():
        options[key] = {"CA": str(mtls.ca), "KEY": str(mtls.key("east"))}.get(value, value)
    args = [item for pair in options.items() for item in pair]
    out = run_here("serve", "va-remote", *args)
    assert out.returncode == 1, out.stderr
    last = out.stderr.strip().splitlines()[-1]
    assert last.startswith("error: ") and message in last, out.stderr
    assert "Traceback" not in out.stderr
