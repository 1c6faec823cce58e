"""Certificate extensions: presence, criticality and content (BR 7.1.2, RFC 5280 4.2)."""

from __future__ import annotations

from collections.abc import Iterable

from certkeeper import br
from certkeeper.lint.cert.common import since
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.values import GN_URI
from certkeeper.lint.engine import (
    CA_TYPES,
    LEAF_TYPES,
    CertType,
    DocType,
    Severity,
    lint,
)
from certkeeper.x509.der import DerError, header
from certkeeper.x509.oids import (
    AD_CA_ISSUERS,
    AD_OCSP,
    ALG_EC,
    ALG_RSA,
    EKU_ANY,
    EKU_CLIENT_AUTH,
    EKU_CODE_SIGNING,
    EKU_EMAIL,
    EKU_OCSP_SIGNING,
    EKU_PRECERT_SIGNING,
    EKU_SERVER_AUTH,
    EKU_TIME_STAMPING,
    OID_AIA,
    OID_AKI,
    OID_BASIC_CONSTRAINTS,
    OID_CERT_POLICIES,
    OID_CRLDP,
    OID_CT_POISON,
    OID_EKU,
    OID_KEY_USAGE,
    OID_NAME_CONSTRAINTS,
    OID_OCSP_NOCHECK,
    OID_SAN,
    OID_SCT_LIST,
    OID_SKI,
    POLICY_ANY,
    QT_CPS,
    QT_UNOTICE,
    RESERVED_POLICIES,
)

CERT = (DocType.CERTIFICATE,)
Out = Iterable[tuple[str, str]]
EXT = "tbsCertificate.extensions"
NON_ROOT = frozenset(CertType) - {CertType.ROOT}
BR2 = br.BR_2_0_PROFILES  # BR 2.0.0 (ballot SC-62) profiles take effect

EKU_NAMES = {
    EKU_SERVER_AUTH: "serverAuth",
    EKU_CLIENT_AUTH: "clientAuth",
    EKU_CODE_SIGNING: "codeSigning",
    EKU_EMAIL: "emailProtection",
    EKU_TIME_STAMPING: "timeStamping",
    EKU_OCSP_SIGNING: "OCSPSigning",
    EKU_ANY: "anyExtendedKeyUsage",
    EKU_PRECERT_SIGNING: "precertificateSigning",
}


def _crit(doc: CertificateDocument, oid: str) -> bool | None:
    ext = doc.ext.get(oid)
    return None if ext is None else ext.critical


def _missing(doc: CertificateDocument, oid: str, name: str) -> Out:
    if doc.tbs_raw is not None and oid not in doc.ext and not doc.structure_errors:
        return [(EXT, f"{name} extension is absent")]
    return ()


def _must_be_critical(doc: CertificateDocument, oid: str, name: str) -> Out:
    if _crit(doc, oid) is False:
        return [(f"{EXT}.{name}", f"{name} is not marked critical")]
    return ()


def _must_not_be_critical(doc: CertificateDocument, oid: str, name: str) -> Out:
    if _crit(doc, oid):
        return [(f"{EXT}.{name}", f"{name} is marked critical")]
    return ()


def _must_be_absent(doc: CertificateDocument, oid: str, name: str) -> Out:
    if oid in doc.ext:
        return [(f"{EXT}.{name}", f"{name} is present")]
    return ()


# --- basicConstraints -------------------------------------------------------------------


@lint(
    "e_ca_basic_constraints_missing",
    Severity.ERROR,
    "RFC 5280 4.2.1.9; BR 7.1.2.1.4; BR 7.1.2.10.4",
    "CA certificates must include basicConstraints.",
    CERT,
    cert_types=CA_TYPES,
)
def ca_bc_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_BASIC_CONSTRAINTS, "basicConstraints")


@lint(
    "e_ca_basic_constraints_not_critical",
    Severity.ERROR,
    "RFC 5280 4.2.1.9; BR 7.1.2.1.4; BR 7.1.2.10.4",
    "A CA certificate's basicConstraints must be marked critical.",
    CERT,
    cert_types=CA_TYPES,
)
def ca_bc_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_critical(doc, OID_BASIC_CONSTRAINTS, "basicConstraints")


@lint(
    "e_sub_basic_constraints_not_critical",
    Severity.ERROR,
    "BR 7.1.2.7.6; BR 7.1.2.8.2",
    "basicConstraints in a subscriber or OCSP responder certificate, when present, must "
    "be marked critical.",
    CERT,
    cert_types=LEAF_TYPES | {CertType.OCSP_RESPONDER},
    effective=BR2,
)
def sub_bc_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_critical(doc, OID_BASIC_CONSTRAINTS, "basicConstraints")


@lint(
    "e_ca_basic_constraints_ca_false",
    Severity.ERROR,
    "RFC 5280 4.2.1.9; BR 7.1.2.10.4",
    "A CA certificate must assert cA TRUE.",
    CERT,
    cert_types=CA_TYPES,
)
def ca_bc_false(doc: CertificateDocument, ctx: LintContext) -> Out:
    bc = doc.safe("basic_constraints")
    if OID_BASIC_CONSTRAINTS in doc.ext and bc is not None and not bc.ca:
        return [(f"{EXT}.basicConstraints", "cA is FALSE in a CA certificate")]
    return ()


@lint(
    "e_leaf_basic_constraints_ca_true",
    Severity.ERROR,
    "BR 7.1.2.7.8; BR 7.1.2.8.4",
    "A subscriber or OCSP responder certificate must not assert cA TRUE or a path length.",
    CERT,
    cert_types=LEAF_TYPES | {CertType.OCSP_RESPONDER},
)
def leaf_bc(doc: CertificateDocument, ctx: LintContext) -> Out:
    bc = doc.safe("basic_constraints")
    out = []
    if bc is not None:
        if bc.ca:
            out.append((f"{EXT}.basicConstraints", "cA is TRUE in an end-entity certificate"))
        if bc.path_length is not None:
            out.append((f"{EXT}.basicConstraints", "pathLenConstraint is present"))
    return out


