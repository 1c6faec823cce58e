"""The catalogue keeps itself honest: every lint module is registered, and every lint has
a failing case (a defective document it flags) and a passing case (a document it applies
to and stays silent on).

A new lint is written in one module under a sub-package of `certkeeper.lint` (found by
`catalogue.load_all` without a list to update) and tested by one row in a case table:
`CASES` here, or the certificate / CRL / OCSP tables of the other lint test modules.
"""

from __future__ import annotations

import ast
import datetime as dt
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import test_lint_crl_ocsp as crl_ocsp_tests
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID
from lintkit import (
    T0,
    Node,
    crl_entry,
    ec_key,
    ext,
    extensions_seq,
    ids,
    issuing_ca,
    key_usage,
    leaf,
    make_crl,
    make_ocsp,
    ocsp_responder_cert,
    parse,
    resign,
    root,
    rsa_key,
    time_node,
)
from test_lint_ca_profile import precert_ca, sub_ca
from test_lint_crl_ocsp import std_exts
from test_lint_rfc5280_extensions import onion_leaf, tor_descriptor

from certkeeper.lint.catalogue import all_lints, run_lints
from certkeeper.lint.context import LintContext, ProfileExpectations
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.lint.engine import AUDIT, REGISTRY, CertType, Document
from certkeeper.x509.der import encode_integer, encode_oid, sequence, tlv

TESTS = Path(__file__).resolve().parent
LINT_SRC = TESTS.parents[1] / "src" / "certkeeper" / "lint"

BC, KU, EKU, SKI = "2.5.29.19", "2.5.29.15", "2.5.29.37", "2.5.29.14"
AIA, CRLDP, POLICIES, NC = "1.3.6.1.5.5.7.1.1", "2.5.29.31", "2.5.29.32", "2.5.29.30"
SCT_LIST = "1.3.6.1.4.1.11129.2.4.2"
DV = "2.23.140.1.2.1"
ISSUER = LintContext(issuer=issuing_ca("ec").cert)
OTHER_ISSUER = LintContext(issuer=issuing_ca("rsa").cert)
ROOT_ISSUER = LintContext(issuer=root().cert)


def profile(**changes: Any) -> LintContext:
    """The DV ECDSA profile the compliant leaf was issued under, with `changes`."""
    exp: dict[str, Any] = {
        "profile_id": "tls-dv-ecdsa",
        "policy_oids": (DV,),
        "ca_issuers_urls": ("http://ca.example.com/ca.der",),
        "crl_urls": ("http://crl.example.com/1.crl",),
        "crldp_required": True,
        "key_usage": ("digital_signature",),
        "extended_key_usage": ("1.3.6.1.5.5.7.3.1",),
    } | changes
    return LintContext(issuer=issuing_ca("ec").cert, expectations=ProfileExpectations(**exp))


@dataclass(frozen=True)
class Case:
    """One document and what it is linted as."""

    lint_id: str
    build: Callable[[], bytes]
    kind: str = "cert"  # cert | crl | ocsp
    cert_type: CertType | None = None
    ctx: LintContext | None = None

    def document(self) -> Document:
        data = self.build()
        if self.kind == "crl":
            return CrlDocument(data)
        if self.kind == "ocsp":
            return OcspResponseDocument(data)
        return CertificateDocument(data, self.cert_type)

    def findings(self) -> set[str]:
        return ids(run_lints(self.document(), self.ctx or LintContext()))


# --- DER surgery on the test CAs and responder ---------------------------------------------


def _ext_index(tbs: Node, oid: str) -> int:
    want = encode_oid(oid)
    kids = extensions_seq(tbs).kids or []
    return next(i for i, e in enumerate(kids) if e[0].encode() == want)


def without(oid: str) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        (extensions_seq(tbs).kids or []).pop(_ext_index(tbs, oid))

    return edit


def sub_ca_edit(edit: Callable[[Node], None]) -> Callable[[], bytes]:
    return lambda: resign(issuing_ca("ec").der, edit, key=root().key)


def root_edit(edit: Callable[[Node], None]) -> Callable[[], bytes]:
    return lambda: resign(root().der, edit, key=root().key)


def leaf_edit(edit: Callable[[Node], None], **kw: Any) -> Callable[[], bytes]:
    return lambda: resign(leaf(**kw), edit, key=(kw.get("issuer") or issuing_ca("ec")).key)


def set_field(index: int, value: bytes) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        (tbs.kids or [])[index] = parse(value)

    return edit


