"""Subscriber rules: CN as an exact SAN copy, CA-only extensions, keyUsage bits, AIA
uniqueness, SIA criticality, Onion Domain Names, reserved IPs in the CN."""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID
from lintkit import Node, errors, extension, issuing_ca, leaf, lint_cert, resign

from certkeeper.br import CN_EXACT_COPY_FROM, ONION_V3_FROM, RESERVED_IP_BANNED_FROM
from certkeeper.lint.cert.subscriber_rules import onion_v3_problem
from certkeeper.x509.der import encode_oid, sequence, tlv


def cn(value: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, value)])


def onion_address(seed: bytes = b"certkeeper") -> str:
    pubkey = hashlib.sha256(seed).digest()
    checksum = hashlib.sha3_256(b".onion checksum" + pubkey + b"\x03").digest()[:2]
    return base64.b32encode(pubkey + checksum + b"\x03").decode().lower()


def test_cn_must_be_an_exact_copy_of_a_san_entry() -> None:
    good = leaf(subject=cn("www.example.com"))
    assert "e_sub_cn_not_san_copy" not in lint_cert(good)
    assert errors(lint_cert(good)) == set()
    upper = leaf(subject=cn("WWW.Example.com"))
    found = lint_cert(upper)
    assert "e_sub_cn_not_san_copy" in found
    assert "e_sub_cn_not_in_san" not in found  # it is in the SAN, ignoring case


def test_cn_copy_rule_starts_with_ballot_sc48() -> None:
    start = dt.datetime.combine(CN_EXACT_COPY_FROM, dt.time(), dt.UTC)
    old = leaf(subject=cn("WWW.Example.com"), not_before=start - dt.timedelta(days=1))
    assert "e_sub_cn_not_san_copy" not in lint_cert(old)
    assert "e_sub_cn_not_san_copy" in lint_cert(
        leaf(subject=cn("WWW.Example.com"), not_before=start)
    )


@pytest.mark.parametrize(
    "ext",
    [
        x509.PolicyConstraints(require_explicit_policy=0, inhibit_policy_mapping=None),
        x509.InhibitAnyPolicy(0),
    ],
    ids=["policyConstraints", "inhibitAnyPolicy"],
)
def test_ca_only_extensions_in_subscriber(ext: x509.ExtensionType) -> None:
    assert "e_sub_ca_only_extension_present" in lint_cert(leaf(extra=[(ext, True)]))
    assert "e_sub_ca_only_extension_present" not in lint_cert(leaf())


def test_policy_mappings_in_subscriber() -> None:
    value = sequence(sequence(encode_oid("1.3.6.1.4.1.99999.1"), encode_oid("2.23.140.1.2.1")))
    mapping = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.33"), value)
    assert "e_sub_ca_only_extension_present" in lint_cert(leaf(extra=[(mapping, False)]))


def _ku_bits(payload: bytes) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        ext = extension(tbs, "2.5.29.15")
        assert ext.kids is not None
        ext.kids[-1] = Node(0x04, tlv(0x03, payload))

    return edit


def test_key_usage_bit_beyond_decipher_only() -> None:
    # digitalSignature (bit 0) and bit 9: octets 0x80 0x40, 6 unused bits
    bad = resign(leaf(), _ku_bits(b"\x06\x80\x40"), key=issuing_ca("ec").key)
    assert "e_key_usage_undefined_bits" in lint_cert(bad)
    decipher = leaf(ku=x509.KeyUsage(True, False, False, False, True, False, False, False, True))
    assert "e_key_usage_undefined_bits" not in lint_cert(decipher)


def test_duplicate_aia_location() -> None:
    url = x509.UniformResourceIdentifier("http://ca.example.com/ca.der")
    twice = x509.AuthorityInformationAccess(
        [x509.AccessDescription(AuthorityInformationAccessOID.CA_ISSUERS, url)] * 2
    )
    found = lint_cert(leaf(aia=False, extra=[(twice, False)]))
    assert "e_aia_duplicate_location" in found
    assert "e_aia_duplicate_location" not in lint_cert(leaf())


