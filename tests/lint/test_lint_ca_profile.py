"""CA certificate profiles: policies, subject, EKU, name constraints, precert signing CAs.

Each lint has a compliant case that must not fire and a defective one that must. The CA
certificates are built with `cryptography` and signed by the test root; the dates are
chosen relative to each rule's effective date, never to today.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from typing import Any

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lintkit import DER, Node, ec_key, errors, extension, issuing_ca, lint_cert, resign, root

from certkeeper.br import CA_COMMON_NAME_REQUIRED_FROM, PRECERT_SIGNING_CA_RETIRED
from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import CertType
from certkeeper.x509.der import sequence, tlv

PRECERT_EKU = x509.ObjectIdentifier("1.3.6.1.4.1.11129.2.4.4")
DV = x509.ObjectIdentifier("2.23.140.1.2.1")
OV = x509.ObjectIdentifier("2.23.140.1.2.2")
ANY = x509.ObjectIdentifier("2.5.29.32.0")
CA_NB = dt.datetime(2025, 1, 10, tzinfo=dt.UTC)  # after BR 2.0, before the 2026 retirement

_UNSET: Any = object()


def ca_name(
    country: str | None = "US", org: str | None = "Example Trust", cn: str | None = "Sub CA"
) -> x509.Name:
    attrs = []
    if country is not None:
        attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, country))
    if org is not None:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    if cn is not None:
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


def sub_ca(
    subject: x509.Name | None = None,
    eku: list[x509.ObjectIdentifier] | None = _UNSET,
    policies: list[x509.ObjectIdentifier] | None = _UNSET,
    crldp: bool = True,
    not_before: dt.datetime = CA_NB,
    extra: list[x509.ExtensionType] = (),  # type: ignore[assignment]
) -> bytes:
    """A compliant TLS subordinate CA signed by the test root; arguments make it defective."""
    r = root()
    key = ec_key("p256", 7)
    if eku is _UNSET:
        eku = [ExtendedKeyUsageOID.SERVER_AUTH]
    if policies is _UNSET:
        policies = [DV]
    b = (
        x509.CertificateBuilder()
        .subject_name(subject if subject is not None else ca_name())
        .issuer_name(r.cert.subject)
        .public_key(key.public_key())
        .serial_number(0x7E57_0000_0000_0000_0101)
        .not_valid_before(not_before)
        .not_valid_after(not_before + dt.timedelta(days=1800))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(r.key.public_key()), critical=False
        )
    )
    if eku is not None:
        b = b.add_extension(x509.ExtendedKeyUsage(eku), critical=False)
    if policies is not None:
        b = b.add_extension(
            x509.CertificatePolicies([x509.PolicyInformation(p, None) for p in policies]),
            critical=False,
        )
    if crldp:
        uri = x509.UniformResourceIdentifier("http://r1.example.com/r1.crl")
        b = b.add_extension(
            x509.CRLDistributionPoints([x509.DistributionPoint([uri], None, None, None)]),
            critical=False,
        )
    for ext in extra:
        b = b.add_extension(ext, critical=isinstance(ext, x509.NameConstraints))
    return b.sign(r.key, hashes.SHA384()).public_bytes(DER)


def precert_ca(**kw: Any) -> bytes:
    kw.setdefault("eku", [PRECERT_EKU])
    return sub_ca(**kw)


def raw_nc(value: bytes) -> x509.UnrecognizedExtension:
    return x509.UnrecognizedExtension(x509.ObjectIdentifier("2.5.29.30"), value)


def subtree(base: bytes, *rest: bytes) -> bytes:
    return sequence(base, *rest)


def dns_base(name: str) -> bytes:
    return tlv(0x82, name.encode())


# --- the baseline: compliant CAs pass --------------------------------------------------------


def test_compliant_subordinate_and_precert_signing_ca_have_no_errors() -> None:
    assert errors(lint_cert(sub_ca())) == set()
    doc = CertificateDocument(precert_ca())
    assert doc.cert_type is CertType.PRECERT_SIGNING_CA
    found = lint_cert(precert_ca())
    assert errors(found) == set()
    # The old false positive: a correct precertificate signing CA failed the TLS sub-CA EKU.
    assert "e_sub_ca_eku_invalid" not in found


def test_fixture_ca_certificates_pass() -> None:
    assert errors(lint_cert(issuing_ca("ec").der)) == set()
    assert errors(lint_cert(root().der)) == set()


# --- certificate policies ------------------------------------------------------------------


def test_any_policy_must_be_alone() -> None:
    assert "e_ca_any_policy_not_alone" in lint_cert(sub_ca(policies=[ANY, DV]))
    alone = lint_cert(sub_ca(policies=[ANY]))
    assert "e_ca_any_policy_not_alone" not in alone
    assert "e_ca_reserved_policy_count" not in alone  # anyPolicy: no reserved OID needed
    assert "n_ca_any_policy_requires_affiliate" in alone
    assert "n_ca_any_policy_requires_affiliate" not in lint_cert(sub_ca())


@pytest.mark.parametrize("policies", [[DV, OV], [x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")]])
def test_policy_restricted_ca_needs_exactly_one_reserved_oid(
    policies: list[x509.ObjectIdentifier],
) -> None:
    assert "e_ca_reserved_policy_count" in lint_cert(sub_ca(policies=policies))
    ok = [DV, x509.ObjectIdentifier("1.3.6.1.4.1.99999.1")]
    assert "e_ca_reserved_policy_count" not in lint_cert(sub_ca(policies=ok))


def test_policy_rules_follow_br_2_date() -> None:
    old = sub_ca(policies=[ANY, DV], not_before=dt.datetime(2023, 9, 14, tzinfo=dt.UTC))
    assert "e_ca_any_policy_not_alone" not in lint_cert(old)


# --- subject -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "subject",
    [ca_name(country=None), ca_name(org=None), ca_name(cn=None)],
    ids=["no-country", "no-org", "no-cn"],
)
def test_ca_subject_requires_c_o_cn(subject: x509.Name) -> None:
    assert "e_ca_subject_required_missing" in lint_cert(sub_ca(subject=subject))


def test_ca_common_name_requirement_dates_from_ballot_199() -> None:
    before = dt.datetime.combine(CA_COMMON_NAME_REQUIRED_FROM, dt.time(), dt.UTC) - dt.timedelta(1)
    old = sub_ca(subject=ca_name(cn=None), not_before=before)
    assert "e_ca_subject_required_missing" not in lint_cert(old, CertType.SUBORDINATE_CA)
    # organizationName and countryName were required from BR 1.0 on.
    no_org = sub_ca(subject=ca_name(org=None), not_before=before)
    assert "e_ca_subject_required_missing" in lint_cert(no_org, CertType.SUBORDINATE_CA)


def test_later_rules_are_legacy_findings_only_when_asked() -> None:
    before = dt.datetime.combine(CA_COMMON_NAME_REQUIRED_FROM, dt.time(), dt.UTC) - dt.timedelta(1)
    doc = CertificateDocument(sub_ca(subject=ca_name(cn=None), not_before=before))
    assert not any(
        f.lint_id == "e_ca_subject_required_missing" for f in run_lints(doc, LintContext())
    )
    found = [
        f
        for f in run_lints(doc, LintContext(legacy=True))
        if f.lint_id == "e_ca_subject_required_missing"
    ]
    assert [(f.legacy, f.message) for f in found] == [(True, "subject lacks commonName")]


def test_ou_forbidden_in_tls_ca_and_discouraged_in_precert_ca() -> None:
    with_ou = x509.Name(
        [*ca_name(), x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "PKI Operations")]
    )
    found = lint_cert(sub_ca(subject=with_ou))
    assert "e_ca_subject_ou_present" in found
    found = lint_cert(precert_ca(subject=with_ou))
    assert "w_ca_subject_ou_present" in found
    assert "e_ca_subject_ou_present" not in found


@pytest.mark.parametrize("code", ["UK", "EU", "QQ", "XX"])
def test_ca_country_must_be_assigned(code: str) -> None:
    assert "e_subject_country_not_assigned" in lint_cert(sub_ca(subject=ca_name(country=code)))


@pytest.mark.parametrize("code", ["GB", "DE", "US", "JP"])
def test_assigned_country_codes_pass(code: str) -> None:
    assert "e_subject_country_not_assigned" not in lint_cert(sub_ca(subject=ca_name(code)))


# --- EKU -----------------------------------------------------------------------------------


def test_precert_signing_ca_eku_must_be_exactly_the_precert_purpose() -> None:
    found = lint_cert(precert_ca(eku=[PRECERT_EKU, ExtendedKeyUsageOID.SERVER_AUTH]))
    assert "e_precert_ca_eku_invalid" in found
    forced = lint_cert(sub_ca(eku=None), CertType.PRECERT_SIGNING_CA)
    assert "e_precert_ca_eku_invalid" in forced


def test_sub_ca_other_eku_is_not_recommended() -> None:
    other = x509.ObjectIdentifier("1.3.6.1.4.1.99999.3.1")
    found = lint_cert(sub_ca(eku=[ExtendedKeyUsageOID.SERVER_AUTH, other]))
    assert "w_sub_ca_eku_not_recommended" in found
    assert "w_sub_ca_eku_not_recommended" not in lint_cert(sub_ca())


# --- precertificate signing CA profile -----------------------------------------------------


def test_precert_signing_ca_needs_policies_and_crldp() -> None:
    found = lint_cert(precert_ca(policies=None, crldp=False))
    assert "e_precert_ca_extension_missing" in found


def test_precert_signing_ca_profile_retired_in_2026() -> None:
    after = dt.datetime.combine(PRECERT_SIGNING_CA_RETIRED, dt.time(), dt.UTC)
    assert "e_precert_signing_ca_retired" in lint_cert(precert_ca(not_before=after))
    before = after - dt.timedelta(seconds=1)
    assert "e_precert_signing_ca_retired" not in lint_cert(precert_ca(not_before=before))


# --- SAN and name constraints --------------------------------------------------------------


def test_san_in_ca_is_not_recommended() -> None:
    san = x509.SubjectAlternativeName([x509.DNSName("ca.example.com")])
    assert "w_ca_san_present" in lint_cert(sub_ca(extra=[san]))
    assert "w_ca_san_present" not in lint_cert(sub_ca())


def test_well_formed_name_constraints_pass() -> None:
    nc = x509.NameConstraints(
        permitted_subtrees=[
            x509.DNSName("example.com"),
            x509.IPAddress(ipaddress.ip_network("192.0.2.0/24")),
            x509.DirectoryName(ca_name(cn=None)),
        ],
        excluded_subtrees=None,
    )
    found = lint_cert(sub_ca(extra=[nc]))
    assert "e_name_constraints_invalid" not in found
    assert "w_ca_name_constraints_base_not_recommended" not in found


@pytest.mark.parametrize(
    "value",
    [
        sequence(),  # neither permitted nor excluded
        sequence(tlv(0xA0, b"")),  # empty permittedSubtrees
        sequence(tlv(0xA0, subtree(dns_base("example.com"), tlv(0x80, b"\x00")))),
        sequence(tlv(0xA0, subtree(dns_base("example.com"), tlv(0x81, b"\x02")))),
        sequence(tlv(0xA1, subtree(tlv(0x87, b"\xc0\x00\x02\x00")))),  # 4-octet IP, no mask
    ],
    ids=["empty", "empty-permitted", "minimum", "maximum", "ip-without-mask"],
)
def test_malformed_name_constraints_are_caught(value: bytes) -> None:
    assert "e_name_constraints_invalid" in lint_cert(sub_ca(extra=[raw_nc(value)]))


def test_name_constraint_bases_not_recommended() -> None:
    rfc822 = sequence(tlv(0xA0, subtree(tlv(0x81, b"example.com"))))
    assert "w_ca_name_constraints_base_not_recommended" in lint_cert(sub_ca(extra=[raw_nc(rfc822)]))
    dn = ca_name(cn=None).public_bytes()
    excluded_dn = sequence(tlv(0xA1, subtree(tlv(0xA4, dn))))
    found = lint_cert(sub_ca(extra=[raw_nc(excluded_dn)]))
    assert "w_ca_name_constraints_base_not_recommended" in found


def test_policy_criticality_applies_to_precert_signing_ca() -> None:
    def critical_policies(tbs: Node) -> None:
        ext = extension(tbs, "2.5.29.32")
        assert ext.kids is not None
        ext.kids.insert(1, Node(0x01, b"\xff"))

    bad = resign(precert_ca(), critical_policies, key=root().key)
    assert CertificateDocument(bad).cert_type is CertType.PRECERT_SIGNING_CA
    assert "e_policies_critical" in lint_cert(bad)
    assert "e_policies_critical" not in lint_cert(precert_ca())


def _constraints(permitted: list[x509.GeneralName], excluded: list[x509.GeneralName]) -> bytes:
    nc = x509.NameConstraints(
        permitted_subtrees=permitted or None, excluded_subtrees=excluded or None
    )
    return sub_ca(extra=[nc])


def test_technically_constrained_ca_constrains_every_name_type() -> None:
    dir_name = x509.DirectoryName(ca_name(cn=None))
    v4_all = x509.IPAddress(ipaddress.ip_network("0.0.0.0/0"))
    v6_all = x509.IPAddress(ipaddress.ip_network("::/0"))
    complete = _constraints([x509.DNSName("example.com"), dir_name], [v4_all, v6_all])
    assert "e_constrained_ca_name_constraints_incomplete" not in lint_cert(complete)
    no_v4 = _constraints([x509.DNSName("example.com"), dir_name], [v6_all])
    assert "e_constrained_ca_name_constraints_incomplete" in lint_cert(no_v4)
    no_dns = _constraints([dir_name], [x509.DNSName("example.org"), v4_all, v6_all])
    assert "e_constrained_ca_name_constraints_incomplete" in lint_cert(no_dns)
    assert "e_constrained_ca_name_constraints_incomplete" not in lint_cert(sub_ca())


@pytest.mark.parametrize("base", [b".mil", b"*.example.com", b"foo.onion"])
def test_dns_name_constraint_bases_are_domain_names(base: bytes) -> None:
    value = sequence(tlv(0xA1, subtree(tlv(0x82, base))))
    assert "e_name_constraints_invalid" in lint_cert(sub_ca(extra=[raw_nc(value)]))


def _non_tls(
    eku: list[x509.ObjectIdentifier] | None, policies: list[x509.ObjectIdentifier] | None
) -> set[str]:
    return lint_cert(sub_ca(eku=eku, policies=policies), CertType.NON_TLS_CA)


def test_non_tls_ca_purposes_and_policies() -> None:
    email = [ExtendedKeyUsageOID.EMAIL_PROTECTION]
    other = [x509.ObjectIdentifier("1.3.6.1.4.1.55555.1")]
    found = _non_tls(email, other)
    assert "e_non_tls_ca_eku_invalid" not in found and "e_non_tls_ca_policies_invalid" not in found
    assert "e_sub_ca_eku_invalid" not in found  # the TLS rules stay with TLS CAs
    assert "e_non_tls_ca_eku_invalid" in _non_tls(None, other)
    assert "e_non_tls_ca_eku_invalid" in _non_tls([*email, ExtendedKeyUsageOID.OCSP_SIGNING], other)
    assert "e_non_tls_ca_policies_invalid" in _non_tls(email, [DV])
    any_policy = x509.ObjectIdentifier("2.5.29.32.0")
    assert "e_non_tls_ca_policies_invalid" in _non_tls(email, [any_policy, *other])
    assert "e_non_tls_ca_policies_invalid" not in _non_tls(email, [any_policy])
    # The common CA rules apply: a non-TLS CA still needs keyCertSign and the rest.
    assert "e_ca_key_usage_missing_cert_sign" not in found
