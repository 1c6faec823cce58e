"""`certkeeper ocsp show`: the stored response of a serial, and one error line for a
serial that was never assigned or is not hexadecimal."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from cryptography import x509

from cli_helpers import cli as run
from cli_helpers import issue_cli


@pytest.fixture(scope="module")
def issued(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, str]:
    """A non-public home and the serial (hex) of one certificate it issued."""
    base = tmp_path_factory.mktemp("ocsp-show")
    home = base / "home"
    code, _, err = run("init", "--home", str(home), "--non-public")
    assert code == 0, err
    code, _, err = issue_cli(home, base, "show.example.com")
    assert code == 0, err
    cert = x509.load_pem_x509_certificates((base / "show.example.com.pem").read_bytes())[0]
    return home, format(cert.serial_number, "x")


def test_show_gives_the_stored_response(issued: tuple[Path, str]) -> None:
    home, serial = issued
    code, out, err = run("ocsp", "show", "0x" + serial.upper(), "--home", str(home), "-f", "json")
    assert code == 0, err
    data = json.loads(out)
    assert data["serial"] == serial and data["serial_state"] == "issued"
    assert data["status"] == "good" and data["revoked_at"] is None
    assert data["issuer"] and data["size"] > 0


@pytest.mark.parametrize(
    ("serial", "message"),
    [("0x1234", "serial 1234 was never assigned"), ("zz", "serial 'zz' is not hexadecimal")],
)
def test_show_refuses_unknown_and_malformed_serials(
    issued: tuple[Path, str], serial: str, message: str
) -> None:
    code, _, err = run("ocsp", "show", serial, "--home", str(issued[0]))
    assert code == 1 and message in err