def set_spki_bits(content: bytes) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        spki = tbs[6]
        (spki.kids or [])[1] = Node(0x03, content)

    return edit


def _rsa_public(n: int, e: int) -> bytes:
    return b"\x00" + sequence(encode_integer(n), encode_integer(e))


def _rsa_n() -> int:
    n: int = rsa_key().public_key().public_numbers().n
    return n


def _bad_ec_point() -> bytes:
    point = (
        ec_key("p256", 10)
        .public_key()
        .public_bytes(serialization_encoding(), serialization_format())
    )
    return b"\x00" + point[:-1] + bytes([point[-1] ^ 1])


def serialization_encoding() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.X962


def serialization_format() -> Any:
    from cryptography.hazmat.primitives.serialization import PublicFormat

    return PublicFormat.UncompressedPoint


def _signature_unused_bits() -> bytes:
    top = parse(leaf())
    sig = top[2]
    sig.content = b"\x01" + sig.content[1:]
    return top.encode()


def _name(*attrs: tuple[str, int, bytes]) -> bytes:
    return sequence(
        *(tlv(0x31, sequence(encode_oid(oid), tlv(tag, value))) for oid, tag, value in attrs)
    )


def _ext_value(oid: str, value: bytes) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        e = (extensions_seq(tbs).kids or [])[_ext_index(tbs, oid)]
        (e.kids or [])[-1] = Node(0x04, value)

    return edit


def _ext_critical(oid: str, critical: bool | None) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        e = (extensions_seq(tbs).kids or [])[_ext_index(tbs, oid)]
        kids = e.kids or []
        e.kids = [kids[0], *([Node(0x01, b"\xff")] if critical else []), kids[-1]]

    return edit


def _add_ext(oid: str, value: bytes, critical: bool = False) -> Callable[[Node], None]:
    def edit(tbs: Node) -> None:
        (extensions_seq(tbs).kids or []).append(parse(ext(oid, value, critical)))

    return edit


def _sct_list(logged: dt.datetime) -> bytes:
    """An SCT list extension value holding one v1 SCT stamped `logged` (signature empty)."""
    millis = round(logged.timestamp() * 1000)
    sct = b"\x00" + b"\x11" * 32 + millis.to_bytes(8) + b"\x00\x00" + b"\x04\x03\x00\x00"
    body = len(sct).to_bytes(2) + sct
    return tlv(0x04, len(body).to_bytes(2) + body)


def _drop_extensions(tbs: Node) -> None:
    tbs.kids = [k for k in tbs.kids or [] if k.tag != 0xA3]


def _ocsp_error_with_bytes() -> bytes:
    top = parse(make_ocsp())
    top[0].content = b"\x01"  # malformedRequest, yet the signed response bytes stay
    return top.encode()


_URI_CRL = tlv(0x86, b"http://r1.example.com/r1.crl")
_CRLDP_VALUE = sequence(sequence(tlv(0xA0, tlv(0xA0, _URI_CRL))))
_DV_POLICY = sequence(sequence(encode_oid(DV)))
_SERVER_EKU = sequence(encode_oid("1.3.6.1.5.5.7.3.1"))
_OCSP_AIA = sequence(sequence(encode_oid("1.3.6.1.5.5.7.48.1"), tlv(0x86, b"http://o.example")))


def _responder_with(extension: x509.ExtensionType) -> Callable[[], bytes]:
    return lambda: ocsp_responder_cert(extra=[(extension, False)])


def _responder_edit(edit: Callable[[Node], None]) -> Callable[[], bytes]:
    return lambda: resign(ocsp_responder_cert(), edit)


SUB = CertType.SUBORDINATE_CA
SERVER = ExtendedKeyUsageOID.SERVER_AUTH

