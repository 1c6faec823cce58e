"""EV organizationIdentifier: attribute syntax (EVG 9.2.8) and the CA/B Forum extension."""

from __future__ import annotations

import pytest
from cryptography import x509
from cryptography.x509.oid import NameOID
from lintkit import leaf, lint_cert

from certkeeper.lint.cert.ev_org_id import OrgId, org_id_problems, parse_org_id
from certkeeper.x509.der import tlv

EV = ("2.23.140.1.1",)
ORG_ID = x509.ObjectIdentifier("2.5.4.97")
INVALID = "e_ev_organization_identifier_invalid"
MISMATCH = "e_ev_organization_identifier_extension_mismatch"


def ev_subject(org_id: str | None) -> x509.Name:
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "GB"),
        x509.NameAttribute(NameOID.LOCALITY_NAME, "London"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, "Example Ltd"),
        x509.NameAttribute(NameOID.BUSINESS_CATEGORY, "Private Organization"),
        x509.NameAttribute(NameOID.JURISDICTION_COUNTRY_NAME, "GB"),
        x509.NameAttribute(NameOID.SERIAL_NUMBER, "12345678"),
    ]
    if org_id is not None:
        attrs.append(x509.NameAttribute(ORG_ID, org_id))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, "www.example.com"))
    return x509.Name(attrs)


def cabf_ext(
    scheme: str, country: str, ref: str, state: str | None = None
) -> x509.Extension[x509.ExtensionType]:
    body = tlv(0x13, scheme.encode()) + tlv(0x13, country.encode())
    if state is not None:
        body += tlv(0x80, state.encode())
    value = tlv(0x30, body + tlv(0x0C, ref.encode()))
    ext = x509.UnrecognizedExtension(x509.ObjectIdentifier("2.23.140.3.1"), value)
    return x509.Extension(ext.oid, False, ext)


def ev_leaf(org_id: str | None, ext: x509.Extension[x509.ExtensionType] | None) -> bytes:
    extra = [(ext.value, False)] if ext is not None else []
    return leaf(subject=ev_subject(org_id), policies=EV, extra=extra)


def test_matching_attribute_and_extension_pass() -> None:
    found = lint_cert(ev_leaf("NTRGB-12345678", cabf_ext("NTR", "GB", "12345678")))
    assert INVALID not in found and MISMATCH not in found


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("FOOGB-1", "registration scheme 'FOO'"),
        ("NTRZZ-1", "country 'ZZ'"),
        ("VATGB+LN-1", "does not allow a state"),
        ("NTRGB+AAA-1", "not a two-letter code"),
    ],
)
def test_attribute_rules(text: str, problem: str) -> None:
    org = parse_org_id(text)
    assert org is not None
    assert any(problem in p for p in org_id_problems(org))
    assert "e_ev_organization_identifier_invalid" in lint_cert(ev_leaf(text, None))


def test_attribute_syntax_and_vat_country_codes() -> None:
    assert parse_org_id("NTR-GB-1") is None
    assert INVALID in lint_cert(ev_leaf("GB12345678", None))
    assert org_id_problems(OrgId("VAT", "EL", None, "123")) == []
    assert org_id_problems(OrgId("NTR", "EL", None, "123")) != []


def test_extension_contents_are_checked_too() -> None:
    assert INVALID in lint_cert(ev_leaf(None, cabf_ext("VAT", "US", "1", state="PA")))


@pytest.mark.parametrize(
    "ext",
    [None, cabf_ext("NTR", "GB", "87654321"), cabf_ext("NTR", "GB", "12345678", state="LN")],
    ids=["absent", "other-reference", "extra-state"],
)
def test_extension_must_repeat_the_attribute(
    ext: x509.Extension[x509.ExtensionType] | None,
) -> None:
    assert "e_ev_organization_identifier_extension_mismatch" in lint_cert(
        ev_leaf("NTRGB-12345678", ext)
    )


def test_only_ev_certificates_are_judged() -> None:
    ov = leaf(subject=ev_subject("FOOGB-1"), policies=("2.23.140.1.2.2",))
    found = lint_cert(ov)
    assert INVALID not in found and MISMATCH not in found
