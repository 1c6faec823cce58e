"""Shared by the OCSP tests: one CA home with real issued certificates and their status."""

from __future__ import annotations

import functools
import os
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import Issued, IssueRequest
from certkeeper.store.ocsp_repo import OcspStore
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, csr_pem, make_home


@dataclass(frozen=True)
class IssuedWithStatus:
    issued: Issued
    issuer_name: str


def issue_with_status(
    ca: CaHome, names: list[str], profile: str = "tls-dv-ecdsa", kind: str = "ecdsa-p256"
) -> IssuedWithStatus:
    """Issue a certificate, then sign and store its "good" response as issuance will."""
    issued = issuance_service(ca).issue(IssueRequest(load_csr(csr_pem(names, kind)), profile))
    record = ca.inventory.certificate(serial=issued.serial)
    issuer = ca.inventory.issuer(record.issuer_id)
    status = wiring.build(ca).ocsp.sign_status(
        issuer, issued.serial, not_after=record.not_after, now=datetime.now(UTC)
    )
    OcspStore(ca.inventory.engine).put(status)
    return IssuedWithStatus(issued, issuer.name)


@functools.cache
def shared_ocsp_home() -> Path:
    """One CA home per test process for tests that only add to it."""
    os.environ.setdefault("CERTKEEPER_PASSPHRASE", PASSPHRASE)
    return make_home(Path(tempfile.mkdtemp(prefix="certkeeper-ocsp-")) / "home")
