"""The CLI: every bad input is one error line and a non-zero exit, never a traceback."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from certkeeper.cli.main import app
from cli_helpers import cli as run
from cli_helpers import runner
from factories import PASSPHRASE, csr_pem, tampered_csr_der


@pytest.fixture(scope="module")
def home(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("cli") / "home"
    code, _, err = run("init", "--home", str(path), "--non-public")
    assert code == 0, err
    return path


def test_init_refuses_to_overwrite(home: Path) -> None:
    code, _, err = run("init", "--home", str(home))
    assert code == 1
    assert err.strip() == f"error: {home} already exists and is not empty; refusing to overwrite it"


def test_init_without_passphrase_env_writes_a_private_passphrase_file(tmp_path: Path) -> None:
    result = runner.invoke(
        app, ["init", "--home", str(tmp_path / "h")], env={"CERTKEEPER_PASSPHRASE": ""}
    )
    assert result.exit_code == 0, result.stderr
    secret = tmp_path / "h" / "secrets" / "passphrase"
    assert secret.stat().st_mode & 0o777 == 0o600
    assert (
        'passphrase_file = "secrets/passphrase"' in (tmp_path / "h" / "certkeeper.toml").read_text()
    )


def test_issue_writes_certificate_then_issuer(home: Path, tmp_path: Path) -> None:
    csr = tmp_path / "req.csr"
    csr.write_bytes(csr_pem(["cli.example.com"]))
    code, out, err = run(
        "issue", "--home", str(home), "--csr", str(csr), "--profile", "tls-dv-ecdsa"
    )
    assert code == 0, err
    assert out.count("-----BEGIN CERTIFICATE-----") == 2
    assert "issued serial" in err
    target = tmp_path / "out.pem"
    code, out, _ = run(
        "issue",
        "--home",
        str(home),
        "--csr",
        str(csr),
        "--profile",
        "tls-dv-ecdsa",
        "--out",
        str(target),
    )
    assert code == 0 and out == "" and target.read_text().count("BEGIN CERTIFICATE") == 2


@pytest.mark.parametrize(
    ("setup", "args", "code", "expected"),
    [
        ("garbage", ["--profile", "tls-dv-ecdsa"], 1, "neither PEM, DER nor base64"),
        ("tampered", ["--profile", "tls-dv-ecdsa"], 1, "signature does not verify"),
        ("rsa1024", ["--profile", "tls-dv-rsa"], 1, "at least 2048"),
        ("good", ["--profile", "tls-ev"], 1, "unknown profile 'tls-ev'"),
        ("internal", ["--profile", "tls-dv-ecdsa"], 3, "lint gate refused"),
        ("missing", ["--profile", "tls-dv-ecdsa"], 1, "cannot read"),
    ],
)
def test_issue_bad_input(
    home: Path, tmp_path: Path, setup: str, args: list[str], code: int, expected: str
) -> None:
    csr = tmp_path / "req.csr"
    data = {
        "garbage": b"not a csr",
        "tampered": tampered_csr_der(),
        "rsa1024": csr_pem(["a.example.com"], "rsa-1024"),
        "good": csr_pem(["a.example.com"]),
        "internal": csr_pem(["printer.corp"]),
    }.get(setup)
    if data is not None:
        csr.write_bytes(data)
    got, out, err = run("issue", "--home", str(home), "--csr", str(csr), *args)
    assert got == code, err
    assert expected in err
    assert err.startswith("error: ") and "Traceback" not in err
    assert out == ""


def test_missing_or_corrupt_home(tmp_path: Path) -> None:
    code, _, err = run("issue", "--home", str(tmp_path / "none"), "--csr", "x", "--profile", "p")
    assert code == 1 and "does not exist" in err
    broken = tmp_path / "broken"
    broken.mkdir()
    (broken / "certkeeper.toml").write_text("[ca\n")
    code, _, err = run("certs", "list", "--home", str(broken))
    assert code == 1 and "not valid TOML" in err


def test_wrong_passphrase_is_one_line(home: Path, tmp_path: Path) -> None:
    csr = tmp_path / "req.csr"
    csr.write_bytes(csr_pem(["pp.example.com"]))
    code, _, err = run(
        "issue",
        "--home",
        str(home),
        "--csr",
        str(csr),
        "--profile",
        "tls-dv-ecdsa",
        env={"CERTKEEPER_PASSPHRASE": "wrong"},
    )
    assert code == 1 and "wrong passphrase or corrupt key" in err


def test_batch_reports_each_bad_file_and_issues_the_rest(home: Path, tmp_path: Path) -> None:
    batch = tmp_path / "batch"
    batch.mkdir()
    for i in range(4):
        (batch / f"ok{i}.csr").write_bytes(csr_pem([f"batch{i}.example.com"]))
    (batch / "bad.csr").write_bytes(b"junk")
    out = tmp_path / "issued"
    code, _, err = run(
        "issue",
        "--home",
        str(home),
        "--batch",
        str(batch),
        "--profile",
        "tls-dv-ecdsa",
        "--out",
        str(out),
        "--workers",
        "2",
    )
    assert code == 5, err
    assert "issued 4, failed 1" in err and "failed: bad.csr:" in err
    assert sorted(p.name for p in out.iterdir()) == [f"ok{i}.pem" for i in range(4)]


def test_command_without_terminal_never_prompts(home: Path, tmp_path: Path) -> None:
    """A real subprocess with stdin closed: the passphrase comes from the environment."""
    csr = tmp_path / "req.csr"
    csr.write_bytes(csr_pem(["tty.example.com"]))
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": PASSPHRASE}
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "certkeeper",
            "issue",
            "--home",
            str(home),
            "--csr",
            str(csr),
            "--profile",
            "tls-dv-ecdsa",
        ],
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("-----BEGIN CERTIFICATE-----")