# Failing cases of the lints the per-area tables do not cover. Each row must make its
# lint fire (checked below); the catalogue test reads the lint ids from here.
CASES: list[Case] = [
    # basicConstraints, keyUsage, extKeyUsage of CA and responder certificates
    Case("e_ca_basic_constraints_missing", sub_ca_edit(without(BC)), cert_type=SUB),
    Case("e_ca_basic_constraints_not_critical", sub_ca_edit(_ext_critical(BC, None))),
    Case("e_ca_basic_constraints_ca_false", sub_ca_edit(_ext_value(BC, sequence())), cert_type=SUB),
    Case(
        "e_basic_constraints_path_length_invalid",
        sub_ca_edit(_ext_value(BC, sequence(tlv(0x01, b"\xff"), tlv(0x02, b"\xff")))),
    ),
    Case(
        "w_root_path_length_present",
        root_edit(_ext_value(BC, sequence(tlv(0x01, b"\xff"), tlv(0x02, b"\x00")))),
    ),
    Case("e_key_usage_missing", sub_ca_edit(without(KU))),
    Case("e_key_usage_not_critical", sub_ca_edit(_ext_critical(KU, None))),
    Case("e_ca_key_usage_missing_cert_sign", sub_ca_edit(_ext_value(KU, tlv(0x03, b"\x07\x80")))),
    Case("e_ca_key_usage_forbidden_bits", sub_ca_edit(_ext_value(KU, tlv(0x03, b"\x01\xa6")))),
    Case(
        "w_sub_key_usage_not_recommended_bits",
        lambda: leaf(key=rsa_key(), ku=key_usage("digital_signature", "data_encipherment")),
    ),
    Case("e_ocsp_responder_key_usage", _responder_edit(_ext_value(KU, tlv(0x03, b"\x05\xa0")))),
    Case(
        "e_eku_empty_or_duplicate",
        leaf_edit(_ext_value(EKU, sequence(encode_oid("1.3.6.1.5.5.7.3.1") * 2))),
    ),
    Case("e_root_eku_present", root_edit(_add_ext(EKU, _SERVER_EKU))),
    Case("e_sub_ca_eku_invalid", sub_ca_edit(_ext_value(EKU, sequence(encode_oid("2.5.29.37.0"))))),
    Case("w_sub_ca_eku_missing", sub_ca_edit(without(EKU))),
    Case(
        "e_ocsp_responder_eku_invalid",
        lambda: ocsp_responder_cert(eku=[ExtendedKeyUsageOID.OCSP_SIGNING, SERVER]),
    ),
    # names, identifiers, access methods
    Case(
        "e_ocsp_responder_san_present",
        _responder_with(x509.SubjectAlternativeName([x509.DNSName("ocsp.example.com")])),
    ),
    Case(
        "w_name_constraints_not_critical",
        sub_ca_edit(_add_ext(NC, sequence(tlv(0xA0, sequence(tlv(0x82, b"example.com")))))),
    ),
    Case("e_ca_ski_missing", sub_ca_edit(without(SKI))),
    Case("e_ski_critical", sub_ca_edit(_ext_critical(SKI, True))),
    Case("e_ski_empty", sub_ca_edit(_ext_value(SKI, tlv(0x04, b"")))),
    Case("w_sub_ca_aia_missing", sub_ca_edit(without(AIA))),
    Case("e_aia_critical", leaf_edit(_ext_critical(AIA, True))),
    Case("w_sub_aia_ca_issuers_missing", leaf_edit(_ext_value(AIA, _OCSP_AIA))),
    Case("e_ocsp_responder_aia_ocsp_present", _responder_edit(_add_ext(AIA, _OCSP_AIA))),
    Case("e_crldp_critical", leaf_edit(_ext_critical(CRLDP, True))),
    Case("e_ocsp_responder_crldp_present", _responder_edit(_add_ext(CRLDP, _CRLDP_VALUE))),
    Case("w_root_crldp_present", root_edit(_add_ext(CRLDP, _CRLDP_VALUE))),
    # policies
    Case(
        "e_policies_duplicate",
        leaf_edit(_ext_value(POLICIES, sequence(sequence(encode_oid(DV)) * 2))),
    ),
    Case(
        "e_policy_qualifier_invalid",
        leaf_edit(
            _ext_value(
                POLICIES,
                sequence(
                    sequence(
                        encode_oid(DV),
                        sequence(sequence(encode_oid("1.3.6.1.5.5.7.2.1"), tlv(0x16, b"ftp://x"))),
                    )
                ),
            )
        ),
    ),
    Case("e_ocsp_responder_policies_present", _responder_edit(_add_ext(POLICIES, _DV_POLICY))),
    Case("w_root_policies_present", root_edit(_add_ext(POLICIES, _DV_POLICY))),
    # certificate transparency, responder extensions
    Case(
        "e_precert_has_sct_list",
        leaf_edit(_add_ext(SCT_LIST, tlv(0x04, b"\x00\x00")), poison=True),
    ),
    Case("e_sct_list_critical", leaf_edit(_add_ext(SCT_LIST, tlv(0x04, b"\x00\x00"), True))),
    # logged 49 hours after notBefore: signed (just before logging) more than 48 h after it
    Case(
        "e_cert_backdated_before_its_scts",
        leaf_edit(_add_ext(SCT_LIST, _sct_list(T0 + dt.timedelta(hours=49)))),
    ),
    Case(
        "e_ocsp_responder_nocheck_invalid",
        lambda: ocsp_responder_cert(nocheck=False),
        cert_type=CertType.OCSP_RESPONDER,
    ),
    # the issuing CA and the profile
    Case(
        "e_cert_signature_invalid",
        lambda: resign(leaf(), lambda t: None, key=ec_key("p256", 99)),
        ctx=ISSUER,
    ),
    Case("e_cert_issuer_name_mismatch", leaf, ctx=OTHER_ISSUER),
    Case("e_cert_aki_mismatch", leaf, ctx=OTHER_ISSUER),
    Case("e_cert_ecdsa_hash_mismatch", lambda: leaf(hash_alg=hashes.SHA384()), ctx=ISSUER),
    Case("e_ocsp_responder_not_issued_by_ca", ocsp_responder_cert, ctx=OTHER_ISSUER),
    Case("e_profile_policy_mismatch", leaf, ctx=profile(policy_oids=("2.23.140.1.2.2",))),
    Case("e_profile_aia_mismatch", leaf, ctx=profile(ca_issuers_urls=("http://x.example/c",))),
    Case("e_profile_crldp_mismatch", leaf, ctx=profile(crl_urls=("http://x.example/1.crl",))),
    Case("e_profile_key_usage_mismatch", leaf, ctx=profile(key_usage=("key_agreement",))),
    Case("e_profile_eku_mismatch", leaf, ctx=profile(extended_key_usage=("1.3.6.1.5.5.7.3.2",))),
    # keys and signatures
    Case("e_cert_spki_unused_bits", leaf_edit(set_spki_bits(b"\x01" + b"\x04" * 65))),
    Case(
        "e_cert_rsa_key_malformed",
        leaf_edit(set_spki_bits(b"\x00" + sequence(encode_integer(7))), key=rsa_key()),
    ),
    Case(
        "e_cert_rsa_exponent_invalid",
        leaf_edit(set_spki_bits(_rsa_public(_rsa_n(), 65536)), key=rsa_key()),
    ),
    Case(
        "e_cert_rsa_modulus_weak",
        leaf_edit(set_spki_bits(_rsa_public(_rsa_n() - _rsa_n() % 3, 65537)), key=rsa_key()),
    ),
    Case("e_cert_ec_point_invalid", leaf_edit(set_spki_bits(_bad_ec_point()))),
    Case("e_cert_signature_unused_bits", _signature_unused_bits),
    # validity and structure
    Case(
        "e_root_validity_out_of_range",
        root_edit(
            lambda tbs: (tbs.kids or []).__setitem__(
                4, Node(0x30, kids=[time_node("240101000000Z"), time_node("250101000000Z")])
            )
        ),
    ),
    Case(
        "w_cert_not_before_backdated",
        leaf,
        ctx=LintContext(extra={"now": dt.datetime(2025, 6, 4, 12, tzinfo=dt.UTC)}),
    ),
    Case("e_cert_extensions_missing", leaf_edit(_drop_extensions), cert_type=CertType.SUBSCRIBER),
    Case("e_cert_issuer_name_empty", leaf_edit(set_field(3, sequence()))),
    Case("e_ca_subject_empty", sub_ca_edit(set_field(5, sequence()))),
    Case("e_issuer_string_encoding", leaf_edit(set_field(3, _name(("2.5.4.3", 0x13, b"a@b"))))),
    # subject
    Case(
        "e_subject_attribute_empty",
        lambda: leaf(subject=x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, " ")])),
    ),
    Case(
        "e_sub_subject_email_present",
        lambda: leaf(
            subject=x509.Name([x509.NameAttribute(NameOID.EMAIL_ADDRESS, "a@example.com")])
        ),
    ),
    Case("e_iv_subject_required_missing", lambda: leaf(policies=["2.23.140.1.2.3"])),
    # CRLs
    Case("e_crl_issuer_empty", lambda: resign(make_crl(), set_field(2, sequence())), "crl"),
    Case("e_crl_extensions_missing", lambda: make_crl(extensions=[]), "crl"),
    Case(
        "e_crl_extension_critical_false_encoded",
        lambda: make_crl(
            extensions=[
                std_exts()[0],
                sequence(encode_oid("2.5.29.20"), tlv(0x01, b"\x00"), tlv(0x04, encode_integer(7))),
            ]
        ),
        "crl",
    ),
    Case(
        "w_crl_entry_certificate_issuer",
        lambda: make_crl(
            [crl_entry(0x7B01, exts=[ext("2.5.29.29", sequence(tlv(0xA4, _name())), True)])]
        ),
        "crl",
    ),
    Case("e_crl_signature_invalid", make_crl, "crl", ctx=OTHER_ISSUER),
    Case("e_crl_issuer_name_mismatch", make_crl, "crl", ctx=OTHER_ISSUER),
    Case("e_crl_aki_mismatch", make_crl, "crl", ctx=OTHER_ISSUER),
    # OCSP
    Case("e_ocsp_response_bytes_inconsistent", _ocsp_error_with_bytes, "ocsp"),
    Case(
        "e_ocsp_delegated_responder_not_issued_by_ca",
        lambda: make_ocsp(signer_key=ec_key("p256", 20), signer_cert=ocsp_responder_cert()),
        "ocsp",
        ctx=OTHER_ISSUER,
    ),
]