@lint(
    "e_basic_constraints_ca_false_encoded",
    Severity.ERROR,
    "X.690 11.5; RFC 5280 4.2.1.9",
    "cA FALSE is the DEFAULT and must be omitted in DER.",
    CERT,
)
def bc_false_encoded(doc: CertificateDocument, ctx: LintContext) -> Out:
    bc = doc.safe("basic_constraints")
    if bc is not None and bc.ca_encoded_false:
        return [(f"{EXT}.basicConstraints", "cA FALSE is encoded explicitly")]
    return ()


@lint(
    "e_basic_constraints_path_length_invalid",
    Severity.ERROR,
    "RFC 5280 4.2.1.9",
    "pathLenConstraint must be non-negative and only appear when cA is TRUE.",
    CERT,
    cert_types=CA_TYPES,
)
def bc_pathlen(doc: CertificateDocument, ctx: LintContext) -> Out:
    bc = doc.safe("basic_constraints")
    if bc is None or bc.path_length is None:
        return ()
    if bc.path_length < 0:
        return [(f"{EXT}.basicConstraints", f"pathLenConstraint is {bc.path_length}")]
    if not bc.ca:
        return [(f"{EXT}.basicConstraints", "pathLenConstraint with cA FALSE")]
    return ()


@lint(
    "w_root_path_length_present",
    Severity.WARNING,
    "BR 7.1.2.1.4",
    "pathLenConstraint in a root certificate is NOT RECOMMENDED.",
    CERT,
    cert_types=(CertType.ROOT,),
)
def root_pathlen(doc: CertificateDocument, ctx: LintContext) -> Out:
    bc = doc.safe("basic_constraints")
    if bc is not None and bc.path_length is not None:
        return [(f"{EXT}.basicConstraints", f"pathLenConstraint {bc.path_length} in a root")]
    return ()


# --- keyUsage ---------------------------------------------------------------------------


@lint(
    "e_key_usage_missing",
    Severity.ERROR,
    "RFC 5280 4.2.1.3; BR 7.1.2.1.5; BR 7.1.2.8.7; BR 7.1.2.10.7",
    "CA and OCSP responder certificates must include keyUsage.",
    CERT,
    cert_types=CA_TYPES | {CertType.OCSP_RESPONDER},
)
def ku_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_KEY_USAGE, "keyUsage")


@lint(
    "w_sub_key_usage_missing",
    Severity.WARNING,
    "BR 7.1.2.7.6",
    "Subscriber certificates SHOULD include keyUsage.",
    CERT,
    cert_types=LEAF_TYPES,
)
def sub_ku_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_KEY_USAGE, "keyUsage")


@lint(
    "e_key_usage_not_critical",
    Severity.ERROR,
    "RFC 5280 4.2.1.3; BR 7.1.2.1.5; BR 7.1.2.8.7; BR 7.1.2.10.7",
    "keyUsage must be critical in CA certificates (BR 1.0) and OCSP responder certificates "
    "(BR 2.0).",
    CERT,
    cert_types=CA_TYPES | {CertType.OCSP_RESPONDER},
    effective=br.BR_1_0,
    revised=BR2,
)
def ku_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.cert_type is CertType.OCSP_RESPONDER and not since(doc, ctx, BR2):
        return ()
    return _must_be_critical(doc, OID_KEY_USAGE, "keyUsage")


@lint(
    "w_sub_key_usage_not_critical",
    Severity.WARNING,
    "BR 7.1.2.7.6; RFC 5280 4.2.1.3",
    "keyUsage SHOULD be critical in subscriber certificates.",
    CERT,
    cert_types=LEAF_TYPES,
)
def sub_ku_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_critical(doc, OID_KEY_USAGE, "keyUsage")


@lint(
    "e_key_usage_empty",
    Severity.ERROR,
    "RFC 5280 4.2.1.3",
    "When keyUsage is present, at least one bit must be set.",
    CERT,
)
def ku_empty(doc: CertificateDocument, ctx: LintContext) -> Out:
    ku = doc.safe("key_usage")
    if ku is not None and not ku.bits:
        return [(f"{EXT}.keyUsage", "keyUsage has no bits set")]
    return ()


@lint(
    "e_key_usage_not_der",
    Severity.ERROR,
    "X.690 11.2.2; RFC 5280 4.2.1.3",
    "keyUsage is a named bit list: DER forbids trailing zero bits and nonzero unused bits.",
    CERT,
)
def ku_der(doc: CertificateDocument, ctx: LintContext) -> Out:
    ku = doc.safe("key_usage")
    if ku is not None and ku.bits and not ku.der_ok:
        return [(f"{EXT}.keyUsage", f"keyUsage bits {ku.hex} are not minimally encoded")]
    return ()


@lint(
    "e_ca_key_usage_missing_cert_sign",
    Severity.ERROR,
    "RFC 5280 4.2.1.3; BR 7.1.2.1.5; BR 7.1.2.10.7",
    "CA certificates must assert keyCertSign and cRLSign.",
    CERT,
    cert_types=CA_TYPES,
)
def ca_ku_bits(doc: CertificateDocument, ctx: LintContext) -> Out:
    ku = doc.safe("key_usage")
    if ku is None:
        return ()
    missing = [b for b in ("key_cert_sign", "crl_sign") if b not in ku.bits]
    if missing:
        return [(f"{EXT}.keyUsage", f"CA keyUsage lacks {', '.join(missing)}")]
    return ()


