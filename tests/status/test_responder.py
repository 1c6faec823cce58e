"""The OCSP responder and status front end: real `openssl ocsp` against the running
server, HTTP semantics, caching headers, and a fuzzed request surface (in process)."""

from __future__ import annotations

import asyncio
import base64
import hashlib
import http.client
import os
import subprocess
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import parsedate_to_datetime
from pathlib import Path
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509 import ocsp
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from ocsp_testing import issue_with_status, shared_ocsp_home
from sqlalchemy import delete, insert

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.lint.engine import Severity
from certkeeper.lint.pkilint_adapter import PkilintLinter
from certkeeper.status import ocsp as status
from certkeeper.status.http import StatusApp
from certkeeper.status.responder import MAX_AGE_CAP, OcspResponder
from certkeeper.store.database import write_transaction
from certkeeper.store.tables import ocsp_responses, revocations
from certkeeper.x509 import ocsp as enc
from factories import PASSPHRASE
from served_process import serve

NEVER_ASSIGNED = 0x1234567890ABCDEF1234567890ABCDEF


@dataclass
class World:
    home: Path
    good: str  # ECDSA issuer
    good_rsa: str  # RSA issuer
    revoked: str
    issuer_pem: dict[str, Path]  # issuer name -> PEM
    chain: Path  # root + issuing CAs
    issuer_der: dict[str, bytes]
    serial_issuer: dict[str, str]
    url: str = ""


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory) -> Iterator[World]:
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    home = shared_ocsp_home()
    ca = CaHome.open(home)
    try:
        good = issue_with_status(ca, ["good.responder.example.com"])
        good_rsa = issue_with_status(ca, ["rsa.responder.example.com"], "tls-dv-rsa", "rsa-2048")
        revoked = issue_with_status(ca, ["revoked.responder.example.com"])
        cert = ca.inventory.certificate(serial=revoked.issued.serial)
        now = datetime.now(UTC).replace(microsecond=0)
        with write_transaction(ca.inventory.engine) as conn:
            conn.execute(
                insert(revocations).values(
                    serial=cert.serial,
                    issuer_id=cert.issuer_id,
                    crl_shard=cert.crl_shard,
                    revoked_at=now - timedelta(minutes=1),
                    reason=1,
                    not_after=cert.not_after,
                    recorded_at=now,
                )
            )
            wiring.build(ca).ocsp.resign_on_revocation(cert.serial, conn)
        issuer_der = {
            rec.name: rec.cert_der for rec in ca.inventory.issuers() if rec.role != "responder"
        }
    finally:
        ca.close()
    tmp = tmp_path_factory.mktemp("responder")
    pems = {}
    for name, der in issuer_der.items():
        pems[name] = tmp / f"{name}.pem"
        pems[name].write_bytes(
            x509.load_der_x509_certificate(der).public_bytes(serialization.Encoding.PEM)
        )
    chain = tmp / "chain.pem"
    chain.write_bytes(b"".join(p.read_bytes() for p in pems.values()))
    yield World(
        home=home,
        good=good.issued.serial,
        good_rsa=good_rsa.issued.serial,
        revoked=revoked.issued.serial,
        issuer_pem=pems,
        chain=chain,
        issuer_der=issuer_der,
        serial_issuer={
            good.issued.serial: good.issuer_name,
            good_rsa.issued.serial: good_rsa.issuer_name,
            revoked.issued.serial: revoked.issuer_name,
        },
    )


@pytest.fixture(scope="module")
def server(world: World) -> Iterator[World]:
    """`certkeeper serve` (granian, 2 workers) in a subprocess on a free loopback port."""
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": ""}  # the responder needs no key
    with serve(world.home, env=env, health="/health", timeout=30) as port:
        world.url = f"http://127.0.0.1:{port}"
        yield world