@pytest.mark.parametrize("case", CASES, ids=[c.lint_id for c in CASES])
def test_each_case_makes_its_lint_fire(case: Case) -> None:
    found = case.findings()
    assert case.lint_id in found, f"{case.lint_id} not in {sorted(found)}"
    assert "f_lint_crashed" not in found


# --- passing cases: compliant documents, with their complete finding sets -------------------

# name -> (the document, and everything certkeeper finds in it: warnings and notices too).
COMPLIANT: dict[str, tuple[Case, set[str]]] = {
    "subscriber, with its profile": (Case("", leaf, ctx=profile()), set()),
    "subscriber, RSA": (
        Case(
            "",
            lambda: leaf(
                key=rsa_key(),
                issuer=issuing_ca("rsa"),
                ku=key_usage("digital_signature", "key_encipherment"),
            ),
            ctx=OTHER_ISSUER,
        ),
        set(),
    ),
    "precertificate": (Case("", lambda: leaf(poison=True), ctx=ISSUER), set()),
    "OCSP responder": (Case("", ocsp_responder_cert, ctx=ISSUER), set()),
    "subordinate CA": (Case("", lambda: issuing_ca("ec").der, ctx=ROOT_ISSUER), set()),
    "subordinate CA without AIA": (Case("", sub_ca, ctx=ROOT_ISSUER), {"w_sub_ca_aia_missing"}),
    "precertificate signing CA": (
        Case("", precert_ca, ctx=ROOT_ISSUER),
        {"w_sub_ca_aia_missing"},
    ),
    "root": (Case("", lambda: root().der), set()),
    "CRL": (
        Case(
            "",
            lambda: make_crl(
                [crl_entry(0x7A00 + i) for i in range(3)],
                extensions=std_exts(crl_ocsp_tests.idp_ext()),
            ),
            "crl",
            ctx=ISSUER,
        ),
        set(),
    ),
    "OCSP response": (Case("", make_ocsp, "ocsp", ctx=ISSUER), set()),
    "OCSP response, delegated": (
        Case(
            "",
            lambda: make_ocsp(signer_key=ec_key("p256", 20), signer_cert=ocsp_responder_cert()),
            "ocsp",
            ctx=ISSUER,
        ),
        set(),
    ),
}