@lint(
    "e_ca_key_usage_forbidden_bits",
    Severity.ERROR,
    "BR 7.1.2.1.5; BR 7.1.2.10.7",
    "CA keyUsage may only hold keyCertSign, cRLSign and digitalSignature.",
    CERT,
    cert_types=CA_TYPES,
    effective=BR2,
)
def ca_ku_extra(doc: CertificateDocument, ctx: LintContext) -> Out:
    ku = doc.safe("key_usage")
    if ku is None:
        return ()
    extra = sorted(ku.bits - {"key_cert_sign", "crl_sign", "digital_signature"})
    if extra:
        return [(f"{EXT}.keyUsage", f"CA keyUsage asserts {', '.join(extra)}")]
    return ()


_RSA_LEAF_KU = frozenset({"digital_signature", "key_encipherment", "data_encipherment"})
_EC_LEAF_KU = frozenset({"digital_signature", "key_agreement"})


@lint(
    "e_sub_key_usage_forbidden_bits",
    Severity.ERROR,
    "BR 7.1.2.7.11",
    "Subscriber keyUsage bits must fit the key type: RSA may assert digitalSignature, "
    "keyEncipherment, dataEncipherment; ECDSA may assert digitalSignature, keyAgreement "
    "(never keyEncipherment); never keyCertSign or cRLSign.",
    CERT,
    cert_types=LEAF_TYPES,
)
def sub_ku_bits(doc: CertificateDocument, ctx: LintContext) -> Out:
    ku = doc.safe("key_usage")
    alg = doc.spki_alg
    if ku is None or alg is None:
        return ()
    if alg.oid == ALG_RSA:
        allowed, key = _RSA_LEAF_KU, "RSA"
    elif alg.oid == ALG_EC:
        allowed, key = _EC_LEAF_KU, "ECDSA"
    else:
        return ()
    extra = sorted(ku.bits - allowed)
    if extra:
        return [(f"{EXT}.keyUsage", f"{key} subscriber keyUsage asserts {', '.join(extra)}")]
    return ()


@lint(
    "e_sub_ecdsa_key_usage_missing_digital_signature",
    Severity.ERROR,
    "BR 7.1.2.7.11",
    "An ECDSA subscriber certificate's keyUsage must assert digitalSignature.",
    CERT,
    cert_types=LEAF_TYPES,
)
def sub_ec_ds(doc: CertificateDocument, ctx: LintContext) -> Out:
    ku = doc.safe("key_usage")
    alg = doc.spki_alg
    if (
        ku is not None
        and alg is not None
        and alg.oid == ALG_EC
        and "digital_signature" not in ku.bits
    ):
        return [(f"{EXT}.keyUsage", "ECDSA key without digitalSignature")]
    return ()


@lint(
    "w_sub_rsa_key_usage_missing_digital_signature",
    Severity.WARNING,
    "BR 7.1.2.7.11",
    "An RSA subscriber certificate's keyUsage SHOULD assert digitalSignature.",
    CERT,
    cert_types=LEAF_TYPES,
)
def sub_rsa_ds(doc: CertificateDocument, ctx: LintContext) -> Out:
    ku = doc.safe("key_usage")
    alg = doc.spki_alg
    if (
        ku is not None
        and alg is not None
        and alg.oid == ALG_RSA
        and "digital_signature" not in ku.bits
    ):
        return [(f"{EXT}.keyUsage", "RSA key without digitalSignature")]
    return ()


@lint(
    "w_sub_key_usage_not_recommended_bits",
    Severity.WARNING,
    "BR 7.1.2.7.11",
    "dataEncipherment (RSA) and keyAgreement (ECDSA) are NOT RECOMMENDED.",
    CERT,
    cert_types=LEAF_TYPES,
)
def sub_ku_not_recommended(doc: CertificateDocument, ctx: LintContext) -> Out:
    ku = doc.safe("key_usage")
    alg = doc.spki_alg
    if ku is None or alg is None:
        return ()
    bit = (
        "data_encipherment"
        if alg.oid == ALG_RSA
        else "key_agreement"
        if alg.oid == ALG_EC
        else None
    )
    if bit and bit in ku.bits:
        return [(f"{EXT}.keyUsage", f"keyUsage asserts {bit}")]
    return ()


@lint(
    "e_ocsp_responder_key_usage",
    Severity.ERROR,
    "BR 7.1.2.8.7",
    "An OCSP responder certificate's keyUsage must be exactly digitalSignature.",
    CERT,
    cert_types=(CertType.OCSP_RESPONDER,),
)
def ocsp_ku(doc: CertificateDocument, ctx: LintContext) -> Out:
    ku = doc.safe("key_usage")
    if ku is not None and ku.bits != {"digital_signature"}:
        return [(f"{EXT}.keyUsage", f"keyUsage is {', '.join(sorted(ku.bits)) or 'empty'}")]
    return ()


# --- extKeyUsage ------------------------------------------------------------------------


@lint(
    "e_sub_eku_missing",
    Severity.ERROR,
    "BR 7.1.2.7.6; BR 7.1.2.8.2",
    "Subscriber and OCSP responder certificates must include extKeyUsage.",
    CERT,
    cert_types=LEAF_TYPES | {CertType.OCSP_RESPONDER},
)
def eku_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_EKU, "extKeyUsage")


@lint(
    "e_sub_eku_server_auth_missing",
    Severity.ERROR,
    "BR 7.1.2.7.10",
    "A subscriber certificate's extKeyUsage must include id-kp-serverAuth.",
    CERT,
    cert_types=LEAF_TYPES,
)
def eku_server_auth(doc: CertificateDocument, ctx: LintContext) -> Out:
    eku = doc.safe("eku")
    if eku is not None and EKU_SERVER_AUTH not in eku:
        return [(f"{EXT}.extKeyUsage", "id-kp-serverAuth is absent")]
    return ()


