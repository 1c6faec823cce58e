"""Lifecycle beyond the first certificate: CAA refusal, ARI, key rollover, revocation both
ways (then OCSP says revoked), replacement rules, CSR and order-state refusals."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509 import ocsp

from certkeeper.acme.ari import cert_id_of
from certkeeper.store.ocsp_repo import OcspStore
from dnsserver import ChallTestSrv

from .client import AcmeClient, b64, http, jwk, jws, sign
from .conftest import ChallengeWeb, Served
from .helpers import make_csr, obtain, open_incident, solve_http


def renewal_info(
    served: Served, cert: x509.Certificate
) -> tuple[int, dict[str, str], dict[str, Any]]:
    reply = http("GET", f"{served.base}/acme/renewal-info/{cert_id_of(cert).text()}")
    return reply.status, reply.headers, reply.json()


def parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def test_caa_forbidding_us_blocks_issuance(
    served: Served, web: ChallengeWeb, dns: ChallTestSrv
) -> None:
    name = "caa-blocked.example.com"
    dns.add_caa(name, [("issue", "other-ca.example")])
    try:
        client = served.client()
        client.register()
        order = client.new_order([name]).json()
        assert solve_http(client, web, order["authorizations"][0])["status"] == "valid"
        csr, _ = make_csr([name])
        reply = client.post(order["finalize"], {"csr": b64(csr)})
        assert reply.status == 403, reply.body
        assert reply.problem == "caa"
        assert name in reply.json()["detail"]
        assert reply.json()["subproblems"][0]["identifier"] == {"type": "dns", "value": name}
        after = client.post(order["finalize"].rsplit("/", 1)[0], None).json()
        assert after["status"] == "invalid"
        assert after["error"]["type"] == "urn:ietf:params:acme:error:caa"
    finally:
        dns.clear_caa(name)


def test_ari_normal_window_and_incident_window(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    got = obtain(client, web, ["ari.example.com"])
    status, headers, doc = renewal_info(served, got.certificate)
    assert status == 200
    assert int(headers["retry-after"]) > 0
    nb, na = got.certificate.not_valid_before_utc, got.certificate.not_valid_after_utc
    centre = nb + (na - nb) * 2 / 3
    start = parse_time(doc["suggestedWindow"]["start"])
    end = parse_time(doc["suggestedWindow"]["end"])
    assert start < centre < end
    assert abs((start + (end - start) / 2) - centre) <= timedelta(seconds=1)
    assert "explanationURL" not in doc

    open_incident(served.home, got.serial, "https://ca.test/incidents/42")
    status, headers, doc = renewal_info(served, got.certificate)
    assert status == 200
    assert parse_time(doc["suggestedWindow"]["end"]) < datetime.now(UTC)
    assert doc["explanationURL"] == "https://ca.test/incidents/42"
    assert int(headers["retry-after"]) > 0


def test_ari_unknown_certificate_is_404(served: Served) -> None:
    reply = http("GET", f"{served.base}/acme/renewal-info/AQID.AQ")
    assert reply.status == 404 and reply.problem == "malformed"
    reply = http("GET", f"{served.base}/acme/renewal-info/not-a-cert-id")
    assert reply.status == 400 and reply.problem == "malformed"


def test_replaces_rules(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    got = obtain(client, web, ["replace.example.com"])
    cert_id = cert_id_of(got.certificate).text()
    stranger = served.client()
    stranger.register()
    refused = stranger.new_order(["replace.example.com"], replaces=cert_id)
    assert refused.status == 403 and refused.problem == "unauthorized"
    first = client.new_order(["replace.example.com"], replaces=cert_id)
    assert first.status == 201 and first.json()["replaces"] == cert_id
    second = client.new_order(["replace.example.com"], replaces=cert_id)
    assert second.status == 409 and second.problem == "alreadyReplaced"


def test_key_rollover(served: Served) -> None:
    client = served.client()
    client.register()
    assert client.kid is not None
    old_key = client.key
    new_key = ec.generate_private_key(ec.SECP384R1())
    url = str(client.directory["keyChange"])
    inner = jws(new_key, {"jwk": jwk(new_key), "url": url}, b"")
    inner["payload"] = b64(json.dumps({"account": client.kid, "oldKey": jwk(old_key)}).encode())
    signing_input = f"{inner['protected']}.{inner['payload']}".encode()
    inner["signature"] = b64(sign(new_key, "ES384", signing_input))
    reply = client.post(url, inner)
    assert reply.status == 200, reply.body
    # The old key no longer signs for the account; the new one does.
    assert client.post(client.kid, None).problem == "malformed"
    assert client.post(client.kid, None, key=new_key).status == 200
    client.key = new_key
    again = client.post(
        str(client.directory["newAccount"]), {"onlyReturnExisting": True}, use_jwk=True
    )
    assert again.status == 200 and again.headers["location"] == client.kid


def test_key_rollover_inner_jws_with_nonce_is_refused(served: Served) -> None:
    client = served.client()
    client.register()
    new_key = ec.generate_private_key(ec.SECP256R1())
    url = str(client.directory["keyChange"])
    payload = json.dumps({"account": client.kid, "oldKey": jwk(client.key)}).encode()
    inner = jws(new_key, {"jwk": jwk(new_key), "url": url, "nonce": client.nonce()}, payload)
    reply = client.post(url, inner)
    assert reply.status == 400 and reply.problem == "malformed"


def ocsp_status(served: Served, serial: str) -> ocsp.OCSPCertStatus:
    row = OcspStore(served.home.inventory.engine).get(serial)
    assert row is not None
    return ocsp.load_der_ocsp_response(row.der).certificate_status


def test_revoke_by_account_then_already_revoked(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    got = obtain(client, web, ["revoke-acct.example.com"])
    der = got.certificate.public_bytes(Encoding.DER)
    url = str(client.directory["revokeCert"])
    stranger = served.client()
    stranger.register()
    assert stranger.post(url, {"certificate": b64(der)}).problem == "unauthorized"
    bad_reason = client.post(url, {"certificate": b64(der), "reason": 9})
    assert bad_reason.status == 400 and bad_reason.problem == "badRevocationReason"
    reply = client.post(url, {"certificate": b64(der), "reason": 4})
    assert reply.status == 200, reply.body
    assert ocsp_status(served, got.serial) == ocsp.OCSPCertStatus.REVOKED
    again = client.post(url, {"certificate": b64(der)})
    assert again.status == 400 and again.problem == "alreadyRevoked"


def test_revoke_with_the_certificate_key(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    got = obtain(client, web, ["revoke-key.example.com"])
    der = got.certificate.public_bytes(Encoding.DER)
    holder = AcmeClient(served.directory, got.key)
    url = str(holder.directory["revokeCert"])
    wrong = AcmeClient(served.directory, ec.generate_private_key(ec.SECP256R1()))
    refused = wrong.post(url, {"certificate": b64(der)}, use_jwk=True)
    assert refused.status == 403 and refused.problem == "unauthorized"
    reply = holder.post(url, {"certificate": b64(der), "reason": 1}, use_jwk=True)
    assert reply.status == 200, reply.body
    assert ocsp_status(served, got.serial) == ocsp.OCSPCertStatus.REVOKED


def test_finalize_refusals(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    order = client.new_order(["csr.example.com"]).json()
    csr, _ = make_csr(["csr.example.com"])
    early = client.post(order["finalize"], {"csr": b64(csr)})
    assert early.status == 403 and early.problem == "orderNotReady"
    solve_http(client, web, order["authorizations"][0])
    wrong, _ = make_csr(["csr.example.com", "extra.example.com"])
    mismatch = client.post(order["finalize"], {"csr": b64(wrong)})
    assert mismatch.status == 400 and mismatch.problem == "badCSR"
    account_key_csr, _ = make_csr(["csr.example.com"], key=client.key)
    same_key = client.post(order["finalize"], {"csr": b64(account_key_csr)})
    assert same_key.status == 400 and same_key.problem == "badCSR"
    garbage = client.post(order["finalize"], {"csr": b64(b"\x30\x03\x02\x01\x00")})
    assert garbage.status == 400 and garbage.problem == "badCSR"


def test_new_order_refusals(served: Served) -> None:
    client = served.client()
    client.register()
    tld = client.new_order(["host.not-a-real-tld-zz"])
    assert tld.status == 400 and tld.problem == "rejectedIdentifier"
    assert tld.json()["subproblems"][0]["identifier"]["value"] == "host.not-a-real-tld-zz"
    ip = client.post(
        str(client.directory["newOrder"]), {"identifiers": [{"type": "ip", "value": "192.0.2.1"}]}
    )
    # RFC 8738 identifiers only under a profile that allows them (test_ip_identifiers.py)
    assert ip.status == 400 and ip.problem == "rejectedIdentifier"
    other = client.post(
        str(client.directory["newOrder"]), {"identifiers": [{"type": "email", "value": "a@b.c"}]}
    )
    assert other.status == 400 and other.problem == "unsupportedIdentifier"
    dates = client.new_order(["dates.example.com"], notAfter="2030-01-01T00:00:00Z")
    assert dates.status == 400 and dates.problem == "malformed"


def test_failed_validation_makes_order_invalid(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    reply = client.new_order(["fails.example.com"])
    order = reply.json()
    authz = client.post(order["authorizations"][0], None).json()
    chall = next(c for c in authz["challenges"] if c["type"] == "http-01")
    web.tokens[chall["token"]] = "wrong-key-authorization"
    client.post(chall["url"], {})
    done = client.poll(order["authorizations"][0], ("valid", "invalid"))
    assert done["status"] == "invalid"
    failed = next(c for c in done["challenges"] if c["type"] == "http-01")
    assert failed["status"] == "invalid"
    assert failed["error"]["type"].startswith("urn:ietf:params:acme:error:")
    assert failed["error"]["detail"]
    after = client.post(reply.headers["location"], None).json()
    assert after["status"] == "invalid"


def test_authorization_deactivation(served: Served) -> None:
    client = served.client()
    client.register()
    order = client.new_order(["deact.example.com"]).json()
    url = order["authorizations"][0]
    reply = client.post(url, {"status": "deactivated"})
    assert reply.status == 200 and reply.json()["status"] == "deactivated"
    assert client.post(url, {"status": "deactivated"}).problem == "malformed"


def test_certificate_key_cannot_become_an_account_key(served: Served, web: ChallengeWeb) -> None:
    client = served.client()
    client.register()
    got = obtain(client, web, ["keysplit.example.com"])
    holder = AcmeClient(served.directory, got.key)
    reply = holder.post(
        str(holder.directory["newAccount"]), {"termsOfServiceAgreed": True}, use_jwk=True
    )
    assert reply.status == 400 and reply.problem == "badPublicKey"
    # ...and an account key cannot be certified.
    order = client.new_order(["keysplit.example.com"]).json()
    csr, _ = make_csr(["keysplit.example.com"], key=client.key)
    refused = client.post(order["finalize"], {"csr": b64(csr)})
    assert refused.status == 400 and refused.problem == "badCSR"