# Passing cases for lints no compliant document above is in force for.
PASSING: list[Case] = [
    # Before BR 7.1.2.4 retires the profile, a precertificate signing CA passes.
    Case(
        "e_precert_signing_ca_retired",
        lambda: precert_ca(not_before=dt.datetime(2026, 3, 14, tzinfo=dt.UTC)),
        ctx=ROOT_ISSUER,
    ),
    # A non-TLS subordinate CA (S/MIME purpose, its own policy) meets BR 7.1.2.3.
    *(
        Case(
            lint_id,
            lambda: sub_ca(
                eku=[ExtendedKeyUsageOID.EMAIL_PROTECTION],
                policies=[x509.ObjectIdentifier("1.3.6.1.4.1.55555.1")],
            ),
            cert_type=CertType.NON_TLS_CA,
            ctx=ROOT_ISSUER,
        )
        for lint_id in ("e_non_tls_ca_eku_invalid", "e_non_tls_ca_policies_invalid")
    ),
    # Logged a minute after notBefore, as a precertificate is when it is signed.
    Case(
        "e_cert_backdated_before_its_scts",
        leaf_edit(_add_ext(SCT_LIST, _sct_list(T0 + dt.timedelta(minutes=1)))),
    ),
    # Before SC27, a version 2 onion name with its TorServiceDescriptor (ballot 201).
    Case("e_tor_service_descriptor_invalid", lambda: onion_leaf(tor_descriptor())),
    # Before SC-063, a subscriber certificate with its OCSP URL.
    Case(
        "e_sub_ocsp_url_missing",
        lambda: leaf(
            not_before=dt.datetime(2024, 3, 14, tzinfo=dt.UTC), ocsp_url="http://ocsp.example.com"
        ),
    ),
]