_SUB_EKU_FORBIDDEN = (
    EKU_ANY,
    EKU_CODE_SIGNING,
    EKU_EMAIL,
    EKU_TIME_STAMPING,
    EKU_OCSP_SIGNING,
    EKU_PRECERT_SIGNING,
)


@lint(
    "e_sub_eku_forbidden",
    Severity.ERROR,
    "BR 7.1.2.7.10",
    "Subscriber extKeyUsage must not include anyExtendedKeyUsage, codeSigning, "
    "emailProtection, timeStamping, OCSPSigning or the precertificate signing purpose.",
    CERT,
    cert_types=LEAF_TYPES,
)
def eku_forbidden(doc: CertificateDocument, ctx: LintContext) -> Out:
    eku = doc.safe("eku") or []
    return [
        (f"{EXT}.extKeyUsage", f"extKeyUsage includes {EKU_NAMES[oid]} ({oid})")
        for oid in eku
        if oid in _SUB_EKU_FORBIDDEN
    ]


@lint(
    "w_sub_eku_not_recommended",
    Severity.WARNING,
    "BR 7.1.2.7.10",
    "extKeyUsage purposes other than serverAuth and clientAuth are NOT RECOMMENDED.",
    CERT,
    cert_types=LEAF_TYPES,
)
def eku_other(doc: CertificateDocument, ctx: LintContext) -> Out:
    eku = doc.safe("eku") or []
    return [
        (f"{EXT}.extKeyUsage", f"extKeyUsage includes {oid}")
        for oid in eku
        if oid not in (EKU_SERVER_AUTH, EKU_CLIENT_AUTH) and oid not in _SUB_EKU_FORBIDDEN
    ]


@lint(
    "e_eku_empty_or_duplicate",
    Severity.ERROR,
    "RFC 5280 4.2.1.12",
    "extKeyUsage must list at least one purpose, each once.",
    CERT,
)
def eku_shape(doc: CertificateDocument, ctx: LintContext) -> Out:
    eku = doc.safe("eku")
    if eku is None:
        return ()
    if not eku:
        return [(f"{EXT}.extKeyUsage", "extKeyUsage is empty")]
    if len(set(eku)) != len(eku):
        return [(f"{EXT}.extKeyUsage", "extKeyUsage lists a purpose twice")]
    return ()


@lint(
    "e_eku_critical",
    Severity.ERROR,
    "BR 7.1.2.7.6; BR 7.1.2.10.6",
    "extKeyUsage must not be marked critical in TLS subscriber and CA certificates.",
    CERT,
    cert_types=LEAF_TYPES | CA_TYPES,
)
def eku_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_not_be_critical(doc, OID_EKU, "extKeyUsage")


@lint(
    "e_root_eku_present",
    Severity.ERROR,
    "BR 7.1.2.1.2",
    "Root CA certificates must not include extKeyUsage.",
    CERT,
    cert_types=(CertType.ROOT,),
    effective=br.BR_1_0,
)
def root_eku(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_absent(doc, OID_EKU, "extKeyUsage")


@lint(
    "e_sub_ca_eku_invalid",
    Severity.ERROR,
    "BR 7.1.2.10.6",
    "A TLS subordinate CA's extKeyUsage, when present, must include serverAuth, may include "
    "clientAuth, and must not include anyExtendedKeyUsage or other forbidden purposes.",
    CERT,
    cert_types=(CertType.SUBORDINATE_CA,),
    effective=BR2,
    tls_only=True,
)
def sub_ca_eku(doc: CertificateDocument, ctx: LintContext) -> Out:
    eku = doc.safe("eku")
    if eku is None:
        return ()
    out = []
    if EKU_SERVER_AUTH not in eku:
        out.append((f"{EXT}.extKeyUsage", "id-kp-serverAuth is absent"))
    for oid in eku:
        if oid in _SUB_EKU_FORBIDDEN:
            out.append((f"{EXT}.extKeyUsage", f"extKeyUsage includes {EKU_NAMES[oid]} ({oid})"))
    return out


@lint(
    "w_sub_ca_eku_missing",
    Severity.WARNING,
    "BR 7.1.2.10.6; Mozilla Root Store Policy 5.3",
    "A TLS subordinate CA without extKeyUsage is not technically limited to TLS.",
    CERT,
    cert_types=(CertType.SUBORDINATE_CA,),
    tls_only=True,
)
def sub_ca_eku_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_EKU, "extKeyUsage")


@lint(
    "e_ocsp_responder_eku_invalid",
    Severity.ERROR,
    "BR 7.1.2.8.5",
    "An OCSP responder certificate's extKeyUsage must be exactly id-kp-OCSPSigning.",
    CERT,
    cert_types=(CertType.OCSP_RESPONDER,),
)
def ocsp_eku(doc: CertificateDocument, ctx: LintContext) -> Out:
    eku = doc.safe("eku")
    if eku is not None and eku != [EKU_OCSP_SIGNING]:
        names = ", ".join(EKU_NAMES.get(o, o) for o in eku)
        return [(f"{EXT}.extKeyUsage", f"extKeyUsage is [{names}], must be [OCSPSigning]")]
    return ()


# --- subjectAltName presence ------------------------------------------------------------


@lint(
    "e_sub_san_missing",
    Severity.ERROR,
    "BR 7.1.2.7.6; BR 7.1.2.7.12",
    "Subscriber certificates must include subjectAltName.",
    CERT,
    cert_types=LEAF_TYPES,
)
def san_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_SAN, "subjectAltName")


@lint(
    "e_san_empty",
    Severity.ERROR,
    "RFC 5280 4.2.1.6",
    "subjectAltName must contain at least one name.",
    CERT,
)
def san_empty(doc: CertificateDocument, ctx: LintContext) -> Out:
    san = doc.safe("san")
    if san is not None and not san:
        return [(f"{EXT}.subjectAltName", "subjectAltName has no entries")]
    return ()


