"""RFC 5280 / RFC 6962 extension rules, reverse-zone and address-without-name subjects,
onion names before SC27, and URI name constraints."""

from __future__ import annotations

import datetime as dt

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from lintkit import leaf, lint_cert, rsa_key

from certkeeper.br import IP_REVERSE_ZONE_BANNED_FROM, ONION_V3_FROM, rsa_min_modulus_bits
from certkeeper.lint.cert.extensions import sct_list_problem
from certkeeper.lint.cert.rfc5280_extensions import general_name_problem
from certkeeper.lint.cert.subscriber_rules import reverse_zone_address
from certkeeper.x509.der import tlv


def raw_ext(oid: str, value: bytes, critical: bool = False) -> tuple[x509.ExtensionType, bool]:
    return x509.UnrecognizedExtension(x509.ObjectIdentifier(oid), value), critical


def with_ext(*exts: tuple[x509.ExtensionType, bool]) -> bytes:
    return leaf(extra=list(exts))


def gn(tag: int, value: bytes) -> bytes:
    return tlv(0x80 | tag, value)


def test_empty_sequences_are_found() -> None:
    assert "e_extension_empty_sequence" in lint_cert(with_ext(raw_ext("2.5.29.18", tlv(0x30, b""))))
    fine = with_ext(raw_ext("2.5.29.18", tlv(0x30, gn(6, b"http://ca.example.com/"))))
    assert "e_extension_empty_sequence" not in lint_cert(fine)
    assert "e_issuer_alt_name_invalid" not in lint_cert(fine)


@pytest.mark.parametrize(
    ("tag", "value"),
    [
        (2, b"bad name.example.com"),
        (2, b" "),
        (1, b"<someone@example.com>"),
        (6, b"no-scheme"),
        (6, b"http://single-label/"),
        (6, b"http://\xff.example.com/"),
    ],
)
def test_issuer_alt_name_entries(tag: int, value: bytes) -> None:
    assert general_name_problem(tag, value) is not None
    cert = with_ext(raw_ext("2.5.29.18", tlv(0x30, gn(tag, value))))
    assert "e_issuer_alt_name_invalid" in lint_cert(cert)


def test_general_names_that_pass() -> None:
    assert general_name_problem(1, b"pki@example.com") is None
    assert general_name_problem(6, b"https://[2001:db8::1]/x") is None
    assert general_name_problem(6, b"urn:example:ca") is None
    assert general_name_problem(6, b"http://192.0.2.1:8080/ca") is None


def test_san_entries_other_than_dns_and_ip() -> None:
    san = tlv(0x30, gn(2, b"www.example.com") + gn(6, b""))
    cert = leaf(names=(), extra=[raw_ext("2.5.29.17", san)])
    assert "e_san_entry_invalid" in lint_cert(cert)
    assert "e_san_entry_invalid" not in lint_cert(leaf())


def test_policy_extensions() -> None:
    not_critical = raw_ext("2.5.29.36", tlv(0x30, tlv(0x80, b"\x00")))
    assert "e_policy_extension_invalid" in lint_cert(with_ext(not_critical))
    empty = raw_ext("2.5.29.36", tlv(0x30, b""), critical=True)
    assert "e_policy_extension_invalid" in lint_cert(with_ext(empty))
    any_policy = tlv(0x06, bytes.fromhex("551d2000"))
    other = tlv(0x06, bytes.fromhex("2b0601040182371501"))
    mapping = raw_ext("2.5.29.33", tlv(0x30, tlv(0x30, any_policy + other)))
    assert "e_policy_extension_invalid" in lint_cert(with_ext(mapping))
    fine = raw_ext("2.5.29.36", tlv(0x30, tlv(0x80, b"\x00")), critical=True)
    assert "e_policy_extension_invalid" not in lint_cert(with_ext(fine))


def test_freshest_crl_must_not_be_critical() -> None:
    dp = tlv(0x30, tlv(0x30, tlv(0xA0, tlv(0xA0, gn(6, b"http://crl.example.com/d.crl")))))
    assert "e_extension_critical_not_allowed" in lint_cert(with_ext(raw_ext("2.5.29.46", dp, True)))
    assert "e_extension_critical_not_allowed" not in lint_cert(with_ext(raw_ext("2.5.29.46", dp)))


def _sct(version: int = 0) -> bytes:
    body = bytes([version]) + bytes(32) + bytes(8) + b"\x00\x00" + b"\x04\x03" + b"\x00\x02ab"
    return len(body).to_bytes(2) + body


def test_sct_list_encoding() -> None:
    good = tlv(0x04, (len(_sct())).to_bytes(2) + _sct())
    assert sct_list_problem(good) is None
    assert sct_list_problem(tlv(0x04, b"\x00\x00")) == "the list is empty"
    assert "length" in (sct_list_problem(tlv(0x04, b"\x00\x05" + _sct())) or "")
    assert "version" in (sct_list_problem(tlv(0x04, (len(_sct(1))).to_bytes(2) + _sct(1))) or "")
    bad = raw_ext("1.3.6.1.4.1.11129.2.4.2", tlv(0x04, b"\x00\x00"))
    assert "e_sct_list_invalid" in lint_cert(with_ext(bad))


