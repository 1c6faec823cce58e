"""Each exit code means one thing (README "Exit codes"), `--version` names the schema,
and messages on a non-terminal stderr are never cut into 80-column lines."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certkeeper import errors
from certkeeper.store.database import head_revision
from cli_helpers import cli as run
from factories import csr_pem, make_home


def test_the_codes_are_distinct() -> None:
    codes = [
        errors.EXIT_BAD_INPUT,
        errors.EXIT_USAGE,
        errors.EXIT_REFUSED,
        errors.EXIT_FINDINGS,
        errors.EXIT_PARTIAL,
        errors.EXIT_INTERRUPTED,
    ]
    assert len(set(codes)) == len(codes) and 0 not in codes
    assert errors.CertkeeperError.exit_code == errors.EXIT_BAD_INPUT
    assert errors.IssuanceRefused.exit_code == errors.EXIT_REFUSED


def test_version_prints_the_version_and_the_schema_revision() -> None:
    code, out, _ = run("--version")
    assert code == 0
    assert out.strip() == f"certkeeper 0.1.0 (schema revision {head_revision()})"


def bad_leaf(tmp_path: Path) -> Path:
    """A self-signed leaf with a non-critical basicConstraints (seed 004) and no SAN."""
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "bad.example.com")])
    now = datetime(2026, 1, 5, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now.replace(month=2))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=False)
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "bad.pem"
    path.write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    return path


def test_lint_findings_usage_errors_and_bad_input_differ(tmp_path: Path) -> None:
    leaf = bad_leaf(tmp_path)
    assert run("lint", str(leaf))[0] == errors.EXIT_FINDINGS
    assert run("lint", "--no-such-option", str(leaf))[0] == errors.EXIT_USAGE
    assert run("lint", str(tmp_path / "missing.pem"))[0] == errors.EXIT_BAD_INPUT


def closed_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def test_incident_notify_exits_partial_when_sends_fail(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    config = home / "certkeeper.toml"
    text = config.read_text()
    assert 'smtp_host = "localhost"' in text and "smtp_port = 25" in text and "attempts = 3" in text
    config.write_text(
        text.replace("smtp_port = 25", f"smtp_port = {closed_port()}")
        .replace('smtp_host = "localhost"', 'smtp_host = "127.0.0.1"')
        .replace("attempts = 3", "attempts = 1")
    )
    h = str(home)
    code, _, err = run("subscriber", "add", "shop", "--primary", "ops@shop.example", "--home", h)
    assert code == 0, err
    csr = tmp_path / "r.csr"
    csr.write_bytes(csr_pem(["notify.example.com"]))
    code, _, err = run(
        "issue", "--home", h, "--csr", str(csr), "--profile", "tls-dv-ecdsa",
        "--subscriber", "shop",
    )  # fmt: skip
    assert code == 0, err
    code, _, err = run(
        "incident", "open", "--home", h, "--title", "t", "--reason", "12",
        "--aware-at", datetime.now(UTC).isoformat(), "--profile", "tls-dv-ecdsa",
    )  # fmt: skip
    assert code == 0, err
    code, out, err = run("incident", "notify", "1", "--home", h)
    assert out.startswith("sent 0, failed 1"), out + err
    assert code == errors.EXIT_PARTIAL


def test_batch_with_failed_items_exits_partial(tmp_path: Path) -> None:
    home = make_home(tmp_path / "home")
    batch = tmp_path / "batch"
    batch.mkdir()
    (batch / "ok.csr").write_bytes(csr_pem(["ok.example.com"]))
    (batch / "bad.csr").write_bytes(b"junk")
    code, _, err = run(
        "issue", "--home", str(home), "--batch", str(batch), "--profile", "tls-dv-ecdsa",
        "--out", str(tmp_path / "out"),
    )  # fmt: skip
    assert code == errors.EXIT_PARTIAL, err
    assert "issued 1, failed 1" in err


@pytest.mark.parametrize("columns", [None, "40"])
def test_stderr_messages_are_not_wrapped_off_a_terminal(
    tmp_path: Path, columns: str | None
) -> None:
    home = tmp_path / ("a-rather-long-directory-name-" * 3) / "home"
    env = {k: v for k, v in os.environ.items() if k not in ("CERTKEEPER_PASSPHRASE", "COLUMNS")}
    if columns:
        env["COLUMNS"] = columns
    proc = subprocess.run(
        [sys.executable, "-m", "certkeeper", "init", "--home", str(home)],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert proc.returncode == 0, proc.stderr
    lines = proc.stderr.splitlines()
    notice = [line for line in lines if "key passphrase written to" in line]
    assert len(notice) == 1, proc.stderr
    assert str(home / "secrets" / "passphrase") in notice[0]
    assert notice[0].endswith("and remove that file")
    assert any(line == f"created CA home {home}" for line in lines), proc.stderr
