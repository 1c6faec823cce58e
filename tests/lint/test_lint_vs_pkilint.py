"""The two linters together: the adapter works, and ours misses nothing pkilint finds.

For a generated set of defective certificates, CRLs and OCSP responses, every pkilint
ERROR in an area our lints cover must come with at least one certkeeper ERROR.
"""

from __future__ import annotations

import datetime as dt
import pickle
from collections.abc import Callable

import pytest
from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lintkit import (
    T0,
    crl_entry,
    gen,
    issuing_ca,
    key_usage,
    leaf,
    make_crl,
    make_ocsp,
    reason_ext,
    revoked,
    rsa_key,
    single,
    utc,
)

from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.lint.engine import Finding, Severity
from certkeeper.lint.pkilint_adapter import PkilintLinter
from certkeeper.x509.der import encode_integer, tlv

# pkilint finding codes that concern things we do not lint (or lint differently on
# purpose); everything else pkilint reports as ERROR must be matched by one of ours.
OUT_OF_SCOPE = {
    "pkix.subject_key_identifier_missing",
}


@pytest.fixture(scope="module")
def pk() -> PkilintLinter:
    return PkilintLinter()


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity >= Severity.ERROR]


def test_adapter_maps_findings_and_pickles(pk: PkilintLinter) -> None:
    assert _errors(pk.lint_certificate(leaf())) == []
    bad = pk.lint_certificate(leaf(bc_critical=False))
    assert any(f.linter == "pkilint" and f.severity is Severity.ERROR for f in bad)
    clone = pickle.loads(pickle.dumps(pk))
    assert [f.lint_id for f in clone.lint_certificate(leaf(bc_critical=False))] == [
        f.lint_id for f in bad
    ]
    broken = pk.lint_certificate(b"\x30\x03\x02\x01\x01")
    assert broken[0].severity is Severity.FATAL
    assert _errors(pk.lint_crl(make_crl())) == []
    assert _errors(pk.lint_ocsp_response(make_ocsp())) == []


CERTS: list[Callable[[], bytes]] = [
    lambda: leaf(bc_critical=False),
    lambda: leaf(ku=key_usage("digital_signature", "key_encipherment")),
    lambda: leaf(eku=[ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CODE_SIGNING]),
    lambda: leaf(eku=None),
    lambda: leaf(aia=False),
    lambda: leaf(aki=False),
    lambda: leaf(policies=None),
    lambda: leaf(policies=["1.2.3.4"]),
    lambda: leaf(days=400),
    lambda: leaf(names=["a_b.example.com"]),
    lambda: leaf(names=["ap.gbl"]),
    lambda: leaf(names=["www.*.example.com"]),
    lambda: leaf(ips=["10.1.2.3"]),
    lambda: leaf(
        subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "nomatch.example.com")])
    ),
    lambda: leaf(subject=x509.Name([x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "IT")])),
    lambda: leaf(key=rsa_key(1024), ku=key_usage("digital_signature")),
    lambda: leaf(crl_url=None),
    lambda: leaf(serial=0x1234),
    lambda: leaf(bc=x509.BasicConstraints(False, None), ku=None),
    lambda: leaf(san_critical=False),
]

CRLS: list[Callable[[], bytes]] = [
    lambda: make_crl(next_update=utc(T0 + dt.timedelta(days=11))),
    lambda: make_crl([crl_entry(0x7A01, exts=[reason_ext(6)])]),
    lambda: make_crl([crl_entry(0x7A01, exts=[reason_ext(0)])]),
    lambda: make_crl(version=None),
    lambda: make_crl(this_update=gen("20250601120000.5Z")),
    lambda: make_crl(extensions=[]),
    lambda: make_crl(empty_revoked=True),
]

OCSPS: list[Callable[[], bytes]] = [
    lambda: make_ocsp(produced_at=gen("20250601120000.123Z")),
    lambda: make_ocsp([single(this_update=gen("20250601120000.5Z"))]),
    lambda: make_ocsp([single(revoked(gen("20250530000000.1Z"), 1))]),
    lambda: make_ocsp(version=tlv(0xA0, encode_integer(0))),
]


def _check(ours: list[Finding], theirs: list[Finding]) -> None:
    their_errors = [f for f in _errors(theirs) if f.lint_id not in OUT_OF_SCOPE]
    if their_errors:
        assert _errors(ours), (
            f"pkilint found {[f.lint_id for f in their_errors]} and we found nothing"
        )


@pytest.mark.parametrize("build", CERTS)
def test_certificates_no_pkilint_error_goes_unmatched(
    pk: PkilintLinter, build: Callable[[], bytes]
) -> None:
    der = build()
    doc = CertificateDocument(der)
    _check(run_lints(doc, LintContext()), pk.lint_certificate(der, doc.cert_type))


@pytest.mark.parametrize("build", CRLS)
def test_crls_no_pkilint_error_goes_unmatched(
    pk: PkilintLinter, build: Callable[[], bytes]
) -> None:
    der = build()
    _check(run_lints(CrlDocument(der), LintContext()), pk.lint_crl(der))


@pytest.mark.parametrize("build", OCSPS)
def test_ocsp_no_pkilint_error_goes_unmatched(
    pk: PkilintLinter, build: Callable[[], bytes]
) -> None:
    der = build()
    _check(run_lints(OcspResponseDocument(der), LintContext()), pk.lint_ocsp_response(der))


def test_issuing_ca_is_typed_for_pkilint(pk: PkilintLinter) -> None:
    assert _errors(pk.lint_certificate(issuing_ca("ec").der)) == []