def test_sia_must_not_be_critical() -> None:
    sia = x509.SubjectInformationAccess(
        [
            x509.AccessDescription(
                x509.ObjectIdentifier("1.3.6.1.5.5.7.48.5"),
                x509.UniformResourceIdentifier("http://repo.example.com/"),
            )
        ]
    )
    assert "e_sia_critical" in lint_cert(leaf(extra=[(sia, True)]))
    assert "e_sia_critical" not in lint_cert(leaf(extra=[(sia, False)]))


def test_onion_v3_address_check() -> None:
    good = onion_address()
    assert onion_v3_problem(good) is None
    assert onion_v3_problem(good[:-1] + ("a" if good[-1] != "a" else "b")) is not None
    assert "56" in (onion_v3_problem("expyuzz4wqqyqhjn") or "")  # a version 2 address


def test_onion_names_in_san() -> None:
    good = onion_address()
    found = lint_cert(leaf(names=(f"{good}.onion", f"www.{good}.onion")))
    assert "e_san_dns_onion_invalid" not in found
    bad = lint_cert(leaf(names=("expyuzz4wqqyqhjn.onion",)))
    assert "e_san_dns_onion_invalid" in bad
    before = dt.datetime.combine(ONION_V3_FROM, dt.time(), dt.UTC) - dt.timedelta(days=1)
    old = lint_cert(leaf(names=("expyuzz4wqqyqhjn.onion",), not_before=before))
    assert "e_san_dns_onion_invalid" not in old


@pytest.mark.parametrize("ip", ["10.0.0.1", "192.168.1.1", "fd00::1"])
def test_reserved_ip_in_cn(ip: str) -> None:
    assert "e_sub_cn_reserved_ip" in lint_cert(leaf(subject=cn(ip), names=(), ips=(ip,)))


def test_public_ip_in_cn_passes() -> None:
    found = lint_cert(leaf(subject=cn("8.8.8.8"), names=(), ips=("8.8.8.8",)))
    assert "e_sub_cn_reserved_ip" not in found
    before = dt.datetime.combine(RESERVED_IP_BANNED_FROM, dt.time(), dt.UTC) - dt.timedelta(1)
    old = leaf(subject=cn("10.0.0.1"), names=(), ips=("10.0.0.1",), not_before=before, days=30)
    assert "e_sub_cn_reserved_ip" not in lint_cert(old)


def _subject(*attrs: tuple[x509.ObjectIdentifier, str]) -> x509.Name:
    return x509.Name([x509.NameAttribute(oid, value) for oid, value in attrs])


def test_subject_attributes_follow_the_br_order() -> None:
    ordered = _subject(
        (NameOID.COUNTRY_NAME, "GB"),
        (NameOID.ORGANIZATION_NAME, "Example Ltd"),
        (NameOID.SERIAL_NUMBER, "123"),  # not in the BR 7.1.4.2 table: anywhere
        (NameOID.COMMON_NAME, "www.example.com"),
    )
    assert "e_subject_attribute_order" not in lint_cert(leaf(subject=ordered))
    reversed_ = _subject(
        (NameOID.COMMON_NAME, "www.example.com"),
        (NameOID.ORGANIZATION_NAME, "Example Ltd"),
        (NameOID.COUNTRY_NAME, "GB"),
    )
    assert "e_subject_attribute_order" in lint_cert(leaf(subject=reversed_))


def test_br_bounds_for_given_name_and_domain_component() -> None:
    long_given = _subject((NameOID.GIVEN_NAME, "x" * 65), (NameOID.COMMON_NAME, "www.example.com"))
    assert "e_subject_attribute_too_long" in lint_cert(leaf(subject=long_given))
    long_dc = _subject(
        (NameOID.DOMAIN_COMPONENT, "x" * 64), (NameOID.COMMON_NAME, "www.example.com")
    )
    assert "e_subject_attribute_too_long" in lint_cert(leaf(subject=long_dc))
