"""Every JWS refusal over real HTTP, each asserting the problem type and HTTP status."""

from __future__ import annotations

import hashlib
import hmac
import json
import urllib.parse
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from .client import AcmeClient, Reply, b64, http, jwk, jws
from .conftest import Served


@pytest.fixture
def client(served: Served) -> AcmeClient:
    c = served.client()
    c.register()
    return c


def send(client: AcmeClient, url: str, body: Any, ctype: str = "application/jose+json") -> Reply:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return http("POST", url, raw, ctype)


def signed(client: AcmeClient, url: str, payload: bytes = b"{}", **header: Any) -> dict[str, str]:
    protected: dict[str, Any] = {"nonce": client.nonce(), "url": url, "kid": client.kid}
    protected.update(header)
    protected = {k: v for k, v in protected.items() if v is not None}
    return jws(client.key, protected, payload)


def assert_problem(reply: Reply, type: str, status: int, nonce: bool = True) -> dict[str, Any]:
    assert reply.status == status, reply.body
    assert reply.headers["content-type"] == "application/problem+json"
    # nonces come with every answer to a POST, never with a GET (RFC 8555 6.5, 7.2)
    assert bool(reply.headers.get("replay-nonce")) is nonce
    doc = reply.json()
    assert doc["type"] == f"urn:ietf:params:acme:error:{type}", doc
    assert doc["status"] == status
    assert doc["detail"]
    return dict(doc)


def order_url(client: AcmeClient) -> str:
    return str(client.directory["newOrder"])


def test_alg_none_is_refused(client: AcmeClient) -> None:
    url = order_url(client)
    header = {"alg": "none", "nonce": client.nonce(), "url": url, "kid": client.kid}
    body = {"protected": b64(json.dumps(header).encode()), "payload": b64(b"{}"), "signature": ""}
    doc = assert_problem(send(client, url, body), "badSignatureAlgorithm", 400)
    assert "ES256" in doc["algorithms"] and "none" not in doc["algorithms"]


def test_hs256_is_refused(client: AcmeClient) -> None:
    url = order_url(client)
    header = {"alg": "HS256", "nonce": client.nonce(), "url": url, "kid": client.kid}
    protected = b64(json.dumps(header).encode())
    payload = b64(b"{}")
    mac = hmac.new(b"secret", f"{protected}.{payload}".encode(), hashlib.sha256).digest()
    body = {"protected": protected, "payload": payload, "signature": b64(mac)}
    assert_problem(send(client, url, body), "badSignatureAlgorithm", 400)


def test_unknown_alg_is_refused(client: AcmeClient) -> None:
    url = order_url(client)
    body = signed(client, url, alg="PS256")
    assert_problem(send(client, url, body), "badSignatureAlgorithm", 400)


def test_both_jwk_and_kid(client: AcmeClient) -> None:
    url = order_url(client)
    body = signed(client, url, jwk=jwk(client.key))
    assert_problem(send(client, url, body), "malformed", 400)


def test_neither_jwk_nor_kid(client: AcmeClient) -> None:
    url = order_url(client)
    body = jws(client.key, {"nonce": client.nonce(), "url": url}, b"{}")
    assert_problem(send(client, url, body), "malformed", 400)


def test_missing_nonce(client: AcmeClient) -> None:
    url = order_url(client)
    body = jws(client.key, {"url": url, "kid": client.kid}, b"{}")
    assert_problem(send(client, url, body), "badNonce", 400)


def test_reused_nonce(client: AcmeClient) -> None:
    url = client.kid
    assert url is not None
    body = signed(client, url, b"")
    assert send(client, url, body).status == 200
    assert_problem(send(client, url, body), "badNonce", 400)


def test_forged_nonce(client: AcmeClient) -> None:
    url = order_url(client)
    real = client.nonce()
    forged = real[:-2] + ("AA" if real[-2:] != "AA" else "BB")
    body = jws(client.key, {"nonce": forged, "url": url, "kid": client.kid}, b"{}")
    assert_problem(send(client, url, body), "badNonce", 400)
    random_nonce = b64(b"x" * 32)
    body = jws(client.key, {"nonce": random_nonce, "url": url, "kid": client.kid}, b"{}")
    assert_problem(send(client, url, body), "badNonce", 400)


def test_wrong_url(client: AcmeClient) -> None:
    url = order_url(client)
    body = signed(client, str(client.directory["revokeCert"]))
    assert_problem(send(client, url, body), "unauthorized", 403)


def test_bad_signature(client: AcmeClient) -> None:
    url = order_url(client)
    body = signed(client, url, b'{"identifiers": []}')
    other = signed(client, url, b'{"identifiers": [{"type": "dns", "value": "a.example.com"}]}')
    body["signature"] = other["signature"]
    assert_problem(send(client, url, body), "malformed", 400)


def test_signature_by_another_key(client: AcmeClient) -> None:
    url = order_url(client)
    intruder = ec.generate_private_key(ec.SECP256R1())
    body = jws(intruder, {"nonce": client.nonce(), "url": url, "kid": client.kid}, b"{}")
    assert_problem(send(client, url, body), "malformed", 400)


