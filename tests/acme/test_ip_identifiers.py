"""IP address identifiers (RFC 8738) over ACME: only under a profile that allows them,
validated by http-01 and tls-alpn-01 (BR 3.2.2.5.6, 3.2.2.5.7; tls-alpn-01 sends the
reverse-DNS name as SNI), never dns-01, no CAA, and issued as an iPAddress SAN."""

from __future__ import annotations

import ipaddress
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from sqlalchemy import select

from certkeeper.ca.home import CaHome
from certkeeper.settings.acme import AcmeProfile, AcmeSettings
from certkeeper.store.tables import caa_checks, domain_validations
from validation.test_tls_alpn01 import TlsServer, challenge_cert

from .client import AcmeClient, b64
from .conftest import ChallengeWeb, Served, ServerFactory
from .helpers import solve_http

LOOPBACK = "127.0.0.1"
IP_PROFILES = {"tls-dv-ecdsa-ip": "tls-dv-ecdsa.toml", "tls-dv-rsa-ip": "tls-dv-rsa.toml"}
# Tests reach only loopback, which BR 7.1.2.7.12 keeps out of a publicly-trusted
# certificate: `private_addresses` lets the order through, and the lints that say so are
# waived here, as an operator would have to, by name and with a reason.
WAIVERS = "".join(
    f'\n[[waivers]]\nlint_id = "{lint}"\n'
    'justification = "tests issue for the loopback address they can reach"\n'
    "expires = 2099-12-31\n"
    for lint in ("e_san_ip_address_invalid", "e_sub_cn_reserved_ip", "cabf.internal_ip_address")
)


def add_ip_profiles(home_path: Path) -> None:
    home = CaHome.open(home_path)
    try:
        folder = home.profiles.profile_dir
        for pid, source in IP_PROFILES.items():
            text = (folder / source).read_text()
            text = text.replace(f'id = "{source[:-5]}"', f'id = "{pid}"')
            text = text.replace("allow_wildcards = true", "allow_wildcards = false")
            text += "allow_ip_addresses = true\n"
            (folder / f"{pid}.toml").write_text(text)
        home.profiles.sync(datetime.now(UTC), "test-operator")
    finally:
        home.close()
    config = home_path / "certkeeper.toml"
    config.write_text(config.read_text() + WAIVERS)


@pytest.fixture(scope="module")
def ip_served(server_factory: ServerFactory) -> Served:
    profiles = (*AcmeSettings().profiles, AcmeProfile("ip", *IP_PROFILES))
    return server_factory(
        prepare=add_ip_profiles,
        profiles=profiles,
        accounts_per_ip_per_3_hours=0,
        certificates_per_domain_per_week=0,
    )


def ip_order(client: AcmeClient, value: str, **extra: Any) -> Any:
    payload = {"identifiers": [{"type": "ip", "value": value}], **extra}
    return client.post(client.directory["newOrder"], payload)


def ip_csr(address: str) -> tuple[bytes, Any]:
    key = ec.generate_private_key(ec.SECP256R1())
    ip = x509.IPAddress(ipaddress.ip_address(address))
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([]))
        .add_extension(x509.SubjectAlternativeName([ip]), False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER), key


def test_the_default_profiles_refuse_ip_identifiers(ip_served: Served) -> None:
    client = ip_served.client()
    client.register()
    for extra in ({}, {"profile": "shortlived"}):
        reply = ip_order(client, LOOPBACK, **extra)
        assert reply.status == 400, reply.body
        assert reply.problem == "rejectedIdentifier"
        assert "not issued under the" in reply.json()["detail"]
        (sub,) = reply.json()["subproblems"]
        assert sub["identifier"] == {"type": "ip", "value": LOOPBACK}


def test_malformed_ip_identifiers_are_refused(ip_served: Served) -> None:
    client = ip_served.client()
    client.register()
    assert ip_order(client, "127.0.0.256", profile="ip").problem == "rejectedIdentifier"
    assert ip_order(client, "*.127.0.0.1", profile="ip").problem == "rejectedIdentifier"
    dns_typed = client.new_order([LOOPBACK], profile="ip")
    assert dns_typed.status == 400 and "its identifier type is ip" in dns_typed.json()["detail"]


def test_an_ip_address_is_validated_by_http01_and_issued(
    ip_served: Served, web: ChallengeWeb
) -> None:
    client = ip_served.client()
    client.register()
    reply = ip_order(client, LOOPBACK, profile="ip")
    assert reply.status == 201, reply.body
    order = reply.json()
    assert order["identifiers"] == [{"type": "ip", "value": LOOPBACK}]
    (authz_url,) = order["authorizations"]
    authz = client.post(authz_url, None).json()
    assert authz["identifier"] == {"type": "ip", "value": LOOPBACK}
    assert sorted(c["type"] for c in authz["challenges"]) == ["http-01", "tls-alpn-01"]
    assert solve_http(client, web, authz_url)["status"] == "valid"

    csr, _ = ip_csr(LOOPBACK)
    final = client.post(order["finalize"], {"csr": b64(csr)})
    assert final.status == 200, final.body
    pem = client.post(final.json()["certificate"], None).body
    leaf = x509.load_pem_x509_certificates(pem)[0]
    san = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert [str(ip) for ip in san.get_values_for_type(x509.IPAddress)] == [LOOPBACK]
    assert san.get_values_for_type(x509.DNSName) == []
    record = ip_served.home.inventory.certificate(serial=format(leaf.serial_number, "x"))
    assert record.profile_id == "tls-dv-ecdsa-ip"

    with ip_served.home.inventory.engine.connect() as conn:
        method = conn.execute(
            select(domain_validations.c.method).where(domain_validations.c.fqdn == LOOPBACK)
        ).scalar_one()
        caa = conn.execute(
            select(caa_checks.c.allowed, caa_checks.c.detail).where(caa_checks.c.fqdn == LOOPBACK)
        ).all()
    assert method == "3.2.2.5.6"  # BR 3.2.2.5.6, ACME "http-01" method for IP Addresses
    assert caa and all(allowed and "does not apply" in detail for allowed, detail in caa)


def test_tls_alpn01_sends_the_reverse_name_as_sni(ip_served: Served, tls: TlsServer) -> None:
    client = ip_served.client()
    client.register()
    order = ip_order(client, LOOPBACK, profile="ip").json()
    (authz_url,) = order["authorizations"]
    authz = client.post(authz_url, None).json()
    chall = next(c for c in authz["challenges"] if c["type"] == "tls-alpn-01")
    cert, key = challenge_cert([LOOPBACK], client.key_authorization(chall["token"]))
    tls.configure(cert, key, ["acme-tls/1"])
    tls.sni.clear()
    assert client.post(chall["url"], {}).status == 200
    done = client.poll(authz_url, ("valid", "invalid"))
    assert done["status"] == "valid", done
    assert tls.sni and set(tls.sni) == {"1.0.0.127.in-addr.arpa"}  # RFC 8738 6


def test_dns01_is_not_offered_and_refused_for_an_ip_address() -> None:
    from certkeeper.settings.validation import ValidationSettings
    from certkeeper.validation.challenges import check_challenge
    from certkeeper.validation.model import ChallengeAttempt

    attempt = ChallengeAttempt(LOOPBACK, "dns-01", "tok", "tok.thumb", "https://a/acct/1")
    result = check_challenge(attempt, ValidationSettings(private_addresses=True))
    assert not result.ok and result.problem_type == "rejectedIdentifier"
    assert "RFC 8738" in result.detail
