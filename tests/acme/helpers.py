"""Shared steps of the ACME lifecycle tests: CSRs, solving challenges, getting a certificate."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from certkeeper.ca.home import CaHome
from certkeeper.store.incidents import IncidentRecord, IncidentStore
from dnsserver import ChallTestSrv

from .client import AcmeClient, b64
from .conftest import ChallengeWeb


def make_csr(names: list[str], key: Any = None) -> tuple[bytes, Any]:
    key = key or ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER), key


def solve_http(client: AcmeClient, web: ChallengeWeb, authz_url: str) -> dict[str, Any]:
    authz = client.post(authz_url, None).json()
    if authz["status"] != "pending":
        return dict(authz)
    chall = next(c for c in authz["challenges"] if c["type"] == "http-01")
    web.tokens[chall["token"]] = client.key_authorization(chall["token"])
    reply = client.post(chall["url"], {})
    assert reply.status == 200, reply.body
    return client.poll(authz_url, ("valid", "invalid"))


def solve_dns(client: AcmeClient, dns: ChallTestSrv, authz_url: str) -> dict[str, Any]:
    authz = client.post(authz_url, None).json()
    chall = next(c for c in authz["challenges"] if c["type"] == "dns-01")
    digest = hashlib.sha256(client.key_authorization(chall["token"]).encode()).digest()
    dns.set_txt(f"_acme-challenge.{authz['identifier']['value']}", b64(digest))
    assert client.post(chall["url"], {}).status == 200
    return client.poll(authz_url, ("valid", "invalid"))


@dataclass
class Obtained:
    order_url: str
    order: dict[str, Any]
    certificate: x509.Certificate
    issuer: x509.Certificate
    key: Any

    @property
    def serial(self) -> str:
        return format(self.certificate.serial_number, "x")


def obtain(client: AcmeClient, web: ChallengeWeb, names: list[str], **order_extra: Any) -> Obtained:
    reply = client.new_order(names, **order_extra)
    assert reply.status == 201, reply.body
    order = reply.json()
    for authz_url in order["authorizations"]:
        assert solve_http(client, web, authz_url)["status"] == "valid"
    csr, key = make_csr(names)
    final = client.post(order["finalize"], {"csr": b64(csr)})
    assert final.status == 200, final.body
    pem = client.post(final.json()["certificate"], None).body
    leaf, issuer = x509.load_pem_x509_certificates(pem)
    return Obtained(reply.headers["location"], final.json(), leaf, issuer, key)


def open_incident(home: CaHome, serial: str, url: str = "https://ca.test/incident/1") -> int:
    """An open incident that asks for renewal of `serial` now (window in the past)."""
    now = datetime.now(UTC).replace(microsecond=0)
    store = IncidentStore(home.inventory.engine)
    incident_id = store.create(
        IncidentRecord(
            id=None,
            title="test incident",
            br_item=5,
            reason=4,
            aware_at=now,
            deadline=now + timedelta(days=1),
            selector={"serials": [serial]},
            state="open",
            explanation_url=url,
            details={},
            created_at=now,
        ),
        "test",
        [],
    )
    store.set_renewal_windows(
        incident_id, [serial], now - timedelta(hours=2), now - timedelta(hours=1), url
    )
    return incident_id
