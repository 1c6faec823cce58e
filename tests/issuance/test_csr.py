"""Malformed, unverifiable or weak CSRs are rejected with one line naming the problem."""

from __future__ import annotations

import base64
import ipaddress

import pytest
from cryptography import x509
from hypothesis import given, settings
from hypothesis import strategies as st

from certkeeper.errors import InputError
from certkeeper.issuance.csr import load_csr
from factories import csr_der, csr_pem, tampered_csr_der


def test_pem_der_and_base64_give_the_same_request() -> None:
    der = csr_der(["a.example.com", "B.Example.com."])
    pem = (
        b"-----BEGIN CERTIFICATE REQUEST-----\n"
        + base64.encodebytes(der)
        + b"-----END CERTIFICATE REQUEST-----\n"
    )
    for data in (der, pem, base64.b64encode(der)):
        parsed = load_csr(data)
        assert parsed.names == ("a.example.com", "b.example.com")
        assert parsed.key_type == "ecdsa-p256"


def test_common_name_is_a_requested_name_too() -> None:
    parsed = load_csr(csr_pem(["www.example.com"], common_name="example.com"))
    assert parsed.names == ("www.example.com", "example.com")


@pytest.mark.parametrize(
    ("data", "expected"),
    [
        (b"", "empty input"),
        (b"hello world", "neither PEM, DER nor base64"),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "is not a CERTIFICATE REQUEST",
        ),
        (
            b"-----BEGIN CERTIFICATE REQUEST-----\n!!!\n-----END CERTIFICATE REQUEST-----\n",
            "malformed CSR",
        ),
        (b"\x30\x03\x02\x01\x01", "malformed CSR"),
        (csr_der()[:-10], "malformed CSR"),
    ],
)
def test_malformed_input(data: bytes, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        load_csr(data, "req.csr")


def test_signature_must_verify() -> None:
    with pytest.raises(InputError, match="signature does not verify"):
        load_csr(tampered_csr_der())


@pytest.mark.parametrize(
    ("kind", "expected"),
    [
        ("rsa-1024", "RSA key of 1024 bits; at least 2048"),
        ("ecdsa-p521", "curve secp521r1 is not allowed"),
        ("ecdsa-k256", "curve secp256k1 is not allowed"),
        ("ed25519", "Ed25519PublicKey keys are not allowed"),
    ],
)
def test_weak_or_unsupported_keys(kind: str, expected: str) -> None:
    with pytest.raises(InputError, match=expected):
        load_csr(csr_pem(["a.example.com"], kind))


def test_other_subject_alt_names_are_refused() -> None:
    data = csr_pem(["a.example.com"], extra_sans=[x509.RFC822Name("a@example.com")])
    with pytest.raises(InputError, match="not a dNSName or an iPAddress"):
        load_csr(data)


def test_ip_addresses_are_read_in_canonical_text() -> None:
    """RFC 8738 identifiers: whether a profile takes them is issuance's question."""
    data = csr_pem(
        ["a.example.com"],
        extra_sans=[x509.IPAddress(ipaddress.ip_address("2001:db8:0:0:0:0:0:1"))],
    )
    assert load_csr(data).names == ("a.example.com", "2001:db8::1")


@settings(max_examples=200, deadline=None)
@given(st.binary(max_size=600))
def test_arbitrary_bytes_never_escape_as_anything_but_input_error(data: bytes) -> None:
    try:
        load_csr(data)
    except InputError as exc:
        assert str(exc)


def test_der_ending_in_whitespace_octets_is_not_stripped() -> None:
    """A DER CSR whose signature happens to end in 0x20 or 0x0a must still parse."""
    for _ in range(200):
        der = csr_der(["ws.example.com"])
        if der[-1] in b" \t\r\n\x0b\x0c":
            break
    else:
        pytest.skip("no DER CSR ending in a whitespace octet in 200 tries")
    assert load_csr(der).names == ("ws.example.com",)


MUTATION_BASE = csr_der(["mut.example.com"])


@settings(max_examples=300, deadline=None)
@given(st.data())
def test_mutated_csrs_are_rejected_cleanly_or_parsed(data: st.DataObject) -> None:
    der = bytearray(MUTATION_BASE)
    for _ in range(data.draw(st.integers(1, 4))):
        index = data.draw(st.integers(0, len(der) - 1))
        der[index] = data.draw(st.integers(0, 255))
    cut = data.draw(st.integers(len(der) // 2, len(der)))
    try:
        load_csr(bytes(der[:cut]))
    except InputError as exc:
        assert str(exc)
