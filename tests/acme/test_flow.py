"""The core flow end to end over real HTTP: directory, account, order, http-01 against a
loopback web server, dns-01 against a real DNS server, finalize, download."""

from __future__ import annotations

import hashlib

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from certkeeper.validation.challenges import ACME_TLS_ALPN
from dnsserver import ChallTestSrv
from validation.test_tls_alpn01 import TlsServer, challenge_cert

from .client import AcmeClient, b64, http
from .conftest import ChallengeWeb, Served


def make_csr(names: list[str]) -> bytes:
    key = ec.generate_private_key(ec.SECP256R1())
    csr = (
        x509.CertificateSigningRequestBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, names[0])]))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(n) for n in names]), False)
        .sign(key, hashes.SHA256())
    )
    return csr.public_bytes(serialization.Encoding.DER)


def solve_http(client: AcmeClient, web: ChallengeWeb, authz_url: str) -> None:
    authz = client.post(authz_url, None).json()
    chall = next(c for c in authz["challenges"] if c["type"] == "http-01")
    web.tokens[chall["token"]] = client.key_authorization(chall["token"])
    reply = client.post(chall["url"], {})
    assert reply.status == 200, reply.body
    assert reply.json()["status"] in ("processing", "valid")
    done = client.poll(authz_url, ("valid", "invalid"))
    assert done["status"] == "valid", done


def solve_dns(client: AcmeClient, dns: ChallTestSrv, authz_url: str) -> None:
    authz = client.post(authz_url, None).json()
    chall = next(c for c in authz["challenges"] if c["type"] == "dns-01")
    digest = hashlib.sha256(client.key_authorization(chall["token"]).encode()).digest()
    dns.set_txt(f"_acme-challenge.{authz['identifier']['value']}", b64(digest))
    assert client.post(chall["url"], {}).status == 200
    done = client.poll(authz_url, ("valid", "invalid"))
    assert done["status"] == "valid", done


def test_directory_lists_every_resource(served: Served) -> None:
    reply = http("GET", served.directory)
    assert reply.status == 200
    doc = reply.json()
    for key in ("newNonce", "newAccount", "newOrder", "revokeCert", "keyChange", "renewalInfo"):
        assert doc[key].startswith(served.base + "/acme/")
    assert doc["meta"]["externalAccountRequired"] is False
    assert doc["meta"]["caaIdentities"] == ["ca.certkeeper.example"]
    assert reply.headers["cache-control"] == "no-store"
    # RFC 8555 7.2: nonces come from newNonce and POST answers; a GET of the directory
    # carries none (a packaged client fails on one there)
    assert "replay-nonce" not in reply.headers
    assert "replay-nonce" not in http("GET", served.base + "/acme/no-such-thing").headers


def test_new_nonce_head_and_get(served: Served) -> None:
    url = http("GET", served.directory).json()["newNonce"]
    head = http("HEAD", url)
    get = http("GET", url)
    assert head.status == 200 and get.status == 204
    assert head.headers["replay-nonce"] != get.headers["replay-nonce"]
    assert 'rel="index"' in head.headers["link"]


def test_order_http01_finalize_download(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    created = client.register(["mailto:ops@example.com", "mailto:backup@example.com"])
    assert created.status == 201
    assert created.json()["contact"] == ["mailto:ops@example.com", "mailto:backup@example.com"]
    names = ["flow.example.com", "www.flow.example.com"]
    order_reply = client.new_order(names)
    assert order_reply.status == 201, order_reply.body
    order = order_reply.json()
    order_url = order_reply.headers["location"]
    assert order["status"] == "pending"
    assert len(order["authorizations"]) == 2
    for authz_url in order["authorizations"]:
        solve_http(client, web, authz_url)
    assert client.post(order_url, None).json()["status"] == "ready"
    final = client.post(order["finalize"], {"csr": b64(make_csr(names))})
    assert final.status == 200, final.body
    assert final.json()["status"] == "valid"
    cert_reply = client.post(final.json()["certificate"], None)
    assert cert_reply.status == 200
    assert cert_reply.headers["content-type"] == "application/pem-certificate-chain"
    chain = x509.load_pem_x509_certificates(cert_reply.body)
    assert len(chain) == 2
    leaf, issuer = chain
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(names)
    leaf.verify_directly_issued_by(issuer)
    # The account is the subscriber, and its contacts are the incident contacts.
    serial = format(leaf.serial_number, "x")
    record = served.home.inventory.certificate(serial=serial)
    from certkeeper.store.incidents import IncidentStore

    assert record.subscriber_id is not None
    contacts = IncidentStore(served.home.inventory.engine).contacts(record.subscriber_id)
    assert contacts == [("ops@example.com", "primary"), ("backup@example.com", "backup")]
    # A second order for the same names reuses the valid authorizations: ready at once.
    again = client.new_order(names).json()
    assert again["status"] == "ready"


def test_order_dns01_wildcard(served: Served, dns: ChallTestSrv) -> None:
    client = served.client()
    client.register()
    names = ["*.wild.example.com", "wild.example.com"]
    order = client.new_order(names).json()
    for authz_url in order["authorizations"]:
        authz = client.post(authz_url, None).json()
        if authz.get("wildcard"):
            assert [c["type"] for c in authz["challenges"]] == ["dns-01"]
        solve_dns(client, dns, authz_url)
    final = client.post(order["finalize"], {"csr": b64(make_csr(names))})
    assert final.status == 200, final.body
    pem = client.post(final.json()["certificate"], None).body
    leaf = x509.load_pem_x509_certificates(pem)[0]
    sans = leaf.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    assert sorted(sans.get_values_for_type(x509.DNSName)) == sorted(names)


def test_order_tls_alpn01(served: Served, tls: TlsServer) -> None:
    client = served.client()
    client.register()
    name = "alpn.example.com"
    order = client.new_order([name]).json()
    authz_url = order["authorizations"][0]
    authz = client.post(authz_url, None).json()
    chall = next(c for c in authz["challenges"] if c["type"] == "tls-alpn-01")
    key_authorization = client.key_authorization(chall["token"])
    tls.configure(*challenge_cert([name], key_authorization), [ACME_TLS_ALPN])
    assert client.post(chall["url"], {}).status == 200
    done = client.poll(authz_url, ("valid", "invalid"))
    assert done["status"] == "valid", done
    assert [c["type"] for c in done["challenges"]] == ["tls-alpn-01"]
    final = client.post(order["finalize"], {"csr": b64(make_csr([name]))})
    assert final.status == 200 and final.json()["status"] == "valid", final.body
