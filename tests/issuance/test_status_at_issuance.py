"""Seed 003: a status exists for every precertificate, and only for those, whatever fails."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from cryptography.x509 import ocsp
from sqlalchemy import select

from certkeeper.ca.home import CaHome
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.store.tables import ocsp_responses, precertificates, serials
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, csr_pem

STEPS = [
    "assign_serial",
    "lint_precertificate",
    "sign_ocsp",
    "sign_precertificate",
    "store_precertificate",
    "collect_scts",
    "lint_certificate",
    "sign_certificate",
    "store_certificate",
]


def status_invariant(ca: CaHome) -> tuple[set[str], set[str], set[str]]:
    """(precertificate serials, serials with an OCSP response, all assigned serials)."""
    with ca.inventory.engine.connect() as conn:
        pre = {r[0] for r in conn.execute(select(precertificates.c.serial))}
        status = {r[0] for r in conn.execute(select(ocsp_responses.c.serial))}
        assigned = {r[0] for r in conn.execute(select(serials.c.serial))}
    return pre, status, assigned


def test_a_good_response_is_stored_with_the_precertificate(ca: CaHome) -> None:
    issued = issuance_service(ca).issue(
        IssueRequest(load_csr(csr_pem(["ocsp.example.com"])), "tls-dv-ecdsa")
    )
    with ca.inventory.engine.connect() as conn:
        row = conn.execute(
            select(ocsp_responses).where(ocsp_responses.c.serial == issued.serial)
        ).one()
    assert row.status == "good"
    response = ocsp.load_der_ocsp_response(row.der)
    assert response.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert response.certificate_status is ocsp.OCSPCertStatus.GOOD
    assert format(response.serial_number, "x") == issued.serial
    assert response.this_update_utc.microsecond == 0


@pytest.mark.parametrize("step", STEPS)
def test_an_exception_at_any_step_keeps_status_and_precertificates_one_to_one(
    ca: CaHome, step: str
) -> None:
    def on_step(name: str) -> None:
        if name == step:
            raise RuntimeError(f"injected at {name}")

    with pytest.raises(RuntimeError):
        issuance_service(ca, on_step=on_step).issue(
            IssueRequest(
                load_csr(csr_pem([f"{step.replace('_', '-')}.example.com"])), "tls-dv-ecdsa"
            )
        )
    pre, status, _ = status_invariant(ca)
    assert pre == status


KILLER = textwrap.dedent(
    """
    import os, sys
    from pathlib import Path
    sys.path.insert(0, {tests!r})
    from factories import csr_pem
    from certkeeper.ca.home import CaHome
    from certkeeper.issuance.csr import load_csr
    from certkeeper.issuance.service import IssueRequest
    from certkeeper.wiring import issuance_service

    def on_step(name):
        if name == {step!r}:
            os._exit(9)  # the process dies here: no cleanup, no exception handlers

    ca = CaHome.open(Path({home!r}))
    issuance_service(ca, on_step=on_step).issue(
        IssueRequest(load_csr(csr_pem(["killed.example.com"])), "tls-dv-ecdsa"))
    os._exit(0)
    """
)


@pytest.mark.parametrize("step", STEPS)
def test_a_killed_process_at_any_step_keeps_status_and_precertificates_one_to_one(
    fresh_ca: CaHome, step: str
) -> None:
    script = KILLER.format(
        tests=str(Path(__file__).parents[1]), step=step, home=str(fresh_ca.config.home)
    )
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": PASSPHRASE}
    proc = subprocess.run(
        [sys.executable, "-c", script],
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 9, proc.stderr
    pre, status, assigned = status_invariant(fresh_ca)
    assert pre == status
    assert len(assigned) == (0 if step == "assign_serial" else 1)