def openssl_ocsp(world: World, serial: int, issuer: str, *extra: str) -> str:
    result = subprocess.run(
        [
            "openssl",
            "ocsp",
            *extra,
            "-issuer",
            str(world.issuer_pem[issuer]),
            "-serial",
            hex(serial),
            "-url",
            world.url + "/ocsp",
            "-CAfile",
            str(world.chain),
            "-resp_text",
        ],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    return result.stdout + result.stderr


def test_openssl_good_rsa_and_revoked(server: World) -> None:
    out = openssl_ocsp(server, int(server.good, 16), "tls-ecdsa-1")
    assert "Response verify OK" in out and f"{hex(int(server.good, 16))}: good" in out, out
    assert "This Update" in out and "Next Update" in out
    out = openssl_ocsp(
        server, int(server.good_rsa, 16), "tls-rsa-1", "-header", "Host=ocsp.example.com"
    )
    assert "Response verify OK" in out and ": good" in out, out
    out = openssl_ocsp(server, int(server.revoked, 16), "tls-ecdsa-1")
    assert "Response verify OK" in out and ": revoked" in out, out
    assert "Reason: keyCompromise" in out and "Revocation Time" in out, out


def test_openssl_never_assigned_serial_is_not_good(server: World) -> None:
    out = openssl_ocsp(server, NEVER_ASSIGNED, "tls-ecdsa-1")
    assert "unauthorized (6)" in out, out
    assert ": good" not in out and ": unknown" not in out
    # the serial of a real ECDSA certificate asked of the RSA issuer: not ours either
    out = openssl_ocsp(server, int(server.good, 16), "tls-rsa-1")
    assert "unauthorized (6)" in out, out


def test_openssl_with_nonce_and_sha256_certid(server: World) -> None:
    out = openssl_ocsp(server, int(server.good, 16), "tls-ecdsa-1", "-nonce")
    # RFC 5019: the nonce is ignored; openssl warns that none came back but accepts it
    assert ": good" in out and "Response verify OK" in out, out
    out = openssl_ocsp(server, int(server.good, 16), "tls-ecdsa-1", "-sha256")
    assert "unauthorized (6)" in out, out


def _get(
    world: World,
    path: str,
    method: str = "GET",
    body: bytes | None = None,
    headers: dict[str, str] | None = None,
) -> tuple[int, dict[str, str], bytes]:
    conn = http.client.HTTPConnection(world.url.removeprefix("http://"), timeout=10)
    conn.request(method, path, body=body, headers=headers or {})
    resp = conn.getresponse()
    return resp.status, {k.lower(): v for k, v in resp.getheaders()}, resp.read()


def _request_der(world: World, serial: int, issuer: str = "tls-ecdsa-1") -> bytes:
    return enc.encode_request([enc.cert_id_for(world.issuer_der[issuer], serial)])


def test_get_encodings_and_caching_headers(server: World) -> None:
    der = _request_der(server, int(server.good, 16))
    std = base64.b64encode(der).decode()
    paths = [
        "/ocsp/" + enc.encode_get_path(der),
        "/ocsp/" + std,  # raw standard base64 with "/" and "+"
        "/ocsp/" + base64.urlsafe_b64encode(der).decode().rstrip("="),
    ]
    bodies = set()
    for path in paths:
        code, headers, body = _get(server, path)
        assert code == 200 and headers["content-type"] == "application/ocsp-response"
        resp = ocsp.load_der_ocsp_response(body)
        assert resp.certificate_status is ocsp.OCSPCertStatus.GOOD
        now = datetime.now(UTC)
        cc = dict(
            ([*p.split("="), ""])[:2]
            for p in (x.strip() for x in headers["cache-control"].split(","))
        )
        assert {"public", "no-transform", "must-revalidate"} <= cc.keys()
        max_age = int(cc["max-age"])
        assert (
            0
            < max_age
            <= min((resp.next_update_utc - now).total_seconds(), MAX_AGE_CAP.total_seconds())
        )
        assert headers["etag"] == '"' + hashlib.sha256(body).hexdigest() + '"'
        assert parsedate_to_datetime(headers["last-modified"]) == resp.this_update_utc
        assert parsedate_to_datetime(headers["expires"]) == resp.next_update_utc
        bodies.add(body)
        code, headers304, _ = _get(server, path, headers={"If-None-Match": headers["etag"]})
        assert code == 304 and headers304["etag"] == headers["etag"]
    assert len(bodies) == 1
    code, headers, body = _get(server, paths[0], method="HEAD")
    assert code == 200 and body == b"" and headers["content-type"] == "application/ocsp-response"


def test_post_and_http_errors(server: World) -> None:
    der = _request_der(server, int(server.revoked, 16))
    code, _headers, body = _get(
        server, "/ocsp", "POST", der, {"Content-Type": "application/ocsp-request"}
    )
    assert code == 200
    assert ocsp.load_der_ocsp_response(body).certificate_status is ocsp.OCSPCertStatus.REVOKED
    assert _get(server, "/ocsp", "POST", der, {"Content-Type": "text/plain"})[0] == 415
    assert (
        _get(server, "/ocsp", "POST", b"0" * 5000, {"Content-Type": "application/ocsp-request"})[0]
        == 413
    )
    assert _get(server, "/ocsp/" + "A" * 5000)[0] == 414
    assert _get(server, "/ocsp/abc", "PUT", b"x")[0] == 405
    assert _get(server, "/ocsp/abc", "DELETE")[0] == 405
    assert _get(server, "/nothing-here")[0] == 404
    code, _, body = _get(server, "/ocsp/not-base64!!")
    assert code == 200 and body == enc.MALFORMED_REQUEST
    code, _, body = _get(server, "/ocsp/" + base64.b64encode(b"\x30\x00").decode())
    assert code == 200 and body == enc.MALFORMED_REQUEST
    two = enc.encode_request([enc.cert_id_for(server.issuer_der["tls-ecdsa-1"], s) for s in (5, 6)])
    code, _, body = _get(server, "/ocsp", "POST", two, {"Content-Type": "application/ocsp-request"})
    assert body == enc.MALFORMED_REQUEST


def test_served_responses_pass_both_linters(server: World) -> None:
    pk = PkilintLinter()
    for serial in (server.good, server.good_rsa, server.revoked):
        issuer = server.serial_issuer[serial]
        der = _request_der(server, int(serial, 16), issuer)
        body = _get(server, "/ocsp/" + enc.encode_get_path(der))[2]
        issuer_cert = x509.load_der_x509_certificate(server.issuer_der[issuer])
        errors = [
            f
            for f in status.lint_response(body, issuer_cert) + pk.lint_ocsp_response(body)
            if f.severity >= Severity.ERROR
        ]
        assert errors == [], errors


def test_issuer_certificates_and_crl_files(server: World) -> None:
    code, headers, body = _get(server, "/issuers/tls-ecdsa-1.der")
    assert code == 200 and headers["content-type"] == "application/pkix-cert"
    assert body == server.issuer_der["tls-ecdsa-1"]
    assert _get(server, "/issuers/ocsp-ecdsa-1.der")[0] == 404  # responders are not CAs
    assert _get(server, "/crl/../certkeeper.toml")[0] == 404
    # a CRL as the publisher writes it: <home>/crl/<issuer>/<shard>.crl
    key = ec.generate_private_key(ec.SECP256R1())
    now = datetime.now(UTC).replace(microsecond=0)
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(x509.Name([]))
        .last_update(now)
        .next_update(now + timedelta(days=7))
        .sign(key, hashes.SHA256())
        .public_bytes(serialization.Encoding.DER)
    )
    target = server.home / "crl" / "tls-ecdsa-1" / "3.crl"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_bytes(crl)
    code, headers, body = _get(server, "/crl/tls-ecdsa-1/3.crl")
    assert code == 200 and body == crl and headers["content-type"] == "application/pkix-crl"
    assert parsedate_to_datetime(headers["last-modified"]) == now
    assert parsedate_to_datetime(headers["expires"]) == now + timedelta(days=7)
    assert headers["etag"] == '"' + hashlib.sha256(crl).hexdigest() + '"'
    assert _get(server, "/crl/tls-ecdsa-1/4.crl")[0] == 404