@lint(
    "e_san_criticality",
    Severity.ERROR,
    "RFC 5280 4.2.1.6; BR 7.1.2.7.12",
    "subjectAltName must be critical when the subject is empty, and not critical otherwise.",
    CERT,
    cert_types=LEAF_TYPES,
)
def san_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    crit = _crit(doc, OID_SAN)
    if crit is None or doc.subject_raw is None:
        return ()
    if not doc.subject and not crit:
        return [(f"{EXT}.subjectAltName", "subject is empty but subjectAltName is not critical")]
    if doc.subject and crit:
        return [(f"{EXT}.subjectAltName", "subject is not empty but subjectAltName is critical")]
    return ()


@lint(
    "e_ocsp_responder_san_present",
    Severity.ERROR,
    "BR 7.1.2.8.2",
    "OCSP responder certificates must not include subjectAltName.",
    CERT,
    cert_types=(CertType.OCSP_RESPONDER,),
    effective=BR2,
)
def ocsp_san(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_absent(doc, OID_SAN, "subjectAltName")


@lint(
    "e_name_constraints_in_end_entity",
    Severity.ERROR,
    "BR 7.1.2.7.6; BR 7.1.2.8.2; RFC 5280 4.2.1.10",
    "nameConstraints must only appear in CA certificates.",
    CERT,
    cert_types=LEAF_TYPES | {CertType.OCSP_RESPONDER},
)
def nc_leaf(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_absent(doc, OID_NAME_CONSTRAINTS, "nameConstraints")


@lint(
    "w_name_constraints_not_critical",
    Severity.WARNING,
    "RFC 5280 4.2.1.10; BR 7.1.2.10.8",
    "nameConstraints SHOULD be critical.",
    CERT,
    cert_types=CA_TYPES,
)
def nc_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_critical(doc, OID_NAME_CONSTRAINTS, "nameConstraints")


# --- authorityKeyIdentifier / subjectKeyIdentifier --------------------------------------


@lint(
    "e_aki_missing",
    Severity.ERROR,
    "RFC 5280 4.2.1.1; BR 7.1.2.11.1",
    "Certificates other than self-signed roots must include authorityKeyIdentifier.",
    CERT,
    cert_types=NON_ROOT,
)
def aki_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_AKI, "authorityKeyIdentifier")


@lint(
    "e_aki_critical",
    Severity.ERROR,
    "RFC 5280 4.2.1.1",
    "authorityKeyIdentifier must not be marked critical.",
    CERT,
)
def aki_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_not_be_critical(doc, OID_AKI, "authorityKeyIdentifier")


@lint(
    "e_aki_key_identifier_missing",
    Severity.ERROR,
    "RFC 5280 4.2.1.1; BR 7.1.2.11.1",
    "authorityKeyIdentifier must contain keyIdentifier.",
    CERT,
)
def aki_keyid(doc: CertificateDocument, ctx: LintContext) -> Out:
    aki = doc.safe("aki")
    if aki is not None and aki.key_id is None:
        return [(f"{EXT}.authorityKeyIdentifier", "keyIdentifier is absent")]
    return ()


@lint(
    "e_aki_issuer_and_serial_present",
    Severity.ERROR,
    "BR 7.1.2.11.1",
    "authorityCertIssuer and authorityCertSerialNumber must not be present.",
    CERT,
    cert_types=NON_ROOT,
    effective=BR2,
)
def aki_issuer_serial(doc: CertificateDocument, ctx: LintContext) -> Out:
    aki = doc.safe("aki")
    if aki is not None and (aki.has_issuer or aki.has_serial):
        return [(f"{EXT}.authorityKeyIdentifier", "authorityCertIssuer/SerialNumber present")]
    return ()


@lint(
    "e_ca_ski_missing",
    Severity.ERROR,
    "RFC 5280 4.2.1.2; BR 7.1.2.1.2; BR 7.1.2.10",
    "CA certificates must include subjectKeyIdentifier.",
    CERT,
    cert_types=CA_TYPES,
)
def ski_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_SKI, "subjectKeyIdentifier")


@lint(
    "e_ski_critical",
    Severity.ERROR,
    "RFC 5280 4.2.1.2",
    "subjectKeyIdentifier must not be marked critical.",
    CERT,
)
def ski_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_not_be_critical(doc, OID_SKI, "subjectKeyIdentifier")


@lint(
    "e_ski_empty",
    Severity.ERROR,
    "RFC 5280 4.2.1.2",
    "subjectKeyIdentifier must not be empty.",
    CERT,
)
def ski_empty(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.safe("ski") == b"":
        return [(f"{EXT}.subjectKeyIdentifier", "subjectKeyIdentifier is empty")]
    return ()


@lint(
    "n_sub_ski_present",
    Severity.NOTICE,
    "BR 7.1.2.7.6",
    "subjectKeyIdentifier in a subscriber certificate is NOT RECOMMENDED.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=BR2,
)
def sub_ski(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_absent(doc, OID_SKI, "subjectKeyIdentifier")


# --- authorityInformationAccess ---------------------------------------------------------


@lint(
    "e_sub_aia_missing",
    Severity.ERROR,
    "BR 7.1.2.7.6; BR 7.1.2.7.7",
    "Subscriber certificates must include authorityInformationAccess.",
    CERT,
    cert_types=LEAF_TYPES,
)
def aia_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_AIA, "authorityInformationAccess")


@lint(
    "w_sub_ca_aia_missing",
    Severity.WARNING,
    "BR 7.1.2.10.3",
    "Subordinate CA certificates should include authorityInformationAccess.",
    CERT,
    cert_types=(CertType.SUBORDINATE_CA, CertType.PRECERT_SIGNING_CA),
)
def ca_aia_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_AIA, "authorityInformationAccess")


