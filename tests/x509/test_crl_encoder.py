"""The hand-written CRL encoder against `cryptography`'s parser and signature check."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from functools import cache

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.serialization import Encoding
from cryptography.x509.oid import NameOID
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from certkeeper.x509 import crl
from certkeeper.x509.signer import KEY_SPECS, KeySigner

URL = "http://pki.example.com/crl/tls-ecdsa-1/3.crl"


@cache
def issuer(kind: str) -> tuple[x509.Certificate, KeySigner]:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    key = (
        ec.generate_private_key(ec.SECP256R1())
        if kind == "ecdsa-p256"
        else (rsa.generate_private_key(65537, 2048))
    )
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Trust"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"Example {kind} CA"),
        ]
    )
    start = datetime(2025, 1, 1, tzinfo=UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(7)
        .not_valid_before(start)
        .not_valid_after(start + timedelta(days=3650))
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), False)
        .sign(key, hashes.SHA256())
    )
    return cert, KeySigner(key, KEY_SPECS[kind])


def crl_issuer(cert: x509.Certificate) -> crl.CrlIssuer:
    return crl.CrlIssuer.from_certificate(cert.public_bytes(Encoding.DER))


times = st.datetimes(
    min_value=datetime(1990, 1, 1), max_value=datetime(2120, 12, 31), timezones=st.just(UTC)
)
reasons = st.sampled_from([None, 0, *sorted(crl.CA_REASONS)])
serials = st.integers(min_value=1, max_value=2**159 - 1)
entries_st = st.dictionaries(serials, st.tuples(times, reasons), max_size=40)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    entries=entries_st,
    this_update=times,
    validity=st.integers(min_value=1, max_value=400 * 86400),
    number=st.integers(min_value=0, max_value=crl.MAX_CRL_NUMBER),
    kind=st.sampled_from(["ecdsa-p256", "rsa-2048"]),
    partitioned=st.booleans(),
    use_rows=st.booleans(),
    scope=st.sampled_from(["user", "ca", "all"]),
)
def test_every_crl_parses_and_verifies(
    entries: dict[int, tuple[datetime, int | None]],
    this_update: datetime,
    validity: int,
    number: int,
    kind: str,
    partitioned: bool,
    use_rows: bool,
    scope: crl.IdpScope,
) -> None:
    cert, signer = issuer(kind)
    next_update = this_update + timedelta(seconds=validity)
    if use_rows:
        rows = [(format(s, "x"), t, r) for s, (t, r) in entries.items()]
        encoded = crl.EntryEncoder().encode_rows(rows)
    else:
        encoded = [crl.encode_entry(s, t, r) for s, (t, r) in entries.items()]
    assert [len(e) for e in encoded] == [
        crl.entry_size(len(crl.serial_content(s)), t, r) for s, (t, r) in entries.items()
    ]
    tbs = crl.encode_tbs(
        crl_issuer(cert),
        encoded,
        this_update,
        next_update,
        number,
        signer.spec.algorithm_identifier(),
        idp_uri=URL if partitioned else None,
        scope=scope,
    )
    der = crl.sign_crl(tbs, signer)
    parsed = x509.load_der_x509_crl(der)
    assert parsed.is_signature_valid(cert.public_key())  # type: ignore[arg-type]
    assert parsed.issuer == cert.subject
    assert parsed.last_update_utc == this_update.replace(microsecond=0)
    assert parsed.next_update_utc == next_update.replace(microsecond=0)
    assert parsed.extensions.get_extension_for_class(x509.CRLNumber).value.crl_number == number
    aki = parsed.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    ski = cert.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    assert aki.value.key_identifier == ski.digest and not aki.critical
    if partitioned:
        idp = parsed.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
        assert idp.critical
        assert idp.value.full_name == [x509.UniformResourceIdentifier(URL)]
        assert idp.value.only_contains_user_certs == (scope == "user")
        assert idp.value.only_contains_ca_certs == (scope == "ca")
    else:
        with pytest.raises(x509.ExtensionNotFound):
            parsed.extensions.get_extension_for_class(x509.IssuingDistributionPoint)
    got = {}
    for revoked in parsed:
        try:
            code = revoked.extensions.get_extension_for_class(x509.CRLReason)
            assert not code.critical
            reason: int | None = _REASON_VALUES[code.value.reason]
        except x509.ExtensionNotFound:
            reason = None
        got[revoked.serial_number] = (revoked.revocation_date_utc, reason)
    want = {s: (t.replace(microsecond=0), r or None) for s, (t, r) in entries.items()}
    assert got == want
    size = crl.crl_framing(
        crl_issuer(cert),
        this_update,
        next_update,
        number,
        signer.spec.algorithm_identifier(),
        crl.max_signature_size(signer.spec),
        idp_uri=URL if partitioned else None,
        scope=scope,
    ).size(sum(len(e) for e in encoded))
    if kind.startswith("rsa"):
        assert size == len(der)
    else:  # an ECDSA signature is shorter when r or s happens to have leading zeros
        assert 0 <= size - len(der) <= 8


_REASON_VALUES = {
    x509.ReasonFlags.key_compromise: crl.KEY_COMPROMISE,
    x509.ReasonFlags.ca_compromise: crl.CA_COMPROMISE,
    x509.ReasonFlags.affiliation_changed: crl.AFFILIATION_CHANGED,
    x509.ReasonFlags.superseded: crl.SUPERSEDED,
    x509.ReasonFlags.cessation_of_operation: crl.CESSATION_OF_OPERATION,
    x509.ReasonFlags.privilege_withdrawn: crl.PRIVILEGE_WITHDRAWN,
}


def test_empty_crl_omits_revoked_certificates() -> None:
    cert, signer = issuer("ecdsa-p256")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    der = crl.build_crl(crl_issuer(cert), [], now, now + timedelta(days=7), 1, signer)
    parsed = x509.load_der_x509_crl(der)
    assert len(parsed) == 0
    # version, signature, issuer, thisUpdate, nextUpdate, [0] extensions: no SEQUENCE OF
    from certkeeper.x509.der import split_signed

    tags = [t.tag for t in split_signed(der)[0].children()]
    assert tags == [0x02, 0x30, 0x30, 0x17, 0x17, 0xA0]


def test_entry_is_49_octets_for_a_16_octet_serial_with_reason() -> None:
    serial = (1 << 126) | 12345
    entry = crl.encode_entry(serial, datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC), crl.SUPERSEDED)
    assert len(entry) == 49
    assert (
        crl.encode_entry(format(serial, "x"), datetime(2026, 1, 2, tzinfo=UTC))
        == (
            crl.EntryEncoder().encode_rows(
                [(format(serial, "x"), datetime(2026, 1, 2, tzinfo=UTC), 0)]
            )
        )[0]
    )


@pytest.mark.parametrize("reason", [crl.CERTIFICATE_HOLD, crl.REMOVE_FROM_CRL, 7, 11])
def test_disallowed_reasons_are_refused(reason: int) -> None:
    with pytest.raises(crl.CrlEncodingError, match=r"BR 7\.2\.2|cannot be encoded"):
        crl.encode_entry(5, datetime(2026, 1, 1, tzinfo=UTC), reason)


def test_subscriber_reason_check_refuses_ca_compromise() -> None:
    crl.check_reason(crl.CA_COMPROMISE, ca_certificate=True)
    with pytest.raises(crl.CrlEncodingError, match="cACompromise"):
        crl.check_reason(crl.CA_COMPROMISE)


@pytest.mark.parametrize("serial", [0, -1, 2**168])
def test_bad_serials_are_refused(serial: int) -> None:
    with pytest.raises(crl.CrlEncodingError):
        crl.encode_entry(serial, datetime(2026, 1, 1, tzinfo=UTC))


def test_crl_number_limit_and_window() -> None:
    cert, signer = issuer("ecdsa-p256")
    now = datetime(2026, 3, 1, tzinfo=UTC)
    with pytest.raises(crl.CrlEncodingError, match="2\\*\\*159"):
        crl.build_crl(crl_issuer(cert), [], now, now + timedelta(days=1), 2**159, signer)
    with pytest.raises(crl.CrlEncodingError, match="not after"):
        crl.build_crl(crl_issuer(cert), [], now, now, 1, signer)


def test_times_are_whole_seconds_utc_or_generalized_from_2050() -> None:
    late = datetime(2051, 6, 1, 12, 0, 0, 999_999, tzinfo=UTC)
    entry = crl.encode_entry(9, late, None)
    assert b"\x18\x0f20510601120000Z" in entry
    early = crl.encode_entry(9, datetime(2049, 12, 31, 23, 59, 59, 500_000, tzinfo=UTC))
    assert b"\x17\x0d491231235959Z" in early