def test_reverse_zone_names() -> None:
    assert str(reverse_zone_address("1.2.0.192.in-addr.arpa")) == "192.0.2.1"
    assert str(reverse_zone_address("1." + "0." * 23 + "8.b.d.0.1.0.0.2.ip6.arpa")) == "2001:db8::1"
    assert reverse_zone_address("2.0.192.in-addr.arpa") is None
    start = dt.datetime.combine(IP_REVERSE_ZONE_BANNED_FROM, dt.time(), dt.UTC)
    public = "4.4.8.8.in-addr.arpa"
    after = leaf(names=("www.example.com", public), not_before=start)
    assert "e_sub_reverse_zone_name" in lint_cert(after)
    before = leaf(names=("www.example.com", public), not_before=start - dt.timedelta(days=1))
    assert "e_sub_reverse_zone_name" not in lint_cert(before)
    private = leaf(
        names=("www.example.com", "1.1.168.192.in-addr.arpa"),
        not_before=start - dt.timedelta(days=1),
    )
    assert "e_sub_reverse_zone_name" in lint_cert(private)


def test_address_needs_an_organization_or_a_person() -> None:
    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.LOCALITY_NAME, "Springfield"),
            x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com"),
        ]
    )
    found = lint_cert(leaf(subject=subject, policies=("2.23.140.1.2.3",)))
    assert "e_sub_subject_address_without_name" in found


def test_onion_names_before_sc27_may_be_version_2() -> None:
    before = dt.datetime.combine(ONION_V3_FROM, dt.time(), dt.UTC) - dt.timedelta(days=1)
    v2 = leaf(
        names=("www.example.com", "v2cbb2l4lsnpio4q.onion"),
        not_before=before,
        policies=("2.23.140.1.1",),
    )
    assert "e_san_dns_onion_invalid" not in lint_cert(v2)
    bad = leaf(
        names=("www.example.com", "zmap.onion"), not_before=before, policies=("2.23.140.1.1",)
    )
    assert "e_san_dns_onion_invalid" in lint_cert(bad)


def test_empty_policy_qualifiers() -> None:
    info = tlv(0x30, tlv(0x06, bytes.fromhex("67810c010201")) + tlv(0x30, b""))
    cert = leaf(policies=None, extra=[raw_ext("2.5.29.32", tlv(0x30, info))])
    assert "e_extension_empty_sequence" in lint_cert(cert)


def test_rsa_1024_was_allowed_until_2013_outside_roots() -> None:
    assert rsa_min_modulus_bits("leaf", dt.date(2012, 1, 1), dt.date(2013, 12, 31)) == 1024
    assert rsa_min_modulus_bits("leaf", dt.date(2012, 1, 1), dt.date(2014, 1, 1)) == 2048
    assert rsa_min_modulus_bits("ca", dt.date(2011, 1, 1), dt.date(2013, 6, 1)) == 2048
    assert rsa_min_modulus_bits("ca", dt.date(2010, 6, 1), dt.date(2013, 6, 1)) == 1024
    assert rsa_min_modulus_bits("root", dt.date(2005, 1, 1), dt.date(2010, 1, 1)) == 2048
    old = dt.datetime(2012, 1, 1, tzinfo=dt.UTC)
    small = leaf(key=rsa_key(1024), not_before=old, days=365)
    assert "e_cert_rsa_modulus_too_small" not in lint_cert(small)
    assert "e_cert_rsa_modulus_too_small" in lint_cert(leaf(key=rsa_key(1024)))


def test_teletex_string_was_allowed_before_br_2() -> None:
    from cryptography.x509.name import _ASN1Type

    subject = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example", _type=_ASN1Type.T61String),
            x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com"),
        ]
    )
    before = dt.datetime(2023, 9, 14, tzinfo=dt.UTC)
    assert "e_subject_string_encoding" not in lint_cert(leaf(subject=subject, not_before=before))
    assert "e_subject_string_encoding" in lint_cert(leaf(subject=subject))


V2_ONION = "v2cbb2l4lsnpio4q.onion"
SHA256 = tlv(0x06, bytes.fromhex("608648016503040201"))


def tor_descriptor(
    name: str = V2_ONION, digest: bytes = bytes(32)
) -> tuple[x509.ExtensionType, bool]:
    one = tlv(
        0x30,
        tlv(0x0C, f"https://{name}".encode()) + tlv(0x30, SHA256) + tlv(0x03, b"\x00" + digest),
    )
    return raw_ext("2.23.140.1.31", tlv(0x30, one))


def onion_leaf(*extra: tuple[x509.ExtensionType, bool]) -> bytes:
    return leaf(
        names=("www.example.com", V2_ONION),
        not_before=dt.datetime(2019, 3, 1, tzinfo=dt.UTC),
        policies=("2.23.140.1.1",),
        extra=list(extra),
    )


def test_tor_service_descriptors_before_sc27() -> None:
    assert "e_tor_service_descriptor_invalid" not in lint_cert(onion_leaf(tor_descriptor()))
    assert "e_tor_service_descriptor_invalid" in lint_cert(onion_leaf())
    assert "e_tor_service_descriptor_invalid" in lint_cert(
        onion_leaf(tor_descriptor(digest=bytes(16)))
    )
    other = tor_descriptor(name="other.onion")
    assert "e_tor_service_descriptor_invalid" in lint_cert(onion_leaf(other))


def test_ocsp_url_required_until_sc063() -> None:
    before = dt.datetime(2024, 3, 14, tzinfo=dt.UTC)
    assert "e_sub_ocsp_url_missing" in lint_cert(leaf(not_before=before))
    with_ocsp = leaf(not_before=before, ocsp_url="http://ocsp.example.com")
    assert "e_sub_ocsp_url_missing" not in lint_cert(with_ocsp)
    assert "e_sub_ocsp_url_missing" not in lint_cert(leaf())
