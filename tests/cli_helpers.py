"""The CLI in-process, as the tests call it: exit code, stdout and stderr, never a
swallowed exception (an exception other than SystemExit is a traceback a user would see)."""

from __future__ import annotations

from pathlib import Path

from typer.testing import CliRunner

from certkeeper.cli.main import app
from factories import PASSPHRASE, csr_pem

runner = CliRunner()


def cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, str, str]:
    """Run `certkeeper ARGS` with the test passphrase (and `env`) in the environment."""
    result = runner.invoke(
        app, list(args), env={"CERTKEEPER_PASSPHRASE": PASSPHRASE, **(env or {})}
    )
    assert result.exception is None or isinstance(result.exception, SystemExit), result.exception
    return result.exit_code, result.stdout, result.stderr


def issue_cli(
    home: Path, tmp_path: Path, name: str, profile: str = "tls-dv-ecdsa"
) -> tuple[int, str, str]:
    """`certkeeper issue` for one name, its CSR and certificate files in `tmp_path`."""
    csr = tmp_path / f"{name}.csr"
    csr.write_bytes(csr_pem([name]))
    out = tmp_path / f"{name}.pem"
    return cli(
        "issue", "--home", str(home), "--csr", str(csr), "--profile", profile, "--out", str(out)
    )
