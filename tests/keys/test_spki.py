"""Block lists: PEM certificates, CSRs, public and private keys, and SPKI SHA-256 lines."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime, timedelta

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from hypothesis import given
from hypothesis import strategies as st

from certkeeper.errors import InputError
from certkeeper.keys.spki import parse_block_list, spki_sha256
from factories import csr


def spki_hash(public_key: object) -> str:
    der = public_key.public_bytes(  # type: ignore[attr-defined]
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()


def test_every_kind_of_entry_names_its_key() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    request = csr(["a.example.com"], "rsa-2048")
    listed = b"".join(
        [
            b"# keys from the disclosure of 2026-12-01\n",
            request.public_bytes(serialization.Encoding.PEM),
            private.public_key().public_bytes(
                serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
            ),
            private.private_bytes(
                serialization.Encoding.PEM,
                serialization.PrivateFormat.PKCS8,
                serialization.NoEncryption(),
            ),
            ("AB" * 32 + "  # from a published list\n").encode(),
        ]
    )
    entries = parse_block_list(listed, "list.txt")
    assert [e.spki_sha256 for e in entries] == [
        spki_hash(request.public_key()),
        spki_hash(private.public_key()),
        spki_hash(private.public_key()),
        "ab" * 32,
    ]
    assert entries[0].what == "certificate request at line 2"
    assert entries[3].what.startswith("SPKI hash at line ")
    assert spki_sha256(private.public_key()) == spki_hash(private.public_key())


def test_a_certificate_is_blocked_by_its_key() -> None:
    private = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(x509.NameOID.COMMON_NAME, "x")])
    now = datetime.now(UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(private.public_key())
        .serial_number(1)
        .not_valid_before(now)
        .not_valid_after(now + timedelta(days=1))
        .sign(private, hashes.SHA256())
    )
    (entry,) = parse_block_list(cert.public_bytes(serialization.Encoding.PEM), "c.pem")
    assert entry.spki_sha256 == spki_hash(private.public_key())
    assert entry.what == "certificate at line 1"


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"", "c.txt: no keys, certificates, CSRs or SPKI hashes found"),
        (b"# only a comment\n", "c.txt: no keys, certificates, CSRs or SPKI hashes found"),
        (b"abcd\n", "c.txt: line 1: 'abcd' is neither a PEM block nor an SPKI SHA-256"),
        (
            b"-----BEGIN CERTIFICATE-----\nAAAA\n-----END CERTIFICATE-----\n",
            "c.txt: certificate at line 1: ",
        ),
        (
            b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
            "c.txt: x509 crl at line 1: a X509 CRL block holds no key this list can use",
        ),
    ],
)
def test_bad_entries_are_named(data: bytes, message: str) -> None:
    with pytest.raises(InputError) as refused:
        parse_block_list(data, "c.txt")
    assert str(refused.value).startswith(message)


@given(st.binary(max_size=300))
def test_any_bytes_give_entries_or_one_input_error(data: bytes) -> None:
    try:
        entries = parse_block_list(data, "fuzz")
    except InputError as exc:
        assert str(exc).startswith("fuzz")
    else:
        assert all(len(e.spki_sha256) == 64 for e in entries)
