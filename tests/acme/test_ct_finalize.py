"""ACME finalize with Certificate Transparency: when the CT policy cannot be met the
order stays "processing" (RFC 8555 7.1.6) with its precertificate waiting, and a poll
of the order completes it once the logs answer (docs/ct.md)."""

from __future__ import annotations

import dataclasses
from datetime import UTC, datetime
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.settings.ct import CtSettings, SubmissionSettings
from ct.served import log_list_text, served_logs

from .client import b64
from .conftest import ChallengeWeb, ServerFactory
from .helpers import make_csr, solve_http


def test_finalize_waits_for_scts_and_a_poll_of_the_order_completes_it(
    server_factory: ServerFactory, web: ChallengeWeb
) -> None:
    served = server_factory(accounts_per_ip_per_3_hours=0, certificates_per_domain_per_week=0)
    home = served.home.config.home
    root = x509.load_pem_x509_certificate((home / "certs/root.pem").read_bytes())
    with served_logs([root.public_bytes(Encoding.DER)], ["Op A", "Op B", "Op C"]) as logs:
        for s in logs:
            s.log.timeout_seconds = 2.0
        listing = Path(home) / "ct_log_list.json"
        listing.write_text(log_list_text(logs, datetime.now(UTC)))
        served.home.config = dataclasses.replace(
            served.home.config,
            ct=CtSettings(
                log_list=listing,
                submission=SubmissionSettings(
                    timeout_seconds=0.5,
                    deadline_seconds=3,
                    attempts_per_log=2,
                    backoff_seconds=0.05,
                ),
            ),
        )
        for s in logs[1:]:
            s.log.faults.add("5xx")
        client = served.client()
        assert client.register(["mailto:ct@example.com"]).status == 201
        names = ["ct-acme.example.com"]
        reply = client.new_order(names)
        assert reply.status == 201, reply.body
        order, order_url = reply.json(), reply.headers["location"]
        for authz_url in order["authorizations"]:
            assert solve_http(client, web, authz_url)["status"] == "valid"
        csr, _ = make_csr(names)
        final = client.post(order["finalize"], {"csr": b64(csr)})
        assert final.status == 200, final.body
        assert final.json()["status"] == "processing"
        assert "certificate" not in final.json()
        assert final.headers["retry-after"]

        still = client.post(order_url, None).json()  # the logs still fail: it waits
        assert still["status"] == "processing"

        for s in logs:
            s.log.faults.clear()
        done = client.poll(order_url, ("valid", "invalid"))
        assert done["status"] == "valid", done
        pem = client.post(done["certificate"], None).body
        leaf = x509.load_pem_x509_certificates(pem)[0]
        scts = leaf.extensions.get_extension_for_class(
            x509.PrecertificateSignedCertificateTimestamps
        ).value
        assert len(list(scts)) == 2