def test_der_ecdsa_signature_is_refused(client: AcmeClient) -> None:
    url = order_url(client)
    header = {"alg": "ES256", "nonce": client.nonce(), "url": url, "kid": client.kid}
    protected = b64(json.dumps(header).encode())
    payload = b64(b"{}")
    assert isinstance(client.key, ec.EllipticCurvePrivateKey)
    from cryptography.hazmat.primitives import hashes

    der = client.key.sign(f"{protected}.{payload}".encode(), ec.ECDSA(hashes.SHA256()))
    body = {"protected": protected, "payload": payload, "signature": b64(der)}
    assert_problem(send(client, url, body), "malformed", 400)


def test_oversize_payload(client: AcmeClient, served: Served) -> None:
    url = order_url(client)
    big = json.dumps({"pad": "x" * (served.app.max_body + 10)}).encode()
    body = signed(client, url, big)
    assert_problem(send(client, url, body), "malformed", 413)


def test_unknown_kid(client: AcmeClient) -> None:
    url = order_url(client)
    assert client.kid is not None
    body = signed(client, url, kid=client.kid.rsplit("/", 1)[0] + "/999999")
    assert_problem(send(client, url, body), "accountDoesNotExist", 400)


def test_deactivated_account(served: Served) -> None:
    client = served.client()
    client.register()
    assert client.kid is not None
    reply = client.post(client.kid, {"status": "deactivated"})
    assert reply.status == 200 and reply.json()["status"] == "deactivated"
    doc = assert_problem(client.post(order_url(client), {"identifiers": []}), "unauthorized", 403)
    assert "deactivated" in doc["detail"]


def test_wrong_content_type(client: AcmeClient) -> None:
    url = order_url(client)
    body = signed(client, url)
    assert_problem(send(client, url, body, ctype="application/json"), "malformed", 415)


def test_unprotected_header(client: AcmeClient) -> None:
    url = order_url(client)
    body: dict[str, Any] = signed(client, url)
    body["header"] = {"kid": client.kid}
    assert_problem(send(client, url, body), "malformed", 400)


def test_general_serialization(client: AcmeClient) -> None:
    url = order_url(client)
    flat = signed(client, url)
    body = {
        "payload": flat["payload"],
        "signatures": [{"protected": flat["protected"], "signature": flat["signature"]}],
    }
    assert_problem(send(client, url, body), "malformed", 400)


def test_jwk_where_kid_needed(client: AcmeClient) -> None:
    url = order_url(client)
    body = jws(client.key, {"nonce": client.nonce(), "url": url, "jwk": jwk(client.key)}, b"{}")
    assert_problem(send(client, url, body), "malformed", 400)


def test_small_rsa_account_key(served: Served) -> None:
    small = rsa.generate_private_key(65537, 1024)
    client = AcmeClient(served.directory, small)
    url = str(client.directory["newAccount"])
    body = jws(small, {"nonce": client.nonce(), "url": url, "jwk": jwk(small)}, b"{}")
    assert_problem(send(client, url, body), "badPublicKey", 400)


def test_not_json(client: AcmeClient) -> None:
    url = order_url(client)
    assert_problem(send(client, url, b"{not json"), "malformed", 400)


def test_get_on_post_only_resource(client: AcmeClient) -> None:
    assert_problem(http("GET", order_url(client)), "malformed", 405, nonce=False)


@pytest.mark.parametrize("alias", ["0{id}", "{arabic}", "²", "{id}\n"])
def test_account_url_aliases_are_malformed(client: AcmeClient, alias: str) -> None:
    """Only the URL the server wrote names the account: no leading zeros, no other
    scripts' digits (int() reads "\u0661" as 1), no superscripts (int() fails on "²")."""
    assert client.kid is not None
    root, account_id = client.kid.rsplit("/", 1)
    arabic = "".join(chr(0x0660 + int(d)) for d in account_id)
    kid = root + "/" + alias.format(id=account_id, arabic=arabic)
    url = order_url(client)
    assert_problem(send(client, url, signed(client, url, kid=kid)), "malformed", 400)
    # the same aliases as the resource's own URL (percent-encoded on the wire): no such
    # resource
    wire = root + "/" + urllib.parse.quote(kid.rsplit("/", 1)[1])
    reply = send(client, wire, signed(client, kid))
    assert reply.status == 404 and reply.json()["type"].endswith(":malformed"), reply.body


@pytest.mark.parametrize("where", ["body", "protected", "payload"])
def test_deeply_nested_json_is_malformed(client: AcmeClient, where: str) -> None:
    url = order_url(client)
    deep = b"[" * 10_000 + b"]" * 10_000  # within the size limit, past any parser stack
    if where == "body":
        body: Any = deep
    elif where == "protected":
        flat = signed(client, url)
        body = {**flat, "protected": b64(b'{"alg":"ES256","x":' + deep + b"}")}
    else:
        body = signed(client, url, b'{"identifiers":' + deep + b"}")
    assert_problem(send(client, url, body), "malformed", 400)
