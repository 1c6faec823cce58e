"""CRL and OCSP response lints, on hand-assembled documents (seed 001: fractional seconds)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable

import pytest
from lintkit import (
    T0,
    aki_ext,
    cert_id,
    crl_entry,
    ec_key,
    errors,
    ext,
    gen,
    idp_ext,
    issuing_ca,
    key_hash,
    lint_crl,
    lint_ocsp,
    make_crl,
    make_ocsp,
    ocsp_responder_cert,
    reason_ext,
    revoked,
    single,
    utc,
)

from certkeeper.lint.context import LintContext
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.x509.der import encode_integer, encode_oid, sequence, tlv

CRL_NUMBER = "2.5.29.20"


def std_exts(*more: bytes, number: bytes | None = None) -> list[bytes]:
    return [aki_ext(issuing_ca("ec")), ext(CRL_NUMBER, number or encode_integer(7)), *more]


def test_compliant_crls_pass() -> None:
    assert errors(lint_crl(make_crl())) == set()
    entries = [crl_entry(0x7A00 + i, exts=[reason_ext(1)]) for i in range(5)]
    assert errors(lint_crl(make_crl(entries, extensions=std_exts(idp_ext())))) == set()
    ctx = LintContext(issuer=issuing_ca("ec").cert)
    assert errors(lint_crl(make_crl(entries), ctx)) == set()


def test_cryptography_built_crl_parses_like_ours() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    ca = issuing_ca("ec")
    rc = (
        x509.RevokedCertificateBuilder()
        .serial_number(0x1234_5678_9ABC_DEF0)
        .revocation_date(T0 - dt.timedelta(hours=1))
        .add_extension(x509.CRLReason(x509.ReasonFlags.superseded), critical=False)
        .build()
    )
    crl = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.cert.subject)
        .last_update(T0)
        .next_update(T0 + dt.timedelta(days=7))
        .add_extension(x509.CRLNumber(3), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .add_revoked_certificate(rc)
        .sign(ca.key, hashes.SHA256())
    )
    der = crl.public_bytes(serialization.Encoding.DER)
    doc = CrlDocument(der)
    assert doc.structure_errors == []
    assert doc.entries_scan.count == 1
    assert errors(lint_crl(der, LintContext(issuer=ca.cert))) == set()


CRL_CASES: list[tuple[str, Callable[[], bytes]]] = [
    ("e_crl_der_malformed", lambda: make_crl() + b"\x00"),
    ("e_crl_version_not_v2", lambda: make_crl(version=None)),
    ("e_crl_version_not_v2", lambda: make_crl(version=encode_integer(0))),
    ("e_crl_time_fractional_seconds", lambda: make_crl(this_update=gen("20250601120000.123Z"))),
    (
        "e_crl_time_fractional_seconds",
        lambda: make_crl([crl_entry(0x7A01, gen("20250531120000.5Z"))]),
    ),
    (
        "e_crl_time_fractional_seconds",
        lambda: make_crl([crl_entry(0x7A01, exts=[ext("2.5.29.24", gen("20250530000000.25Z"))])]),
    ),
    ("e_crl_time_not_zulu", lambda: make_crl(next_update=tlv(0x17, b"250605120000+0000"))),
    (
        "e_crl_time_missing_seconds",
        lambda: make_crl([crl_entry(0x7A01, tlv(0x17, b"2505311200Z"))]),
    ),
    ("e_crl_time_wrong_type", lambda: make_crl(this_update=gen("20250601120000Z"))),
    (
        "e_crl_time_wrong_type",
        lambda: make_crl([crl_entry(0x7A01, exts=[ext("2.5.29.24", utc(T0))])]),
    ),
    ("e_crl_time_invalid", lambda: make_crl([crl_entry(0x7A01, tlv(0x17, b"250231120000Z"))])),
    ("e_crl_next_update_missing", lambda: make_crl(next_update=None)),
    (
        "e_crl_next_update_before_this_update",
        lambda: make_crl(next_update=utc(T0 - dt.timedelta(days=1))),
    ),
    (
        "e_crl_validity_too_long",
        lambda: make_crl(next_update=utc(T0 + dt.timedelta(days=10, seconds=1))),
    ),
    ("e_crl_revoked_certificates_empty", lambda: make_crl(empty_revoked=True)),
    ("e_crl_number_missing", lambda: make_crl(extensions=[aki_ext(issuing_ca("ec"))])),
    (
        "e_crl_number_critical",
        lambda: make_crl(
            extensions=[aki_ext(issuing_ca("ec")), ext(CRL_NUMBER, encode_integer(3), True)]
        ),
    ),
    ("e_crl_number_invalid", lambda: make_crl(extensions=std_exts(number=encode_integer(-1)))),
    ("e_crl_number_invalid", lambda: make_crl(extensions=std_exts(number=tlv(0x02, b"\x01" * 21)))),
    ("e_crl_aki_missing", lambda: make_crl(extensions=[ext(CRL_NUMBER, encode_integer(3))])),
    (
        "e_crl_aki_invalid",
        lambda: make_crl(
            extensions=[
                ext("2.5.29.35", sequence(tlv(0x82, b"\x01"))),
                ext(CRL_NUMBER, encode_integer(3)),
            ]
        ),
    ),
    ("e_crl_idp_not_critical", lambda: make_crl(extensions=std_exts(idp_ext(critical=False)))),
    (
        "e_crl_idp_invalid",
        lambda: make_crl(extensions=std_exts(idp_ext(url="ldap://crl.example.com"))),
    ),
    (
        "e_crl_idp_invalid",
        lambda: make_crl(extensions=std_exts(ext("2.5.29.28", sequence(tlv(0x81, b"\xff")), True))),
    ),
    (
        "e_crl_extension_duplicate",
        lambda: make_crl(extensions=std_exts(ext(CRL_NUMBER, encode_integer(8)))),
    ),
    (
        "e_crl_extension_unknown_critical",
        lambda: make_crl(extensions=std_exts(ext("1.2.3.4", b"\x05\x00", True))),
    ),
    (
        "w_crl_extension_not_recommended",
        lambda: make_crl(extensions=std_exts(ext("1.2.3.4", b"\x05\x00"))),
    ),
    (
        "e_crl_delta_indicator_present",
        lambda: make_crl(extensions=std_exts(ext("2.5.29.27", encode_integer(6), True))),
    ),
    (
        "e_crl_signature_algorithm_mismatch",
        lambda: make_crl(outer_alg=sequence(encode_oid("1.2.840.10045.4.3.3"))),
    ),
    (
        "e_crl_signature_algorithm_not_allowed",
        lambda: make_crl(outer_alg=sequence(encode_oid("1.2.840.10045.4.3.2"), tlv(0x05, b""))),
    ),
    ("e_crl_entry_serial_invalid", lambda: make_crl([crl_entry(-5)])),
    ("e_crl_entry_serial_invalid", lambda: make_crl([sequence(tlv(0x02, b"\x01" * 21) + utc(T0))])),
    (
        "e_crl_duplicate_serial",
        lambda: make_crl([crl_entry(0x7A01), crl_entry(0x7A02), crl_entry(0x7A01)]),
    ),
    (
        "e_crl_revocation_date_after_this_update",
        lambda: make_crl([crl_entry(0x7A01, utc(T0 + dt.timedelta(seconds=1)))]),
    ),
    ("e_crl_reason_code_unspecified", lambda: make_crl([crl_entry(0x7A01, exts=[reason_ext(0)])])),
    (
        "e_crl_reason_code_certificate_hold",
        lambda: make_crl([crl_entry(0x7A01, exts=[reason_ext(6)])]),
    ),
    ("e_crl_reason_code_not_allowed", lambda: make_crl([crl_entry(0x7A01, exts=[reason_ext(2)])])),
    (
        "e_crl_reason_code_invalid",
        lambda: make_crl([crl_entry(0x7A01, exts=[reason_ext(1, critical=True)])]),
    ),
    (
        "e_crl_entry_extensions_invalid",
        lambda: make_crl([sequence(encode_integer(0x7A01) + utc(T0) + sequence())]),
    ),
    (
        "e_crl_entry_extensions_invalid",
        lambda: make_crl([crl_entry(0x7A01, exts=[reason_ext(1), reason_ext(4)])]),
    ),
    ("e_crl_entry_malformed", lambda: make_crl([sequence(utc(T0))])),
]


@pytest.mark.parametrize(
    ("lint_id", "build"), CRL_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(CRL_CASES)]
)
def test_each_crl_defect_is_caught(lint_id: str, build: Callable[[], bytes]) -> None:
    found = lint_crl(build())
    assert lint_id in found, f"{lint_id} not in {sorted(found)}"
    assert "f_lint_crashed" not in found


def test_arl_allows_ca_compromise_and_a_year() -> None:
    arl_idp = ext(
        "2.5.29.28",
        sequence(
            tlv(0xA0, tlv(0xA0, tlv(0x86, b"http://r1.example.com/arl.crl"))), tlv(0x82, b"\xff")
        ),
        True,
    )
    arl = make_crl(
        [crl_entry(0x7A01, exts=[reason_ext(2)])],
        next_update=utc(T0 + dt.timedelta(days=300)),
        extensions=std_exts(arl_idp),
    )
    found = lint_crl(arl)
    assert "e_crl_reason_code_not_allowed" not in found
    assert "e_crl_validity_too_long" not in found


def test_issuer_dependent_crl_lints() -> None:
    crl = make_crl([crl_entry(0x7A01)])
    other = LintContext(issuer=issuing_ca("rsa").cert)
    assert {
        "e_crl_signature_invalid",
        "e_crl_issuer_name_mismatch",
        "e_crl_aki_mismatch",
    } <= lint_crl(crl, other)


def test_large_crl_entry_scan_counts_and_caps_examples() -> None:
    entries = [crl_entry(0x10_0000 + i, exts=[reason_ext(0)]) for i in range(500)]
    doc = CrlDocument(make_crl(entries))
    scan = doc.entries_scan
    assert scan.count == 500
    assert scan.totals["reason_unspecified"] == 500
    findings = scan.findings("reason_unspecified")
    assert len(findings) == 21 and "480 more" in findings[-1][1]


# --- OCSP ---------------------------------------------------------------------------------


def test_compliant_ocsp_responses_pass() -> None:
    ctx = LintContext(issuer=issuing_ca("ec").cert)
    assert errors(lint_ocsp(make_ocsp(), ctx)) == set()
    responder = ocsp_responder_cert()
    delegated = make_ocsp(signer_key=ec_key("p256", 20), signer_cert=responder)
    assert errors(lint_ocsp(delegated, ctx)) == set()
    rev = make_ocsp([single(revoked(gen("20250530000000Z"), 1))])
    assert errors(lint_ocsp(rev, ctx)) == set()


def test_cryptography_built_ocsp_response_parses_like_ours() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization
    from cryptography.x509 import ocsp
    from lintkit import leaf

    ca = issuing_ca("ec")
    cert = x509.load_der_x509_certificate(leaf())
    resp = (
        ocsp.OCSPResponseBuilder()
        .add_response(
            cert,
            ca.cert,
            hashes.SHA1(),
            ocsp.OCSPCertStatus.GOOD,
            T0,
            T0 + dt.timedelta(days=4),
            None,
            None,
        )
        .responder_id(ocsp.OCSPResponderEncoding.HASH, ca.cert)
        .sign(ca.key, hashes.SHA256())
    )
    der = resp.public_bytes(serialization.Encoding.DER)
    doc = OcspResponseDocument(der)
    assert doc.structure_errors == [] and len(doc.responses) == 1
    found = lint_ocsp(der, LintContext(issuer=ca.cert))
    assert errors(found) == set(), found


OTHER_KEY = ec_key("p256", 30)

OCSP_CASES: list[tuple[str, Callable[[], bytes]]] = [
    ("e_ocsp_der_malformed", lambda: make_ocsp() + b"\x00"),
    ("e_ocsp_response_status_invalid", lambda: make_ocsp(status=4)),
    ("n_ocsp_response_not_successful", lambda: make_ocsp(status=1)),
    ("e_ocsp_response_type_not_basic", lambda: make_ocsp(response_type="1.2.3.4")),
    ("e_ocsp_version_invalid", lambda: make_ocsp(version=tlv(0xA0, encode_integer(0)))),
    ("e_ocsp_time_fractional_seconds", lambda: make_ocsp(produced_at=gen("20250601120000.123Z"))),
    (
        "e_ocsp_time_fractional_seconds",
        lambda: make_ocsp([single(this_update=gen("20250601120000.5Z"))]),
    ),
    (
        "e_ocsp_time_fractional_seconds",
        lambda: make_ocsp([single(next_update=gen("20250605120000.5Z"))]),
    ),
    (
        "e_ocsp_time_fractional_seconds",
        lambda: make_ocsp([single(revoked(gen("20250530000000.1Z")))]),
    ),
    ("e_ocsp_time_not_zulu", lambda: make_ocsp(produced_at=gen("20250601120000+0100"))),
    ("e_ocsp_time_missing_seconds", lambda: make_ocsp(produced_at=gen("202506011200Z"))),
    ("e_ocsp_time_not_generalized", lambda: make_ocsp([single(this_update=utc(T0))])),
    ("e_ocsp_time_invalid", lambda: make_ocsp([single(this_update=gen("20251301120000Z"))])),
    ("e_ocsp_no_responses", lambda: make_ocsp([])),
    (
        "e_ocsp_this_update_after_produced_at",
        lambda: make_ocsp(
            [single(this_update=gen("20250601120001Z"), next_update=gen("20250605120000Z"))]
        ),
    ),
    ("e_ocsp_next_update_missing", lambda: make_ocsp([single(next_update=None)])),
    (
        "e_ocsp_next_update_before_this_update",
        lambda: make_ocsp([single(next_update=gen("20250601110000Z"))]),
    ),
    (
        "e_ocsp_validity_interval_too_long",
        lambda: make_ocsp([single(next_update=gen("20250611120000Z"))]),
    ),
    (
        "e_ocsp_validity_interval_too_short",
        lambda: make_ocsp([single(next_update=gen("20250601195958Z"))]),
    ),
    (
        "e_ocsp_revocation_time_after_this_update",
        lambda: make_ocsp([single(revoked(gen("20250601120001Z")))]),
    ),
    (
        "e_ocsp_revocation_reason_not_allowed",
        lambda: make_ocsp([single(revoked(gen("20250530000000Z"), 6))]),
    ),
    (
        "w_ocsp_revocation_reason_unspecified",
        lambda: make_ocsp([single(revoked(gen("20250530000000Z"), 0))]),
    ),
    (
        "e_ocsp_certid_hash_algorithm",
        lambda: make_ocsp([single(cid=cert_id(hash_oid="1.2.840.113549.2.5"))]),
    ),
    ("e_ocsp_certid_serial_invalid", lambda: make_ocsp([single(cid=cert_id(serial=-3))])),
    (
        "e_ocsp_extensions_invalid",
        lambda: make_ocsp(response_exts=[ext("1.2.3.4", b"\x05\x00", True)]),
    ),
    (
        "e_ocsp_signature_algorithm_not_allowed",
        lambda: make_ocsp(alg=sequence(encode_oid("1.2.840.10045.4.3.2"), tlv(0x05, b""))),
    ),
    (
        "e_ocsp_responder_id_mismatch",
        lambda: make_ocsp(responder_id=tlv(0xA2, tlv(0x04, b"\x01" * 20))),
    ),
    (
        "e_ocsp_delegated_responder_invalid",
        lambda: make_ocsp(
            signer_key=ec_key("p256", 20), signer_cert=ocsp_responder_cert(nocheck=False)
        ),
    ),
    (
        "e_ocsp_signer_certificate_defective",
        lambda: make_ocsp(
            signer_key=ec_key("p256", 20), signer_cert=ocsp_responder_cert(nocheck=False)
        ),
    ),
    (
        "e_ocsp_signature_invalid",
        lambda: make_ocsp(
            signer_key=OTHER_KEY, responder_id=tlv(0xA2, tlv(0x04, key_hash(issuing_ca("ec").der)))
        ),
    ),
    (
        "e_ocsp_certid_issuer_mismatch",
        lambda: make_ocsp([single(cid=cert_id(ca=issuing_ca("rsa")))]),
    ),
]


@pytest.mark.parametrize(
    ("lint_id", "build"), OCSP_CASES, ids=[f"{c[0]}-{i}" for i, c in enumerate(OCSP_CASES)]
)
def test_each_ocsp_defect_is_caught(lint_id: str, build: Callable[[], bytes]) -> None:
    found = lint_ocsp(build(), LintContext(issuer=issuing_ca("ec").cert))
    assert lint_id in found, f"{lint_id} not in {sorted(found)}"
    assert "f_lint_crashed" not in found


def test_delegated_responder_from_another_ca_is_caught() -> None:
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes, serialization

    rsa_ca = issuing_ca("rsa")
    foreign = x509.load_der_x509_certificate(ocsp_responder_cert())
    rebuilt = (
        x509.CertificateBuilder()
        .subject_name(foreign.subject)
        .issuer_name(rsa_ca.cert.subject)
        .public_key(ec_key("p256", 20).public_key())
        .serial_number(foreign.serial_number)
        .not_valid_before(foreign.not_valid_before_utc)
        .not_valid_after(foreign.not_valid_after_utc)
    )
    for e in foreign.extensions:
        rebuilt = rebuilt.add_extension(e.value, e.critical)
    signer = rebuilt.sign(rsa_ca.key, hashes.SHA256()).public_bytes(serialization.Encoding.DER)
    resp = make_ocsp(signer_key=ec_key("p256", 20), signer_cert=signer)
    assert "e_ocsp_delegated_responder_not_issued_by_ca" in lint_ocsp(
        resp, LintContext(issuer=issuing_ca("ec").cert)
    )


def test_seed_001_fractional_seconds_everywhere_are_each_reported() -> None:
    resp = make_ocsp(
        [
            single(
                revoked(gen("20250530000000.9Z"), 1),
                this_update=gen("20250601115959.5Z"),
                next_update=gen("20250605120000.25Z"),
            )
        ],
        produced_at=gen("20250601120000.1Z"),
    )
    doc = OcspResponseDocument(resp)
    from certkeeper.lint.catalogue import run_lints

    hits = [
        f for f in run_lints(doc, LintContext()) if f.lint_id == "e_ocsp_time_fractional_seconds"
    ]
    assert {f.location for f in hits} == {
        "tbsResponseData.producedAt",
        "responses[0].thisUpdate",
        "responses[0].nextUpdate",
        "responses[0].certStatus.revocationTime",
    }
