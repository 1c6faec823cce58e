"""Certificate lints: each defect is caught by its lint, and compliant documents pass."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lintkit import (
    T0,
    Node,
    ec_key,
    errors,
    ext_node,
    extension,
    extensions_seq,
    issuing_ca,
    key_usage,
    leaf,
    lint_cert,
    name,
    ocsp_responder_cert,
    resign,
    root,
    rsa_key,
    time_node,
)

from certkeeper.lint.context import LintContext, ProfileExpectations
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import CertType
from certkeeper.x509.der import encode_integer, encode_oid, sequence, tlv

SERVER = ExtendedKeyUsageOID.SERVER_AUTH


def test_compliant_documents_have_no_errors() -> None:
    assert errors(lint_cert(leaf())) == set()
    assert (
        errors(
            lint_cert(leaf(key=rsa_key(), ku=key_usage("digital_signature", "key_encipherment")))
        )
        == set()
    )
    assert errors(lint_cert(leaf(issuer=issuing_ca("rsa")))) == set()
    assert errors(lint_cert(leaf(poison=True))) == set()
    assert errors(lint_cert(leaf(names=["example.com"], ips=["8.8.8.8"]))) == set()
    ctx = LintContext(issuer=issuing_ca("ec").cert)
    assert errors(lint_cert(leaf(), ctx=ctx)) == set()
    assert errors(lint_cert(ocsp_responder_cert(), ctx=ctx)) == set()
    assert errors(lint_cert(issuing_ca("ec").der, ctx=LintContext(issuer=root().cert))) == set()
    assert errors(lint_cert(root().der)) == set()


def test_type_detection() -> None:
    assert CertificateDocument(root().der).cert_type is CertType.ROOT
    assert CertificateDocument(issuing_ca("ec").der).cert_type is CertType.SUBORDINATE_CA
    assert CertificateDocument(leaf()).cert_type is CertType.SUBSCRIBER
    assert CertificateDocument(leaf(poison=True)).cert_type is CertType.PRECERTIFICATE
    assert CertificateDocument(ocsp_responder_cert()).cert_type is CertType.OCSP_RESPONDER
    assert CertificateDocument(leaf(), CertType.PRECERTIFICATE).cert_type is CertType.PRECERTIFICATE


def _edit(fn: Callable[[Node], None], **kw: Any) -> Callable[[], bytes]:
    return lambda: resign(leaf(**kw), fn)


def _set_validity(
    nb: str, na: str, tag_nb: int = 0x17, tag_na: int = 0x17
) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        tbs.kids[4].kids = [time_node(nb, tag_nb), time_node(na, tag_na)]  # type: ignore[index]

    return edit


def _set_serial(content: bytes) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        tbs.kids[1] = Node(0x02, content)  # type: ignore[index]

    return edit


def _dup_ext(oid: str) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        seq = extensions_seq(tbs)
        seq.kids.append(extension(tbs, oid))  # type: ignore[union-attr]

    return edit


def _ext_critical(oid: str, value: bool | None) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        e = extension(tbs, oid)
        assert e.kids is not None
        kids = [e.kids[0], e.kids[-1]]
        if value is not None:
            kids.insert(1, Node(0x01, b"\xff" if value else b"\x00"))
        e.kids = kids

    return edit


def _ext_value(oid: str, value: bytes) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        e = extension(tbs, oid)
        assert e.kids is not None
        e.kids[-1] = Node(0x04, value)

    return edit


def _add_ext(oid: str, value: bytes, critical: bool | None = None) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        extensions_seq(tbs).kids.append(ext_node(oid, value, critical))  # type: ignore[union-attr]

    return edit


def _version(content: bytes | None) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        assert tbs.kids is not None
        if content is None:
            tbs.kids.pop(0)
        else:
            tbs.kids[0] = Node(0xA0, kids=[Node(0x02, content)])

    return edit


def _unique_id(tbs: Node) -> None:
    assert tbs.kids is not None
    tbs.kids.insert(7, Node(0x81, b"\x00\x01"))


def _inner_alg(alg: bytes) -> Callable[[Node], None]:
    from lintkit import parse

    def edit(tbs: Node) -> None:
        tbs.kids[2] = parse(alg)  # type: ignore[index]

    return edit


SAN = "2.5.29.17"
BC = "2.5.29.19"
KU = "2.5.29.15"
AKI = "2.5.29.35"
POISON = "1.3.6.1.4.1.11129.2.4.3"
SHA1_RSA = sequence(encode_oid("1.2.840.113549.1.1.5"), tlv(0x05, b""))
SHA256_RSA = sequence(encode_oid("1.2.840.113549.1.1.11"), tlv(0x05, b""))
ECDSA_256_NULL = sequence(encode_oid("1.2.840.10045.4.3.2"), tlv(0x05, b""))

CASES: list[tuple[str, Callable[[], bytes], CertType | None]] = [
    # structure
    ("e_cert_der_malformed", lambda: leaf() + b"\x00", None),
    ("e_cert_version_not_v3", _edit(_version(b"\x01")), None),
    ("e_cert_version_not_v3", _edit(_version(None)), None),
    ("e_cert_version_default_encoded", _edit(_version(b"\x00")), None),
    (
        "e_cert_serial_not_positive",
        _edit(_set_serial(b"\x80\x11\x22\x33\x44\x55\x66\x77\x88")),
        None,
    ),
    ("e_cert_serial_not_positive", _edit(_set_serial(b"\x00")), None),
    ("e_cert_serial_too_long", _edit(_set_serial(b"\x01" * 21)), None),
    (
        "e_cert_serial_not_minimal",
        _edit(_set_serial(b"\x00\x11\x22\x33\x44\x55\x66\x77\x88")),
        None,
    ),
    ("e_cert_serial_low_entropy", lambda: leaf(serial=0x1234), None),
    (
        "w_cert_serial_entropy_marginal",
        lambda: leaf(serial=0x1122334455667788 & 0x7FFFFFFFFFFFFFFF),
        None,
    ),
    (
        "e_cert_signature_algorithm_mismatch",
        _edit(_inner_alg(sequence(encode_oid("1.2.840.10045.4.3.3")))),
        None,
    ),
    (
        "e_cert_signature_algorithm_not_allowed",
        lambda: resign(leaf(), lambda t: None, outer_alg=ECDSA_256_NULL),
        None,
    ),
    (
        "e_cert_signature_algorithm_weak_hash",
        lambda: resign(
            leaf(issuer=issuing_ca("rsa")),
            _inner_alg(SHA1_RSA),
            key=issuing_ca("rsa").key,
            outer_alg=SHA1_RSA,
        ),
        None,
    ),
    ("e_cert_unique_identifier_present", _edit(_unique_id), None),
    # validity
    (
        "e_cert_validity_fractional_seconds",
        _edit(_set_validity("20250601120000.5Z", "250801120000Z", 0x18)),
        None,
    ),
    ("e_cert_validity_not_zulu", _edit(_set_validity("250601120000+0100", "250801120000Z")), None),
    ("e_cert_validity_missing_seconds", _edit(_set_validity("2506011200Z", "250801120000Z")), None),
    (
        "e_cert_validity_wrong_time_type",
        _edit(_set_validity("20250601120000Z", "250801120000Z", 0x18)),
        None,
    ),
    ("e_cert_validity_time_invalid", _edit(_set_validity("251301120000Z", "250801120000Z")), None),
    ("e_cert_validity_negative", _edit(_set_validity("250801120000Z", "250601120000Z")), None),
    ("e_cert_validity_too_long", lambda: leaf(days=398 + 1 / 86400), None),
    (
        "e_cert_validity_too_long",
        lambda: leaf(not_before=dt.datetime(2026, 3, 15, tzinfo=dt.UTC), days=201),
        None,
    ),
    (
        "e_cert_validity_too_long",
        lambda: leaf(not_before=dt.datetime(2027, 3, 15, tzinfo=dt.UTC), days=101),
        None,
    ),
    (
        "e_cert_validity_too_long",
        lambda: leaf(not_before=dt.datetime(2029, 3, 15, tzinfo=dt.UTC), days=48),
        None,
    ),
    # extensions in general
    ("e_cert_extension_duplicate", _edit(_dup_ext(SAN)), None),
    ("e_cert_extension_unknown_critical", _edit(_add_ext("1.2.3.4.5", b"\x05\x00", True)), None),
    ("e_cert_extension_critical_false_encoded", _edit(_ext_critical("2.5.29.37", False)), None),
    ("e_cert_extension_value_malformed", _edit(_ext_value(KU, b"\x04\x01\x00")), None),
    ("w_cert_extension_not_recommended", _edit(_add_ext("1.2.3.4.5", b"\x05\x00")), None),
    # keys
    (
        "e_cert_rsa_modulus_too_small",
        lambda: leaf(key=rsa_key(1024), ku=key_usage("digital_signature")),
        None,
    ),
    (
        "e_cert_rsa_modulus_not_multiple_of_8",
        lambda: leaf(key=rsa_key(2052), ku=key_usage("digital_signature")),
        None,
    ),
    (
        "w_cert_rsa_exponent_out_of_range",
        lambda: leaf(key=rsa_key(2048, 3), ku=key_usage("digital_signature")),
        None,
    ),
    ("e_cert_ec_curve_not_allowed", lambda: leaf(key=ec_key("k256")), None),
    ("e_cert_spki_algorithm_not_allowed", lambda: leaf(key=ec_key("k256")), None),
    # basicConstraints
    ("e_sub_basic_constraints_not_critical", lambda: leaf(bc_critical=False), None),
    (
        "e_leaf_basic_constraints_ca_true",
        lambda: leaf(bc=x509.BasicConstraints(True, None)),
        CertType.SUBSCRIBER,
    ),
    (
        "e_basic_constraints_ca_false_encoded",
        _edit(_ext_value(BC, sequence(tlv(0x01, b"\x00")))),
        None,
    ),
    # keyUsage
    ("w_sub_key_usage_missing", lambda: leaf(ku=None), None),
    ("w_sub_key_usage_not_critical", lambda: leaf(ku_critical=False), None),
    (
        "e_sub_key_usage_forbidden_bits",
        lambda: leaf(ku=key_usage("digital_signature", "key_encipherment")),
        None,
    ),
    (
        "e_sub_key_usage_forbidden_bits",
        lambda: leaf(ku=key_usage("digital_signature", "key_cert_sign")),
        None,
    ),
    (
        "e_sub_ecdsa_key_usage_missing_digital_signature",
        lambda: leaf(ku=key_usage("key_agreement")),
        None,
    ),
    (
        "w_sub_rsa_key_usage_missing_digital_signature",
        lambda: leaf(key=rsa_key(), ku=key_usage("key_encipherment")),
        None,
    ),
    ("e_key_usage_not_der", _edit(_ext_value(KU, tlv(0x03, b"\x00\x80"))), None),
    ("e_key_usage_empty", _edit(_ext_value(KU, tlv(0x03, b"\x00"))), None),
    # extKeyUsage
    ("e_sub_eku_missing", lambda: leaf(eku=None), None),
    ("e_sub_eku_server_auth_missing", lambda: leaf(eku=[ExtendedKeyUsageOID.CLIENT_AUTH]), None),
    (
        "e_sub_eku_forbidden",
        lambda: leaf(eku=[SERVER, ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE]),
        None,
    ),
    ("e_sub_eku_forbidden", lambda: leaf(eku=[SERVER, ExtendedKeyUsageOID.CODE_SIGNING]), None),
    (
        "w_sub_eku_not_recommended",
        lambda: leaf(eku=[SERVER, x509.ObjectIdentifier("1.3.6.1.5.5.7.3.17")]),
        None,
    ),
    ("e_eku_critical", _edit(_ext_critical("2.5.29.37", True)), None),
    # SAN
    ("e_sub_san_missing", lambda: leaf(names=[], subject=name("www.example.com", None)), None),
    ("e_san_criticality", lambda: leaf(san_critical=False), None),
    (
        "e_san_criticality",
        lambda: leaf(subject=name("www.example.com", None), san_critical=True),
        None,
    ),
    ("e_san_empty", _edit(_ext_value(SAN, sequence())), None),
    (
        "e_sub_san_type_not_allowed",
        lambda: leaf(extra=[]) and _edit(_ext_value(SAN, sequence(tlv(0x81, b"a@example.com"))))(),
        None,
    ),
    ("e_san_dns_name_underscore", lambda: leaf(names=["a_b.example.com"]), None),
    ("e_san_dns_wildcard_position", lambda: leaf(names=["www.*.example.com"]), None),
    ("e_san_dns_wildcard_position", lambda: leaf(names=["w*.example.com"]), None),
    ("e_san_dns_label_too_long", lambda: leaf(names=["a" * 64 + ".example.com"]), None),
    (
        "e_san_dns_name_too_long",
        lambda: leaf(names=[".".join(["a" * 60] * 4) + ".example.com"]),
        None,
    ),
    ("e_san_dns_name_bad_character", lambda: leaf(names=["ex ample.com"]), None),
    ("e_san_dns_label_hyphen_edge", lambda: leaf(names=["-www.example.com"]), None),
    ("e_san_dns_name_empty", lambda: leaf(names=["www..example.com"]), None),
    ("e_san_dns_trailing_dot", lambda: leaf(names=["www.example.com."]), None),
    ("e_san_dns_invalid_idn", lambda: leaf(names=["xn--zz-9999999.example.com"]), None),
    ("e_san_dns_reserved_label", lambda: leaf(names=["ab--cd.example.com"]), None),
    ("e_san_dns_is_ip_address", lambda: leaf(names=["192.0.2.1"]), None),
    ("e_san_dns_tld_not_delegated", lambda: leaf(names=["ap.gbl"]), None),
    ("e_san_dns_internal_name", lambda: leaf(names=["server.internal"]), None),
    ("e_san_dns_wildcard_public_suffix", lambda: leaf(names=["*.co.uk"]), None),
    ("e_san_dns_public_suffix", lambda: leaf(names=["co.uk"]), None),
    ("e_san_ip_address_invalid", lambda: leaf(ips=["10.0.0.1"]), None),
    ("e_san_ip_address_invalid", lambda: leaf(ips=["::1"]), None),
    ("w_san_duplicate_entry", lambda: leaf(names=["example.com", "EXAMPLE.com"]), None),
    # subject
    ("e_sub_cn_not_in_san", lambda: leaf(subject=name("other.example.com", None)), None),
    (
        "e_dv_subject_identity_present",
        lambda: leaf(subject=name("www.example.com", "Example Inc")),
        None,
    ),
    (
        "e_ov_subject_required_missing",
        lambda: leaf(policies=["2.23.140.1.2.2"], subject=name("www.example.com", "Org")),
        None,
    ),
    (
        "e_ev_subject_required_missing",
        lambda: leaf(policies=["2.23.140.1.1"], subject=name("www.example.com", "Org")),
        None,
    ),
    (
        "e_sub_subject_identity_without_policy",
        lambda: leaf(policies=["1.2.3.4"], subject=name("www.example.com", "Org")),
        None,
    ),
    (
        "e_sub_subject_ou_present",
        lambda: leaf(
            subject=x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IT")])
        ),
        None,
    ),
    (
        "e_subject_country_invalid",
        lambda: leaf(subject=x509.Name([x509.NameAttribute(NameOID.COUNTRY_NAME, "us")])),
        None,
    ),
    (
        "e_subject_metadata_only",
        lambda: leaf(subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "-")])),
        None,
    ),
    (
        "e_subject_attribute_too_long",
        lambda: leaf(
            subject=x509.Name([x509.NameAttribute(NameOID.STATE_OR_PROVINCE_NAME, "x" * 129)])
        ),
        None,
    ),
    (
        "e_subject_string_encoding",
        lambda: leaf(
            subject=x509.Name(
                [
                    x509.NameAttribute(
                        NameOID.COMMON_NAME, "www.example.com", x509.name._ASN1Type.BMPString
                    )
                ]
            )
        ),
        None,
    ),
    (
        "e_subject_multi_valued_rdn",
        lambda: leaf(
            subject=x509.Name(
                [
                    x509.RelativeDistinguishedName(
                        [
                            x509.NameAttribute(NameOID.COUNTRY_NAME, "US"),
                            x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com"),
                        ]
                    )
                ]
            )
        ),
        None,
    ),
    (
        "e_subject_duplicate_attribute",
        lambda: leaf(
            subject=x509.Name(
                [
                    x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com"),
                    x509.NameAttribute(NameOID.COMMON_NAME, "example.com"),
                ]
            )
        ),
        None,
    ),
    # AKI / SKI / AIA / CRLDP / policies
    ("e_aki_missing", lambda: leaf(aki=False), None),
    ("e_aki_critical", _edit(_ext_critical(AKI, True)), None),
    ("e_aki_key_identifier_missing", _edit(_ext_value(AKI, sequence(tlv(0x82, b"\x01")))), None),
    (
        "e_aki_issuer_and_serial_present",
        _edit(_ext_value(AKI, sequence(tlv(0x80, b"\x01" * 20), tlv(0x82, b"\x01")))),
        None,
    ),
    ("n_sub_ski_present", lambda: leaf(ski=True), None),
    ("e_sub_aia_missing", lambda: leaf(aia=False), None),
    ("e_aia_invalid", lambda: leaf(ocsp_url="ldap://ocsp.example.com"), None),
    ("e_crldp_missing", lambda: leaf(crl_url=None), None),
    ("e_crldp_invalid", lambda: leaf(crl_url="https://crl.example.com/1.crl"), None),
    ("e_policies_missing", lambda: leaf(policies=None), None),
    ("e_sub_reserved_policy_count", lambda: leaf(policies=["1.2.3.4"]), None),
    (
        "e_sub_reserved_policy_count",
        lambda: leaf(policies=["2.23.140.1.2.1", "2.23.140.1.2.2"]),
        None,
    ),
    ("e_sub_any_policy", lambda: leaf(policies=["2.23.140.1.2.1", "2.5.29.32.0"]), None),
    ("e_policies_critical", _edit(_ext_critical("2.5.29.32", True)), None),
    (
        "e_name_constraints_in_end_entity",
        lambda: leaf(extra=[(x509.NameConstraints([x509.DNSName("example.com")], None), True)]),
        None,
    ),
    # precertificates
    (
        "e_precert_poison_invalid",
        lambda: resign(leaf(poison=True), _ext_critical(POISON, None)),
        None,
    ),
    (
        "e_precert_poison_invalid",
        lambda: resign(leaf(poison=True), _ext_value(POISON, b"\x04\x00")),
        None,
    ),
    ("e_precert_poison_invalid", lambda: leaf(), CertType.PRECERTIFICATE),
    ("e_poison_in_final_certificate", lambda: leaf(poison=True), CertType.SUBSCRIBER),
]


@pytest.mark.parametrize(
    ("lint_id", "build", "cert_type"), CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CASES)]
)
def test_each_defect_is_caught(
    lint_id: str, build: Callable[[], bytes], cert_type: CertType | None
) -> None:
    found = lint_cert(build(), cert_type)
    assert lint_id in found, f"{lint_id} not in {sorted(found)}"


def test_validity_boundaries_are_inclusive() -> None:
    """398 days exactly is allowed: notAfter - notBefore + 1 s == 398 days."""
    assert "e_cert_validity_too_long" not in lint_cert(leaf(days=398))
    assert "e_cert_validity_too_long" not in lint_cert(
        leaf(not_before=dt.datetime(2026, 3, 15, tzinfo=dt.UTC), days=200)
    )
    # The day before the 200-day rule starts, 398 days is still fine.
    assert "e_cert_validity_too_long" not in lint_cert(
        leaf(not_before=dt.datetime(2026, 3, 14, 23, 59, 59, tzinfo=dt.UTC), days=398)
    )


def test_tld_is_judged_at_not_before() -> None:
    # .abarth was delegated 2016-08-04 and removed 2023-06-05.
    before = leaf(names=["www.abarth"], not_before=dt.datetime(2020, 1, 1, tzinfo=dt.UTC))
    after = leaf(names=["www.abarth"], not_before=dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
    assert "e_san_dns_tld_not_delegated" not in lint_cert(before)
    assert "e_san_dns_tld_not_delegated" in lint_cert(after)


def test_effective_dates_filter_lints() -> None:
    old = leaf(
        subject=x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IT")]),
        not_before=dt.datetime(2022, 1, 1, tzinfo=dt.UTC),
    )
    assert "e_sub_subject_ou_present" not in lint_cert(old)


def test_subordinate_ca_and_root_profiles() -> None:
    ca = issuing_ca("ec")

    def sub_ca(**changes: Any) -> bytes:
        def edit(tbs: Node) -> None:
            for oid, value in changes.items():
                _ext_value(oid.replace("_", "."), value)(tbs)

        return resign(ca.der, edit, key=root().key)

    found = lint_cert(resign(ca.der, _ext_critical(BC, False), key=root().key))
    assert "e_ca_basic_constraints_not_critical" in found
    found = lint_cert(sub_ca(**{"2_5_29_15": tlv(0x03, b"\x07\x80")}))  # digitalSignature only
    assert "e_ca_key_usage_missing_cert_sign" in found
    found = lint_cert(
        resign(ca.der, _ext_value("2.5.29.37", sequence(encode_oid("2.5.29.37.0"))), key=root().key)
    )
    assert "e_sub_ca_eku_invalid" in found
    found = lint_cert(
        resign(ca.der, lambda t: extensions_seq(t).kids.pop(), key=root().key),
        CertType.SUBORDINATE_CA,
    )  # type: ignore[union-attr]
    assert "e_crldp_missing" in found
    root_with_eku = resign(
        root().der, _add_ext("2.5.29.37", sequence(encode_oid("1.3.6.1.5.5.7.3.1"))), key=root().key
    )
    assert "e_root_eku_present" in lint_cert(root_with_eku)


def test_ocsp_responder_profile() -> None:
    assert "e_ocsp_responder_nocheck_invalid" in lint_cert(
        ocsp_responder_cert(nocheck=False), CertType.OCSP_RESPONDER
    )
    found = lint_cert(ocsp_responder_cert(eku=[ExtendedKeyUsageOID.OCSP_SIGNING, SERVER]))
    assert "e_ocsp_responder_eku_invalid" in found
    crldp = x509.CRLDistributionPoints(
        [
            x509.DistributionPoint(
                [x509.UniformResourceIdentifier("http://c.example.com/c.crl")], None, None, None
            )
        ]
    )
    assert "e_ocsp_responder_crldp_present" in lint_cert(
        ocsp_responder_cert(extra=[(crldp, False)])
    )
    aia = x509.AuthorityInformationAccess(
        [
            x509.AccessDescription(
                x509.oid.AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier("http://o.example.com"),
            )
        ]
    )
    assert "e_ocsp_responder_aia_ocsp_present" in lint_cert(
        ocsp_responder_cert(extra=[(aia, False)])
    )


def test_issuer_dependent_lints() -> None:
    ca = issuing_ca("ec")
    ctx = LintContext(issuer=ca.cert)
    other = LintContext(issuer=issuing_ca("rsa").cert)
    good = leaf()
    assert {
        "e_cert_signature_invalid",
        "e_cert_issuer_name_mismatch",
        "e_cert_aki_mismatch",
    } <= lint_cert(good, ctx=other)
    tampered = resign(good, lambda t: None, key=ec_key("p256", 99))
    assert "e_cert_signature_invalid" in lint_cert(tampered, ctx=ctx)
    sha384 = leaf(hash_alg=hashes.SHA384())
    assert "e_cert_ecdsa_hash_mismatch" in lint_cert(sha384, ctx=ctx)
    assert "e_cert_ecdsa_hash_mismatch" not in lint_cert(good, ctx=ctx)


def test_profile_expectations() -> None:
    exp = ProfileExpectations(
        profile_id="tls-dv-ecdsa",
        policy_oids=("2.23.140.1.2.1",),
        ca_issuers_urls=("http://ca.example.com/ca.der",),
        crl_urls=("http://crl.example.com/1.crl",),
        crldp_required=True,
        key_usage=("digital_signature",),
        extended_key_usage=("1.3.6.1.5.5.7.3.1",),
    )
    ctx = LintContext(expectations=exp)
    assert errors(lint_cert(leaf(), ctx=ctx)) == set()
    assert "e_profile_key_usage_mismatch" in lint_cert(
        leaf(key=rsa_key(), ku=key_usage("digital_signature", "key_encipherment")), ctx=ctx
    )
    assert "e_profile_crldp_mismatch" in lint_cert(
        leaf(crl_url="http://elsewhere.example.com/x.crl"), ctx=ctx
    )
    assert "e_profile_crldp_mismatch" in lint_cert(
        leaf(crl_url=None, ocsp_url="http://o.example.com"), ctx=ctx
    )
    assert "e_profile_policy_mismatch" in lint_cert(
        leaf(policies=["2.23.140.1.2.1", "1.2.3.4"]), ctx=ctx
    )
    assert "e_profile_eku_mismatch" in lint_cert(
        leaf(eku=[SERVER, ExtendedKeyUsageOID.CLIENT_AUTH]), ctx=ctx
    )


def test_seed_004_non_critical_basic_constraints_blocks() -> None:
    found = lint_cert(leaf(bc_critical=False))
    assert "e_sub_basic_constraints_not_critical" in errors(found)


def test_seed_000_rsa_key_encipherment_only_fails_against_profile() -> None:
    """An ECDSA profile with keyEncipherment is a BR error; an RSA one is a profile question."""
    assert "e_sub_key_usage_forbidden_bits" in lint_cert(
        leaf(ku=key_usage("digital_signature", "key_encipherment"))
    )
    rsa_leaf = leaf(key=rsa_key(), ku=key_usage("digital_signature", "key_encipherment"))
    assert "e_sub_key_usage_forbidden_bits" not in lint_cert(rsa_leaf)


def test_extension_with_garbage_value_does_not_crash() -> None:
    bad = resign(leaf(), _ext_value(SAN, b"\x30\x05\x82\x03ab"))
    found = lint_cert(bad)
    assert "e_cert_extension_value_malformed" in found
    assert "f_lint_crashed" not in found


def test_malformed_issuer_name_is_reported_not_raised() -> None:
    def edit(tbs: Node) -> None:
        tbs.kids[3] = Node(0x30, kids=[Node(0x30, b"")])  # type: ignore[index]

    found = lint_cert(resign(leaf(), edit))
    assert "e_cert_der_malformed" in found
    assert "f_lint_crashed" not in found


def test_every_cert_lint_has_metadata() -> None:
    from certkeeper.lint.catalogue import all_lints

    lints = all_lints()
    assert len(lints) > 150
    for lint in lints:
        assert lint.citation and lint.description, lint.id
        assert lint.id[:2] in {"e_", "w_", "n_", "i_", "f_"}


def test_serial_encodings_direct() -> None:
    doc = CertificateDocument(resign(leaf(), _set_serial(encode_integer(5)[2:])))
    assert doc.serial == b"\x05"
    assert doc.reference_time == T0