@lint(
    "e_aia_critical",
    Severity.ERROR,
    "RFC 5280 4.2.2.1",
    "authorityInformationAccess must not be marked critical.",
    CERT,
)
def aia_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_not_be_critical(doc, OID_AIA, "authorityInformationAccess")


@lint(
    "e_aia_invalid",
    Severity.ERROR,
    "BR 7.1.2.7.7; BR 7.1.2.10.3",
    "Each AccessDescription must be id-ad-ocsp or id-ad-caIssuers with an http:// URI, "
    "and the extension must not be empty.",
    CERT,
    effective=BR2,
)
def aia_invalid(doc: CertificateDocument, ctx: LintContext) -> Out:
    aia = doc.safe("aia")
    if aia is None:
        return ()
    where = f"{EXT}.authorityInformationAccess"
    if not aia:
        return [(where, "authorityInformationAccess is empty")]
    out = []
    for method, name in aia:
        if method not in (AD_OCSP, AD_CA_ISSUERS):
            out.append((where, f"accessMethod {method} is not allowed"))
        elif name.tag != GN_URI:
            out.append((where, f"accessLocation for {method} is not a URI"))
        elif not name.text.lower().startswith("http://"):
            out.append((where, f"accessLocation {name.text!r} is not an http:// URL"))
    return out


@lint(
    "w_sub_aia_ca_issuers_missing",
    Severity.WARNING,
    "BR 7.1.2.7.7",
    "Subscriber authorityInformationAccess should include id-ad-caIssuers.",
    CERT,
    cert_types=LEAF_TYPES,
)
def aia_ca_issuers(doc: CertificateDocument, ctx: LintContext) -> Out:
    aia = doc.safe("aia")
    if aia and all(m != AD_CA_ISSUERS for m, _ in aia):
        return [(f"{EXT}.authorityInformationAccess", "no id-ad-caIssuers accessDescription")]
    return ()


@lint(
    "e_ocsp_responder_aia_ocsp_present",
    Severity.ERROR,
    "BR 7.1.2.8.3",
    "An OCSP responder certificate must not point at an OCSP responder (id-ad-ocsp).",
    CERT,
    cert_types=(CertType.OCSP_RESPONDER,),
)
def ocsp_aia(doc: CertificateDocument, ctx: LintContext) -> Out:
    aia = doc.safe("aia") or []
    if any(m == AD_OCSP for m, _ in aia):
        return [(f"{EXT}.authorityInformationAccess", "id-ad-ocsp accessDescription present")]
    return ()


# --- cRLDistributionPoints --------------------------------------------------------------


def _has_ocsp_url(doc: CertificateDocument) -> bool:
    return any(m == AD_OCSP for m, _ in (doc.safe("aia") or []))


@lint(
    "e_sub_ocsp_url_missing",
    Severity.ERROR,
    "BR 1.x 7.1.2.3 (c); BR 2.0.0 7.1.2.7.7",
    "Until ballot SC-063 (2024-03-15), a subscriber certificate's authorityInformationAccess "
    "must hold the issuing CA's OCSP URL.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.BR_1_0,
    ineffective=br.SUBSCRIBER_OCSP_URL_OPTIONAL_FROM,
)
def ocsp_url_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    if _has_ocsp_url(doc):
        return ()
    return [(f"{EXT}.authorityInformationAccess", "no id-ad-ocsp URL")]


def _short_lived(doc: CertificateDocument) -> bool:
    nb, na = doc.not_before, doc.not_after
    if not (nb and na and nb.value and na.value):
        return False
    return br.is_short_lived(nb.value, na.value)


@lint(
    "e_crldp_missing",
    Severity.ERROR,
    "BR 7.1.2.11.2; BR 1.x 7.1.2.2-3",
    "cRLDistributionPoints must be present in subordinate CA certificates, and in "
    "subscriber certificates that are not short-lived and have no OCSP URL.",
    CERT,
    cert_types=LEAF_TYPES | {CertType.SUBORDINATE_CA},
    effective=br.BR_1_0,
)
def crldp_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    if OID_CRLDP in doc.ext or doc.tbs_raw is None or doc.structure_errors:
        return ()
    if doc.cert_type is CertType.SUBORDINATE_CA:
        return [(EXT, "cRLDistributionPoints is absent from a subordinate CA certificate")]
    if _has_ocsp_url(doc) or _short_lived(doc):
        return ()
    return [(EXT, "cRLDistributionPoints is absent and there is no OCSP URL")]


@lint(
    "e_crldp_critical",
    Severity.ERROR,
    "BR 7.1.2.7.6; RFC 5280 4.2.1.13",
    "cRLDistributionPoints must not be marked critical.",
    CERT,
)
def crldp_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_not_be_critical(doc, OID_CRLDP, "cRLDistributionPoints")


@lint(
    "e_crldp_invalid",
    Severity.ERROR,
    "BR 7.1.2.11.2; BR 1.x 7.1.2.2-3",
    "Each DistributionPoint must have a fullName of http:// URIs and no reasons or cRLIssuer "
    "(before BR 2.0: the extension must hold an http:// URL).",
    CERT,
    effective=br.BR_1_0,
    revised=BR2,
)
def crldp_invalid(doc: CertificateDocument, ctx: LintContext) -> Out:
    dps = doc.safe("crldp")
    if dps is None:
        return ()
    where = f"{EXT}.cRLDistributionPoints"
    if not since(doc, ctx, BR2):
        uris = [gn.text for dp in dps for gn in dp.full_name or () if gn.tag == GN_URI]
        if any(u.lower().startswith("http://") for u in uris):
            return ()
        return [(where, "cRLDistributionPoints holds no http:// URL of a CRL")]
    if not dps:
        return [(where, "cRLDistributionPoints has no DistributionPoint")]
    out = []
    for i, dp in enumerate(dps):
        if dp.reasons:
            out.append((where, f"DistributionPoint {i} has reasons"))
        if dp.crl_issuer:
            out.append((where, f"DistributionPoint {i} has cRLIssuer"))
        if dp.full_name is None:
            out.append((where, f"DistributionPoint {i} has no fullName"))
            continue
        if not dp.full_name:
            out.append((where, f"DistributionPoint {i} fullName is empty"))
        for gn in dp.full_name:
            if gn.tag != GN_URI:
                out.append((where, f"DistributionPoint {i} names a non-URI GeneralName"))
            elif not gn.text.lower().startswith("http://"):
                out.append((where, f"DistributionPoint {i} URI {gn.text!r} is not http://"))
    return out


