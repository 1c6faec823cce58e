"""Token logins in the audit log (BR 5.4.1): a command that opens a CA key in the
SoftHSM2 token records `token.login` under its actor; a wrong PIN records
`token.login-failed` with the reason. Each command runs in a process of its own, as a
login is per process (PKCS#11 v2.40 5.6)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from certkeeper.audit_chain import AuditFilter
from certkeeper.auditlog.record import audit_log
from certkeeper.ca.home import CaHome
from factories import PASSPHRASE, make_home
from signing.test_pkcs11 import MODULE, new_token, pytestmark, softhsm

__all__ = ["pytestmark", "softhsm"]  # the SoftHSM2 skip and token directory fixture


def certkeeper(home: Path, softhsm_dir: Path, passphrase: str, *args: str) -> int:
    env = {
        **os.environ,
        "SOFTHSM2_CONF": str(softhsm_dir / "softhsm2.conf"),
        "CERTKEEPER_PASSPHRASE": passphrase,
        "CERTKEEPER_ACTOR": "ops",
    }
    done = subprocess.run(
        [sys.executable, "-m", "certkeeper", *args, "--home", str(home)],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=120,
    )
    return done.returncode


def test_logins_and_failed_logins_are_recorded(
    softhsm: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    token = new_token("t-audit-login")
    home = make_home(tmp_path / "home", pkcs11_module=str(MODULE), pkcs11_token=token)
    assert certkeeper(home, softhsm, PASSPHRASE, "crl", "publish") == 0
    assert certkeeper(home, softhsm, "not the PIN", "crl", "publish") != 0
    ca = CaHome.open(home)
    try:
        log = audit_log(ca)
        rows = [e.to_dict() for e in log.entries(AuditFilter(event="token."))]
        assert log.verify().ok
    finally:
        ca.close()
    assert [(r["event"], r["actor"], r["subject"]) for r in rows] == [
        ("token.login", "ops", token),
        ("token.login-failed", "ops", token),
    ]
    assert rows[0]["detail"] == {"module": str(MODULE), "result": "logged in (read-only)"}
    assert "wrong PIN" in rows[1]["detail"]["result"]
