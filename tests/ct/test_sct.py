"""SCT and SCT list encoding (RFC 6962 3.2, 3.3) and SCT signature verification."""

from __future__ import annotations

import contextlib

import pytest
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.ct.sct import (
    HASH_SHA256,
    SIG_ECDSA,
    SIG_RSA,
    Sct,
    SctError,
    SignedEntry,
    decode_sct,
    decode_sct_list,
    encode_sct_list,
    log_id_of,
    signed_data,
    verify_sct,
)
from certkeeper.ct.tls import TlsDecodeError

scts = st.builds(
    Sct,
    log_id=st.binary(min_size=32, max_size=32),
    timestamp=st.integers(min_value=0, max_value=2**64 - 1),
    extensions=st.binary(max_size=40),
    hash_algorithm=st.integers(0, 255),
    signature_algorithm=st.integers(0, 255),
    signature=st.binary(max_size=300),
)


@given(scts)
def test_sct_round_trips(sct: Sct) -> None:
    assert decode_sct(sct.encode()) == sct


@given(st.lists(scts, min_size=1, max_size=6))
def test_sct_list_round_trips(items: list[Sct]) -> None:
    assert decode_sct_list(encode_sct_list(items)) == items


@given(scts, st.data())
def test_a_truncated_or_padded_sct_is_refused(sct: Sct, data: st.DataObject) -> None:
    raw = sct.encode()
    cut = data.draw(st.integers(min_value=0, max_value=len(raw) - 1))
    with pytest.raises(TlsDecodeError):
        decode_sct(raw[:cut])
    with pytest.raises(TlsDecodeError):
        decode_sct(raw + b"\x00")


@given(st.binary(max_size=200))
def test_arbitrary_bytes_decode_or_raise_tls_decode_error(raw: bytes) -> None:
    with contextlib.suppress(TlsDecodeError):
        decode_sct_list(raw)


def test_sct_list_layout_is_two_length_prefixes() -> None:
    sct = Sct(b"\x11" * 32, 5, b"", HASH_SHA256, SIG_ECDSA, b"\xaa\xbb")
    one = sct.encode()
    assert len(one) == 1 + 32 + 8 + 2 + 2 + 2 + 2
    assert (
        encode_sct_list([sct])
        == (len(one) + 2).to_bytes(2, "big") + len(one).to_bytes(2, "big") + one
    )
    with pytest.raises(TlsDecodeError):
        decode_sct_list(b"\x00\x00")  # an empty list is not allowed (<1..2^16-1>)
    with pytest.raises(ValueError):
        encode_sct_list([])


def _spki(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey) -> bytes:
    return key.public_key().public_bytes(Encoding.DER, PublicFormat.SubjectPublicKeyInfo)


ENTRY = SignedEntry.precert(b"\x01" * 32, b"\x30\x03\x02\x01\x05")


def _signed(key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey, entry: SignedEntry) -> Sct:
    data = signed_data(1_700_000_000_000, entry, b"")
    if isinstance(key, ec.EllipticCurvePrivateKey):
        return Sct(
            log_id_of(_spki(key)),
            1_700_000_000_000,
            b"",
            HASH_SHA256,
            SIG_ECDSA,
            key.sign(data, ec.ECDSA(hashes.SHA256())),
        )
    signature = key.sign(data, padding.PKCS1v15(), hashes.SHA256())
    return Sct(log_id_of(_spki(key)), 1_700_000_000_000, b"", HASH_SHA256, SIG_RSA, signature)


@pytest.mark.parametrize(
    "key",
    [ec.generate_private_key(ec.SECP256R1()), rsa.generate_private_key(65537, 2048)],
    ids=["ecdsa", "rsa"],
)
def test_an_sct_verifies_only_for_its_log_and_its_entry(
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey,
) -> None:
    sct = _signed(key, ENTRY)
    verify_sct(sct, _spki(key), ENTRY)
    other = SignedEntry.precert(b"\x02" * 32, b"\x30\x03\x02\x01\x05")
    with pytest.raises(SctError, match="does not verify"):
        verify_sct(sct, _spki(key), other)
    stranger = _spki(ec.generate_private_key(ec.SECP256R1()))
    with pytest.raises(SctError, match="not this log"):
        verify_sct(sct, stranger, ENTRY)
    later = Sct(
        sct.log_id,
        sct.timestamp + 1,
        b"",
        sct.hash_algorithm,
        sct.signature_algorithm,
        sct.signature,
    )
    with pytest.raises(SctError):
        verify_sct(later, _spki(key), ENTRY)


def test_an_sct_claiming_another_algorithm_is_refused() -> None:
    key = ec.generate_private_key(ec.SECP256R1())
    sct = _signed(key, ENTRY)
    wrong = Sct(sct.log_id, sct.timestamp, b"", HASH_SHA256, SIG_RSA, sct.signature)
    with pytest.raises(SctError, match="does not match"):
        verify_sct(wrong, _spki(key), ENTRY)
