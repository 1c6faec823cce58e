"""The OCSP responder over a real PostgreSQL that is stopped and started again: every
request meanwhile is tryLater, never an internal error, and the outage and the recovery
are logged once each instead of a traceback per request."""

from __future__ import annotations

import asyncio
import logging
import os
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.x509 import ocsp

from certkeeper.ca.home import CaHome
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.service import IssueRequest
from certkeeper.status.responder import TRY_LATER, OcspResponder
from certkeeper.store.ocsp_repo import OcspStore
from certkeeper.wiring import issuance_service
from factories import PASSPHRASE, csr_pem, make_home
from pgserver import PostgresServer


def test_outage_is_try_later_and_logged_once_per_change(
    own_pg: PostgresServer, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    home = CaHome.open(make_home(tmp_path / "home", database_url=own_pg.create_database()))
    try:
        issued = issuance_service(home).issue(
            IssueRequest(load_csr(csr_pem(["outage.ocsp.example.com"])), "tls-dv-ecdsa")
        )
        cert = x509.load_der_x509_certificate(issued.der)
        issuer = x509.load_der_x509_certificate(issued.chain[0])
        request = (
            ocsp.OCSPRequestBuilder()
            .add_certificate(cert, issuer, hashes.SHA1())
            .build()
            .public_bytes(serialization.Encoding.DER)
        )
        responder = OcspResponder(OcspStore(home.inventory.engine), cache_ttl=0.0, negative_ttl=0.0)

        def ask() -> bytes:
            return asyncio.run(responder.answer_request(request)).body

        caplog.clear()
        with caplog.at_level(logging.INFO, logger="certkeeper"):
            own_pg.pause()  # before the first request: the issuer list cannot load
            assert {ask() for _ in range(10)} == {TRY_LATER.body}
            own_pg.resume()
            answer = ask()
            assert answer != TRY_LATER.body
            assert ocsp.load_der_ocsp_response(answer).certificate_status == (
                ocsp.OCSPCertStatus.GOOD
            )
            own_pg.pause()  # now the lookups themselves fail
            assert {ask() for _ in range(10)} == {TRY_LATER.body}
            own_pg.resume()
            assert ask() == answer
    finally:
        home.close()
    records = [r for r in caplog.records if r.name.startswith("certkeeper")]
    assert not [r for r in records if r.exc_info], "a traceback was logged"
    messages = [r.getMessage() for r in records]
    assert len([m for m in messages if m.startswith("database unavailable")]) == 2, messages
    assert len([m for m in messages if m.startswith("database reachable again")]) == 2