# -- in process: invariants and fuzzing ---------------------------------------------------


def call(
    app: Any,
    method: str,
    path: str,
    body: bytes = b"",
    headers: list[tuple[bytes, bytes]] | None = None,
) -> tuple[int, bytes]:
    sent: list[dict[str, Any]] = []

    async def receive() -> dict[str, Any]:
        return {"type": "http.request", "body": body, "more_body": False}

    async def send(message: dict[str, Any]) -> None:
        sent.append(message)

    scope = {
        "type": "http",
        "method": method,
        "path": path,
        "raw_path": path.encode(),
        "headers": headers or [],
        "query_string": b"",
    }
    asyncio.run(app(scope, receive, send))
    return sent[0]["status"], b"".join(m.get("body", b"") for m in sent[1:])


@pytest.fixture(scope="module")
def app(world: World) -> Iterator[StatusApp]:
    ca = CaHome.open(world.home)
    yield StatusApp(
        ca.inventory,
        world.home / "crl",
        ocsp=OcspResponder(ca.stores.ocsp, cache_ttl=0, negative_ttl=0),
    )
    ca.close()


def test_precertificate_without_response_is_try_later_never_unknown(
    world: World, app: StatusApp
) -> None:
    ca = CaHome.open(world.home)
    try:
        lost = issue_with_status(ca, ["lost.responder.example.com"]).issued.serial
        with write_transaction(ca.inventory.engine) as conn:
            conn.execute(delete(ocsp_responses).where(ocsp_responses.c.serial == lost))
    finally:
        ca.close()
    der = _request_der(world, int(lost, 16))
    assert call(app, "GET", "/ocsp/" + enc.encode_get_path(der)) == (200, enc.TRY_LATER)


_STATUSES = {200, 304, 404, 405, 413, 414, 415}


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    method=st.sampled_from(["GET", "POST", "HEAD", "PUT", "OPTIONS", "PATCH"]),
    path=st.one_of(
        st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=255), max_size=200).map(
            lambda t: "/ocsp/" + t
        ),
        st.binary(max_size=300).map(lambda b: "/ocsp/" + base64.b64encode(b).decode()),
        st.text(max_size=50).map(lambda t: "/" + t),
    ),
    body=st.binary(max_size=3000),
    ctype=st.sampled_from([b"application/ocsp-request", b"application/octet-stream", b""]),
)
def test_fuzzed_requests_never_500(
    app: StatusApp, method: str, path: str, body: bytes, ctype: bytes
) -> None:
    code, out = call(app, method, path, body, [(b"content-type", ctype)])
    assert code in _STATUSES
    if code == 200 and path.startswith("/ocsp") and method != "HEAD":
        assert ocsp.load_der_ocsp_response(out).response_status in {
            ocsp.OCSPResponseStatus.MALFORMED_REQUEST,
            ocsp.OCSPResponseStatus.UNAUTHORIZED,
        }


@settings(
    max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(serial=st.integers(min_value=1, max_value=2**159))
def test_random_serials_of_our_issuer_are_never_good(
    world: World, app: StatusApp, serial: int
) -> None:
    der = _request_der(world, serial)
    code, out = call(app, "POST", "/ocsp", der, [(b"content-type", b"application/ocsp-request")])
    assert code == 200
    if serial not in {int(s, 16) for s in world.serial_issuer}:
        assert out == enc.UNAUTHORIZED
