"""The pure JWS, certID and contact parsers, with hypothesis: they accept exactly what they
should and refuse everything else with an AcmeProblem, never another exception."""

from __future__ import annotations

import contextlib
import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, rsa
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.acme import jws
from certkeeper.acme.accounts import check_contacts
from certkeeper.acme.ari import CertId, normal_window, parse_cert_id, serial_octets
from certkeeper.acme.problems import AcmeProblem

from .client import b64
from .client import jwk as client_jwk
from .client import jws as client_jws
from .client import thumbprint as client_thumbprint

EC_KEY = ec.generate_private_key(ec.SECP256R1())
P384_KEY = ec.generate_private_key(ec.SECP384R1())
RSA_KEY = rsa.generate_private_key(65537, 2048)
ED_KEY = ed25519.Ed25519PrivateKey.generate()
URL = "http://ca.test/acme/new-order"


def protected(**extra: Any) -> dict[str, Any]:
    return {"nonce": "n", "url": URL, "kid": "http://ca.test/acme/acct/1", **extra}


json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=8), children, max_size=4)
    ),
    max_leaves=12,
)


@given(st.binary(max_size=300))
def test_any_bytes_parse_or_refuse(body: bytes) -> None:
    try:
        jws.parse(body)
    except AcmeProblem as problem:
        assert problem.type in ("malformed", "badSignatureAlgorithm", "badNonce")


@given(json_values)
def test_any_json_parses_or_refuses(doc: Any) -> None:
    with contextlib.suppress(AcmeProblem):
        jws.parse(json.dumps(doc).encode())


@given(st.dictionaries(st.text(max_size=8), json_values, max_size=6), st.binary(max_size=64))
def test_any_protected_header_parses_or_refuses(header: dict[str, Any], payload: bytes) -> None:
    body = {
        "protected": b64(json.dumps(header).encode()),
        "payload": b64(payload),
        "signature": b64(b"\x00" * 64),
    }
    try:
        parsed = jws.parse(json.dumps(body).encode())
    except AcmeProblem:
        return
    assert parsed.alg in jws.ALGORITHMS
    assert (parsed.jwk is None) != (parsed.kid is None)


@pytest.mark.parametrize(
    "key", [EC_KEY, P384_KEY, RSA_KEY, ED_KEY], ids=["es256", "es384", "rs256", "eddsa"]
)
@given(payload=st.binary(max_size=200))
def test_signed_by_the_client_verifies_and_any_flip_fails(key: Any, payload: bytes) -> None:
    body = client_jws(key, protected(), payload)
    parsed = jws.parse(json.dumps(body).encode())
    assert parsed.payload == payload
    public = jws.key_from_jwk(client_jwk(key))
    jws.verify(parsed, public)
    sig = bytearray(parsed.signature)
    sig[len(sig) // 2] ^= 0x01
    tampered = dict(body, signature=b64(bytes(sig)))
    with pytest.raises(AcmeProblem):
        jws.verify(jws.parse(json.dumps(tampered).encode()), public)


def test_alg_must_fit_the_key() -> None:
    body = client_jws(EC_KEY, protected(), b"{}", alg="ES384")
    with pytest.raises(AcmeProblem, match="P-384"):
        jws.verify(jws.parse(json.dumps(body).encode()), jws.key_from_jwk(client_jwk(EC_KEY)))


@pytest.mark.parametrize("key", [EC_KEY, P384_KEY, RSA_KEY, ED_KEY])
def test_thumbprint_matches_an_independent_rfc7638_implementation(key: Any) -> None:
    public = jws.key_from_jwk(client_jwk(key))
    assert jws.thumbprint(public) == client_thumbprint(key)
    assert jws.key_from_jwk(jws.jwk_of(public)) == public


def test_jwk_with_private_members_is_refused() -> None:
    members = dict(client_jwk(EC_KEY), d="AAAA")
    with pytest.raises(AcmeProblem) as info:
        jws.key_from_jwk(members)
    assert info.value.type == "badPublicKey"


@given(st.binary(max_size=80))
def test_b64url_round_trip(data: bytes) -> None:
    assert jws.b64url_decode(jws.b64url(data), "x") == data


@pytest.mark.parametrize("text", ["AA==", "A", "a+b/", "AB", "YQ=", " YQ"])
def test_b64url_refuses_padding_other_alphabets_and_non_canonical(text: str) -> None:
    with pytest.raises(AcmeProblem):
        jws.b64url_decode(text, "x")


@given(st.binary(min_size=1, max_size=32), st.integers(min_value=1, max_value=2**159))
def test_cert_id_round_trip(key_id: bytes, serial: int) -> None:
    cert_id = CertId(key_id, serial)
    assert parse_cert_id(cert_id.text()) == cert_id
    octets = serial_octets(serial)
    assert not octets[0] & 0x80  # positive DER INTEGER
    assert len(octets) == 1 or octets[0] != 0 or octets[1] & 0x80  # minimal


@pytest.mark.parametrize(
    "text", ["", "abc", "a.b.c", ".AQ", "AQ.", "AQ.gA", "AQ.AAE", "AQ.AA", "AQ==.AQ"]
)
def test_cert_id_refusals(text: str) -> None:
    with pytest.raises(AcmeProblem) as info:
        parse_cert_id(text)
    assert info.value.type == "malformed"


@given(st.integers(min_value=1, max_value=400))
def test_normal_window_is_centred_at_two_thirds(days: int) -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    window = normal_window(start, start + timedelta(days=days))
    validity = timedelta(days=days)
    centre = start + validity * 2 / 3
    assert abs((window.start + (window.end - window.start) / 2) - centre) <= timedelta(seconds=1)
    assert abs((window.end - window.start) - validity / 15) <= timedelta(seconds=1)


def test_ninety_day_window() -> None:
    start = datetime(2026, 1, 1, tzinfo=UTC)
    window = normal_window(start, start + timedelta(days=90))
    assert window.start == start + timedelta(days=57)
    assert window.end == start + timedelta(days=63)


def test_contacts() -> None:
    assert check_contacts(["mailto:A@Example.COM"]) == ["mailto:A@example.com"]
    for bad, kind in (
        (["tel:+1555"], "unsupportedContact"),
        (["mailto:"], "invalidContact"),
        (["mailto:a@b"], "invalidContact"),
        (["mailto:a@example.com,b@example.com"], "invalidContact"),
        (["mailto:a@example.com?subject=x"], "invalidContact"),
        (
            ["mailto:x@example.com"] * 1 + [f"mailto:{i}@example.com" for i in range(10)],
            "invalidContact",
        ),
        ("mailto:a@example.com", "malformed"),
    ):
        with pytest.raises(AcmeProblem) as info:
            check_contacts(bad)
        assert info.value.type == kind, bad


@given(st.lists(st.text(max_size=30), max_size=3))
def test_contacts_never_crash(value: list[str]) -> None:
    with contextlib.suppress(AcmeProblem):
        check_contacts(value)
