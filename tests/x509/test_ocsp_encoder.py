"""The OCSP encoder and request parser against `cryptography`'s decoder, with real keys."""

from __future__ import annotations

import base64
import contextlib
from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper.ca import certs as cacerts
from certkeeper.signing.tbs import sign_certificate
from certkeeper.x509 import ocsp as enc
from certkeeper.x509.der import parse_single
from certkeeper.x509.signer import KEY_SPECS, KeySigner


@cache
def hierarchy(kind: str) -> tuple[bytes, bytes, KeySigner]:
    """(issuing CA DER, responder DER, responder signer) with keys of `kind`."""
    spec = KEY_SPECS[kind]
    now = datetime(2026, 1, 1, tzinfo=UTC)
    naming = cacerts.Naming("Test", "Test Org", "US")
    ca_key, resp_key = spec.generate(), spec.generate()
    ca_signer, resp_signer = KeySigner(ca_key, spec), KeySigner(resp_key, spec)
    ca_der, _ = sign_certificate(
        cacerts.root_builder(naming.subject("Test CA"), ca_key.public_key(), now), ca_signer
    )
    ca_cert = x509.load_der_x509_certificate(ca_der)
    resp_der, _ = sign_certificate(
        cacerts.responder_builder(naming.subject("Test OCSP"), resp_key.public_key(), ca_cert, now),
        ca_signer,
    )
    return ca_der, resp_der, resp_signer


def verify(resp: ocsp.OCSPResponse, responder_der: bytes) -> None:
    key = x509.load_der_x509_certificate(responder_der).public_key()
    if isinstance(key, ec.EllipticCurvePublicKey):
        key.verify(resp.signature, resp.tbs_response_bytes, ec.ECDSA(resp.signature_hash_algorithm))
    else:
        assert isinstance(key, rsa.RSAPublicKey)
        key.verify(
            resp.signature,
            resp.tbs_response_bytes,
            padding.PKCS1v15(),
            resp.signature_hash_algorithm,
        )


moments = st.datetimes(
    min_value=datetime(2000, 1, 1), max_value=datetime(2090, 1, 1), timezones=st.just(UTC)
)
reasons = st.sampled_from([None, 0, 1, 2, 3, 4, 5, 6, 8, 9, 10])


@settings(max_examples=150, deadline=None)
@given(
    kind=st.sampled_from(["ecdsa-p256", "rsa-2048"]),
    serial=st.integers(min_value=1, max_value=2**159 - 1),
    this_update=moments,
    validity=st.timedeltas(min_value=timedelta(seconds=1), max_value=timedelta(days=10)),
    revoked=st.one_of(st.none(), st.tuples(moments, reasons)),
    hash_algorithm=st.sampled_from(["sha1", "sha256"]),
)
def test_encoded_response_parses_identically_and_verifies(
    kind: str,
    serial: int,
    this_update: datetime,
    validity: timedelta,
    revoked: tuple[datetime, int | None] | None,
    hash_algorithm: str,
) -> None:
    ca_der, resp_der, signer = hierarchy(kind)
    template = enc.ResponseTemplate.create(
        ca_der, resp_der, signer.spec.algorithm_identifier(), hash_algorithm=hash_algorithm
    )
    next_update = this_update + validity
    revocation = None if revoked is None else enc.Revocation(*revoked)
    der = template.sign(
        signer, serial, this_update=this_update, next_update=next_update, revocation=revocation
    )
    parse_single(der)  # strict DER at the top level
    resp = ocsp.load_der_ocsp_response(der)
    assert resp.response_status is ocsp.OCSPResponseStatus.SUCCESSFUL
    assert resp.serial_number == serial
    assert resp.this_update_utc == this_update.replace(microsecond=0)
    assert resp.next_update_utc == next_update.replace(microsecond=0)
    assert resp.produced_at_utc == this_update.replace(microsecond=0)
    assert resp.hash_algorithm.name == hash_algorithm
    name_hash, key_hash = enc.issuer_hashes(ca_der, hash_algorithm)
    assert (resp.issuer_name_hash, resp.issuer_key_hash) == (name_hash, key_hash)
    assert resp.responder_name is None
    expected_key_hash = x509.SubjectKeyIdentifier.from_public_key(
        x509.load_der_x509_certificate(resp_der).public_key()  # type: ignore[arg-type]
    ).digest
    assert resp.responder_key_hash == expected_key_hash
    assert [c.public_bytes(serialization.Encoding.DER) for c in resp.certificates] == [resp_der]
    if revocation is None:
        assert resp.certificate_status is ocsp.OCSPCertStatus.GOOD
    else:
        assert resp.certificate_status is ocsp.OCSPCertStatus.REVOKED
        assert resp.revocation_time_utc == revocation.time.replace(microsecond=0)
        if revocation.reason:
            assert resp.revocation_reason is not None
            assert x509.ReasonFlags(resp.revocation_reason) is not None
            assert _reason_code(resp.revocation_reason) == revocation.reason
        else:
            assert resp.revocation_reason is None  # unspecified is omitted
    times = _times(der)
    # producedAt, thisUpdate, nextUpdate, and revocationTime when revoked
    assert len(times) == (3 if revocation is None else 4)
    assert all(len(t) == 15 and t.endswith(b"Z") and b"." not in t for t in times)
    verify(resp, resp_der)