@pytest.mark.parametrize("name", sorted(COMPLIANT))
def test_compliant_documents_pin_their_complete_finding_set(name: str) -> None:
    case, expected = COMPLIANT[name]
    assert case.findings() == expected


@pytest.mark.parametrize("case", PASSING, ids=[c.lint_id for c in PASSING])
def test_each_passing_case_stays_silent(case: Case) -> None:
    lint = REGISTRY.lints[case.lint_id]
    doc = case.document()
    assert doc.doc_type in lint.doc_types and (doc.cert_type in lint.cert_types)
    assert case.lint_id not in case.findings()


# --- the catalogue checks -------------------------------------------------------------------


def _asserted_in(tree: ast.AST) -> set[str]:
    """Ids in `assert "id" in <findings>` and in the rows of module-level `*CASES` tables."""
    out: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Assert):
            for cmp in ast.walk(node.test):
                if (
                    isinstance(cmp, ast.Compare)
                    and isinstance(cmp.left, ast.Constant)
                    and isinstance(cmp.left.value, str)
                    and isinstance(cmp.ops[0], ast.In)
                ):
                    out.add(cmp.left.value)
        elif (
            isinstance(node, ast.AnnAssign | ast.Assign)
            and isinstance(node.value, ast.List)
            and any(
                isinstance(t, ast.Name) and t.id.endswith("CASES")
                for t in ([node.target] if isinstance(node, ast.AnnAssign) else node.targets)
            )
        ):
            for row in node.value.elts:
                first = row.elts[0] if isinstance(row, ast.Tuple) and row.elts else None
                if isinstance(row, ast.Call) and row.args:
                    first = row.args[0]
                if isinstance(first, ast.Constant) and isinstance(first.value, str):
                    out.add(first.value)
    return out


def failing_case_ids() -> set[str]:
    """Every lint id a test shows firing: a case-table row (each table has a test that
    runs its rows) or an `assert "id" in findings` in a lint test module."""
    out: set[str] = set()
    for path in sorted(TESTS.glob("test_*.py")):
        out |= _asserted_in(ast.parse(path.read_text(encoding="utf-8")))
    return out


def passing_case_ids() -> set[str]:
    """Every lint that is in force for a compliant document and silent on it."""
    out = {c.lint_id for c in PASSING}
    for case, expected in COMPLIANT.values():
        doc = case.document()
        for lint in all_lints():
            if AUDIT in lint.sets and lint.applies_to(doc) and lint.id not in expected:
                out.add(lint.id)
    return out


def modules_declaring_lints() -> set[str]:
    """Every module under certkeeper.lint that calls the `lint` decorator."""
    out: set[str] = set()
    for path in sorted(LINT_SRC.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            is_lint = isinstance(node, ast.Call) and isinstance(node.func, ast.Name)
            if is_lint and node.func.id == "lint":  # type: ignore[attr-defined]
                rel = path.relative_to(LINT_SRC.parent.parent).with_suffix("")
                out.add(".".join(rel.parts))
    return out


def test_every_lint_module_is_registered() -> None:
    """A module that writes lints but that `load_all` does not import fails here."""
    registered = {lint.check.__module__ for lint in all_lints()}
    assert modules_declaring_lints() - registered == set()


def test_every_lint_has_a_failing_case() -> None:
    have = failing_case_ids()
    missing = [lint.id for lint in all_lints() if lint.id not in have]
    assert missing == [], "add a failing row for these lints to CASES in test_lint_catalogue.py"


def test_every_lint_has_a_passing_case() -> None:
    have = passing_case_ids()
    missing = [lint.id for lint in all_lints() if lint.id not in have]
    assert missing == [], "add a compliant document or a PASSING row for these lints"