@lint(
    "e_ocsp_responder_crldp_present",
    Severity.ERROR,
    "BR 7.1.2.8.2; BR 7.1.2.11.2",
    "OCSP responder certificates must not include cRLDistributionPoints.",
    CERT,
    cert_types=(CertType.OCSP_RESPONDER,),
)
def ocsp_crldp(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_absent(doc, OID_CRLDP, "cRLDistributionPoints")


@lint(
    "w_root_crldp_present",
    Severity.WARNING,
    "BR 7.1.2.11.2",
    "cRLDistributionPoints SHOULD NOT be present in root certificates.",
    CERT,
    cert_types=(CertType.ROOT,),
)
def root_crldp(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_absent(doc, OID_CRLDP, "cRLDistributionPoints")


# --- certificatePolicies ----------------------------------------------------------------


@lint(
    "e_policies_missing",
    Severity.ERROR,
    "BR 7.1.2.7.6; BR 7.1.2.10.5",
    "Subscriber and subordinate CA certificates must include certificatePolicies.",
    CERT,
    cert_types=LEAF_TYPES | {CertType.SUBORDINATE_CA},
    tls_only=True,
)
def policies_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _missing(doc, OID_CERT_POLICIES, "certificatePolicies")


@lint(
    "e_policies_critical",
    Severity.ERROR,
    "BR 7.1.2.7.6; BR 7.1.2.10.5",
    "certificatePolicies must not be marked critical.",
    CERT,
    cert_types=LEAF_TYPES | {CertType.SUBORDINATE_CA, CertType.PRECERT_SIGNING_CA},
)
def policies_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_not_be_critical(doc, OID_CERT_POLICIES, "certificatePolicies")


@lint(
    "e_policies_duplicate",
    Severity.ERROR,
    "RFC 5280 4.2.1.4",
    "A policy OID must not appear more than once in certificatePolicies.",
    CERT,
)
def policies_dup(doc: CertificateDocument, ctx: LintContext) -> Out:
    oids = doc.policy_oids
    if len(set(oids)) != len(oids):
        return [(f"{EXT}.certificatePolicies", "a policy OID is listed twice")]
    return ()


@lint(
    "e_sub_reserved_policy_count",
    Severity.ERROR,
    "BR 7.1.2.7.9",
    "A subscriber certificate must contain exactly one CA/B Forum reserved policy OID.",
    CERT,
    cert_types=LEAF_TYPES,
)
def reserved_policy(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.safe("policies") is None:
        return ()
    reserved = [o for o in doc.policy_oids if o in RESERVED_POLICIES]
    if len(reserved) != 1:
        shown = ", ".join(reserved) or "none"
        return [(f"{EXT}.certificatePolicies", f"reserved policy OIDs: {shown}")]
    return ()


@lint(
    "e_sub_any_policy",
    Severity.ERROR,
    "BR 7.1.2.7.9",
    "anyPolicy must not appear in a subscriber certificate.",
    CERT,
    cert_types=LEAF_TYPES,
)
def sub_any_policy(doc: CertificateDocument, ctx: LintContext) -> Out:
    if POLICY_ANY in doc.policy_oids:
        return [(f"{EXT}.certificatePolicies", "anyPolicy (2.5.29.32.0) present")]
    return ()


@lint(
    "e_policy_qualifier_invalid",
    Severity.ERROR,
    "BR 7.1.2.7.9; BR 7.1.2.10.5; RFC 5280 4.2.1.4",
    "Policy qualifiers may only be id-qt-cps with an http(s) URL (before BR 2.0: anyPolicy "
    "may only carry id-qt-cps and id-qt-unotice qualifiers).",
    CERT,
    cert_types=LEAF_TYPES | {CertType.SUBORDINATE_CA, CertType.PRECERT_SIGNING_CA},
    revised=BR2,
)
def policy_qualifiers(doc: CertificateDocument, ctx: LintContext) -> Out:
    out = []
    br2 = since(doc, ctx, BR2)
    for p in doc.safe("policies") or []:
        for qoid, tag, value in p.qualifiers:
            where = f"{EXT}.certificatePolicies"
            if not br2:
                if p.oid == POLICY_ANY and qoid not in (QT_CPS, QT_UNOTICE):
                    out.append((where, f"anyPolicy has qualifier {qoid}"))
                continue
            if qoid == QT_UNOTICE:
                out.append((where, f"policy {p.oid} has a userNotice qualifier"))
            elif qoid != QT_CPS:
                out.append((where, f"policy {p.oid} has qualifier {qoid}"))
            elif tag != 0x16 or not value.lower().startswith((b"http://", b"https://")):
                out.append((where, f"policy {p.oid} CPS URI {value!r} is not an http(s) IA5String"))
    return out


@lint(
    "e_ocsp_responder_policies_present",
    Severity.ERROR,
    "BR 7.1.2.8.2; BR 7.1.2.8.8",
    "OCSP responder certificates must not include certificatePolicies.",
    CERT,
    cert_types=(CertType.OCSP_RESPONDER,),
    effective=BR2,
)
def ocsp_policies(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_absent(doc, OID_CERT_POLICIES, "certificatePolicies")


@lint(
    "w_root_policies_present",
    Severity.WARNING,
    "BR 7.1.2.1.2",
    "certificatePolicies in a root certificate is NOT RECOMMENDED.",
    CERT,
    cert_types=(CertType.ROOT,),
)
def root_policies(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_absent(doc, OID_CERT_POLICIES, "certificatePolicies")


# --- CT poison, OCSP no-check -----------------------------------------------------------


@lint(
    "e_precert_poison_invalid",
    Severity.ERROR,
    "RFC 6962 3.1",
    "The precertificate poison extension must be critical and hold ASN.1 NULL.",
    CERT,
    cert_types=(CertType.PRECERTIFICATE,),
)
def poison(doc: CertificateDocument, ctx: LintContext) -> Out:
    ext = doc.ext.get(OID_CT_POISON)
    where = f"{EXT}.ctPoison"
    if ext is None:
        if doc.tbs_raw is not None and not doc.structure_errors:
            return [(where, "precertificate without the CT poison extension")]
        return ()
    out = []
    if not ext.critical:
        out.append((where, "CT poison extension is not critical"))
    if ext.value != b"\x05\x00":
        out.append((where, f"CT poison value {ext.value.hex()} is not NULL (0500)"))
    return out


@lint(
    "e_poison_in_final_certificate",
    Severity.ERROR,
    "RFC 6962 3.1",
    "A certificate presented as a final certificate must not carry the CT poison.",
    CERT,
    cert_types=(CertType.SUBSCRIBER, CertType.SUBORDINATE_CA, CertType.ROOT),
)
def poison_final(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_absent(doc, OID_CT_POISON, "ctPoison")


@lint(
    "e_precert_has_sct_list",
    Severity.ERROR,
    "RFC 6962 3.1",
    "A precertificate must not contain an embedded SCT list.",
    CERT,
    cert_types=(CertType.PRECERTIFICATE,),
)
def precert_sct(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_be_absent(doc, OID_SCT_LIST, "signedCertificateTimestampList")


@lint(
    "e_ocsp_responder_nocheck_invalid",
    Severity.ERROR,
    "BR 7.1.2.8.6; BR 4.9.9; RFC 6960 4.2.2.2.1",
    "OCSP responder certificates must include id-pkix-ocsp-nocheck, non-critical, as NULL.",
    CERT,
    cert_types=(CertType.OCSP_RESPONDER,),
)
def nocheck(doc: CertificateDocument, ctx: LintContext) -> Out:
    ext = doc.ext.get(OID_OCSP_NOCHECK)
    where = f"{EXT}.ocspNoCheck"
    if ext is None:
        if doc.tbs_raw is not None and not doc.structure_errors:
            return [(where, "id-pkix-ocsp-nocheck is absent")]
        return ()
    out = []
    if ext.value != b"\x05\x00":
        out.append((where, f"id-pkix-ocsp-nocheck value {ext.value.hex()} is not NULL"))
    if ext.critical:
        out.append((where, "id-pkix-ocsp-nocheck is marked critical"))
    return out


@lint(
    "e_sct_list_critical",
    Severity.ERROR,
    "BR 7.1.2.7.6; RFC 6962 3.3",
    "The embedded SCT list extension must not be marked critical.",
    CERT,
)
def sct_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _must_not_be_critical(doc, OID_SCT_LIST, "signedCertificateTimestampList")


def sct_list(value: bytes) -> tuple[list[bytes], str | None]:
    """The SCTs of an SCT list extension value (an OCTET STRING holding the TLS-encoded
    SignedCertificateTimestampList), and what RFC 6962 3.3 rejects in it (then the SCTs
    read before the problem)."""
    try:
        tag, cs, ce = header(value, 0, len(value))
    except DerError as exc:
        return [], f"the value is not DER: {exc}"
    if tag != 0x04 or ce != len(value):
        return [], "the value is not one OCTET STRING"
    data = value[cs:ce]
    if len(data) < 2 or int.from_bytes(data[:2]) != len(data) - 2:
        return [], "the list length does not match its contents"
    if len(data) == 2:
        return [], "the list is empty"
    scts: list[bytes] = []
    pos = 2
    while pos < len(data):
        count = len(scts)
        if pos + 2 > len(data):
            return scts, f"SCT {count} has a truncated length"
        size = int.from_bytes(data[pos : pos + 2])
        # version (1) + log id (32) + timestamp (8) + extensions (2+) + algorithms (2) +
        # signature (2+): 47 octets at least.
        if size < 47 or pos + 2 + size > len(data):
            return scts, f"SCT {count} has length {size}, which does not fit"
        if data[pos + 2] != 0:
            return scts, f"SCT {count} has version {data[pos + 2]}, not v1 (0)"
        scts.append(data[pos + 2 : pos + 2 + size])
        pos += 2 + size
    return scts, None


def sct_list_problem(value: bytes) -> str | None:
    """What RFC 6962 3.3 rejects in an SCT list extension value, or None."""
    return sct_list(value)[1]


@lint(
    "e_sct_list_invalid",
    Severity.ERROR,
    "RFC 6962 3.3; BR 7.1.2.11.3",
    "The embedded SCT list must be a non-empty, correctly length-prefixed list of v1 SCTs.",
    CERT,
)
def sct_list_invalid(doc: CertificateDocument, ctx: LintContext) -> Out:
    ext = doc.ext.get(OID_SCT_LIST)
    problem = None if ext is None else sct_list_problem(ext.value)
    return [] if problem is None else [(f"{EXT}.signedCertificateTimestampList", problem)]