_CODES = {
    x509.ReasonFlags.unspecified: 0,
    x509.ReasonFlags.key_compromise: 1,
    x509.ReasonFlags.ca_compromise: 2,
    x509.ReasonFlags.affiliation_changed: 3,
    x509.ReasonFlags.superseded: 4,
    x509.ReasonFlags.cessation_of_operation: 5,
    x509.ReasonFlags.certificate_hold: 6,
    x509.ReasonFlags.remove_from_crl: 8,
    x509.ReasonFlags.privilege_withdrawn: 9,
    x509.ReasonFlags.aa_compromise: 10,
}


def _reason_code(flag: x509.ReasonFlags) -> int:
    return _CODES[flag]


def _times(der: bytes) -> list[bytes]:
    """Contents of every GeneralizedTime in the response, found by walking its structure
    (the BasicOCSPResponse inside responseBytes included), not by searching the bytes:
    a hash or signature may contain anything."""
    from certkeeper.x509 import der as d

    found: list[bytes] = []

    def walk(tlv: d.Tlv) -> None:
        if tlv.tag == d.GENERALIZED_TIME:
            found.append(tlv.content)
        elif tlv.constructed:
            for child in tlv.children():
                walk(child)
        elif tlv.tag == d.OCTET_STRING and tlv.content[:1] == b"\x30":
            try:
                inner = d.parse_single(tlv.content)
            except d.DerError:
                return  # a hash that merely starts with 0x30
            walk(inner)

    walk(d.parse_single(der))
    return found


def test_unsuccessful_responses_are_fixed_and_parse() -> None:
    for status, der in [
        (ocsp.OCSPResponseStatus.MALFORMED_REQUEST, enc.MALFORMED_REQUEST),
        (ocsp.OCSPResponseStatus.INTERNAL_ERROR, enc.INTERNAL_ERROR),
        (ocsp.OCSPResponseStatus.TRY_LATER, enc.TRY_LATER),
        (ocsp.OCSPResponseStatus.SIG_REQUIRED, enc.SIG_REQUIRED),
        (ocsp.OCSPResponseStatus.UNAUTHORIZED, enc.UNAUTHORIZED),
    ]:
        assert ocsp.load_der_ocsp_response(der).response_status is status
        assert der == bytes([0x30, 0x03, 0x0A, 0x01, status.value])
        assert enc.response_status(der) == status.value
    with pytest.raises(ValueError):
        enc.unsuccessful_response(enc.ResponseStatus.SUCCESSFUL)


def test_invalid_reason_and_order_are_refused() -> None:
    with pytest.raises(ValueError):
        enc.Revocation(datetime(2026, 1, 1, tzinfo=UTC), 7)
    ca_der, resp_der, signer = hierarchy("ecdsa-p256")
    template = enc.ResponseTemplate.create(ca_der, resp_der, signer.spec.algorithm_identifier())
    now = datetime(2026, 1, 1, tzinfo=UTC)
    with pytest.raises(ValueError):
        template.sign(signer, 5, this_update=now, next_update=now)


# -- requests ------------------------------------------------------------------------


def _crypto_request(serial: int, algorithm: hashes.HashAlgorithm, nonce: bool) -> bytes:
    ca_der, _, _ = hierarchy("ecdsa-p256")
    ca = x509.load_der_x509_certificate(ca_der)
    builder = ocsp.OCSPRequestBuilder().add_certificate_by_hash(
        *(enc.issuer_hashes(ca_der, algorithm.name)), serial, algorithm
    )
    if nonce:
        builder = builder.add_extension(x509.OCSPNonce(b"0123456789abcdef"), critical=False)
    assert ca is not None
    return builder.build().public_bytes(serialization.Encoding.DER)


@settings(max_examples=100, deadline=None)
@given(
    serial=st.integers(min_value=0, max_value=2**160),
    algorithm=st.sampled_from([hashes.SHA1(), hashes.SHA256()]),
    nonce=st.booleans(),
)
def test_requests_built_by_cryptography_parse(
    serial: int, algorithm: hashes.HashAlgorithm, nonce: bool
) -> None:
    der = _crypto_request(serial, algorithm, nonce)
    request = enc.parse_request(der)
    ca_der, _, _ = hierarchy("ecdsa-p256")
    assert request.cert_ids == (enc.cert_id_for(ca_der, serial, algorithm.name),)
    assert (request.nonce is not None) == nonce
    assert not request.signed
    # ...and every GET encoding of it decodes back to the same bytes.
    std = base64.b64encode(der).decode()
    for path in (
        std,
        enc.encode_get_path(der),
        base64.urlsafe_b64encode(der).decode().rstrip("="),
        std.replace("+", " "),
        "/" + std,
    ):
        assert enc.decode_get_path(path) == der


def test_own_request_encoder_round_trips() -> None:
    ca_der, _, _ = hierarchy("ecdsa-p256")
    ids = [enc.cert_id_for(ca_der, 77), enc.cert_id_for(ca_der, 78, "sha256")]
    der = enc.encode_request(ids, nonce=b"n" * 16)
    parsed = enc.parse_request(der)
    assert parsed.cert_ids == tuple(ids) and parsed.nonce is not None
    loaded = ocsp.load_der_ocsp_request(enc.encode_request(ids[:1]))
    assert loaded.serial_number == 77


@pytest.mark.parametrize(
    "data",
    [
        b"",
        b"\x30\x00",
        b"\x30\x02\x30\x00",
        b"\x30\x80\x00\x00",
        b"\x04\x03abc",
        b"\x30\x04\x30\x02\x30\x00",  # empty requestList
        b"\x30\x03\x30\x01",  # truncated
        b"\xff" * 10,
    ],
)
def test_malformed_requests_raise_request_error(data: bytes) -> None:
    with pytest.raises(enc.OcspRequestError) as err:
        enc.parse_request(data)
    assert err.value.status is enc.ResponseStatus.MALFORMED_REQUEST


def test_size_limits() -> None:
    der = _crypto_request(5, hashes.SHA1(), False)
    with pytest.raises(enc.OcspRequestError):
        enc.parse_request(der + b"\x00")  # trailing octets
    with pytest.raises(enc.OcspRequestError):
        enc.parse_request(b"\x30\x82" + (3000).to_bytes(2, "big") + b"\x00" * 3000)
    with pytest.raises(enc.OcspRequestError):
        enc.decode_get_path("A" * (enc.MAX_GET_PATH_CHARS + 1))
    with pytest.raises(enc.OcspRequestError):
        enc.decode_get_path("not*base64!")


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=600))
def test_parser_never_fails_other_than_with_request_error(data: bytes) -> None:
    with contextlib.suppress(enc.OcspRequestError):
        enc.parse_request(data)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_get_decoder_never_fails_other_than_with_request_error(text: str) -> None:
    with contextlib.suppress(enc.OcspRequestError):
        enc.decode_get_path(text)
