"""Certificate structure: DER, version, serial, algorithms, validity, extension list."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import UTC, datetime

from certkeeper import br
from certkeeper.lint.cert.common import (
    FRACTION,
    INVALID,
    NO_SECONDS,
    NOT_ZULU,
    SIG_NAMES,
    WRONG_TYPE,
    describe_alg,
    fmt_span,
    sig_alg_problem,
    span_seconds,
    time_problems,
)
from certkeeper.lint.cert.extensions import sct_list
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import (
    CA_TYPES,
    LEAF_TYPES,
    CertType,
    DocType,
    Severity,
    lint,
)
from certkeeper.x509.oids import (
    OID_AIA,
    OID_AKI,
    OID_BASIC_CONSTRAINTS,
    OID_CERT_POLICIES,
    OID_CRLDP,
    OID_CT_POISON,
    OID_EKU,
    OID_FRESHEST_CRL,
    OID_IAN,
    OID_INHIBIT_ANY_POLICY,
    OID_KEY_USAGE,
    OID_NAME_CONSTRAINTS,
    OID_OCSP_NOCHECK,
    OID_POLICY_CONSTRAINTS,
    OID_POLICY_MAPPINGS,
    OID_QC_STATEMENTS,
    OID_SAN,
    OID_SCT_LIST,
    OID_SDA,
    OID_SIA,
    OID_SKI,
    OID_TLS_FEATURE,
    SIG_ECDSA_SHA1,
    SIG_RSA_MD5,
    SIG_RSA_SHA1,
)

CERT = (DocType.CERTIFICATE,)
Out = Iterable[tuple[str, str]]
TBS = "tbsCertificate"
NON_ROOT = frozenset(CertType) - {CertType.ROOT}

# Extensions whose semantics we know: a critical extension outside this set is one a
# relying party must reject (RFC 5280 4.2).
KNOWN_EXTENSIONS = frozenset(
    {
        OID_AIA,
        OID_AKI,
        OID_BASIC_CONSTRAINTS,
        OID_CERT_POLICIES,
        OID_CRLDP,
        OID_CT_POISON,
        OID_EKU,
        OID_INHIBIT_ANY_POLICY,
        OID_KEY_USAGE,
        OID_NAME_CONSTRAINTS,
        OID_OCSP_NOCHECK,
        OID_POLICY_CONSTRAINTS,
        OID_POLICY_MAPPINGS,
        OID_SAN,
        OID_SCT_LIST,
        OID_SKI,
        OID_TLS_FEATURE,
        OID_IAN,
        OID_SDA,
        OID_FRESHEST_CRL,
        OID_SIA,
        OID_QC_STATEMENTS,
    }
)


@lint(
    "e_cert_der_malformed",
    Severity.FATAL,
    "RFC 5280 4.1; X.690 10",
    "The certificate is not a well-formed DER Certificate structure.",
    CERT,
)
def der_malformed(doc: CertificateDocument, ctx: LintContext) -> Out:
    return [("certificate", err) for err in doc.structure_errors]


@lint(
    "e_cert_version_not_v3",
    Severity.ERROR,
    "RFC 5280 4.1.2.1; BR 7.1.1",
    "Certificates must be version 3 (version field value 2).",
    CERT,
)
def version_not_v3(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.tbs_raw is None:
        return ()
    if doc.version != 2:
        shown = "absent (v1)" if doc.version is None else str(doc.version)
        return [(f"{TBS}.version", f"version is {shown}, must be 2 (v3)")]
    return ()


@lint(
    "e_cert_version_default_encoded",
    Severity.ERROR,
    "X.690 11.5; RFC 5280 4.1",
    "The DEFAULT version v1 must not be encoded explicitly in DER.",
    CERT,
)
def version_default(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.version_default_encoded:
        return [(f"{TBS}.version", "version v1 (the DEFAULT) is encoded explicitly")]
    return ()


@lint(
    "e_cert_serial_not_positive",
    Severity.ERROR,
    "RFC 5280 4.1.2.2; BR 7.1",
    "The serial number must be a positive integer (greater than zero).",
    CERT,
)
def serial_not_positive(doc: CertificateDocument, ctx: LintContext) -> Out:
    s = doc.serial
    if not s:
        return (
            [(f"{TBS}.serialNumber", "serial number has no content octets")]
            if s is not None
            else ()
        )
    if s[0] & 0x80:
        return [(f"{TBS}.serialNumber", f"serial number 0x{s.hex()} is negative")]
    if not any(s):
        return [(f"{TBS}.serialNumber", "serial number is zero")]
    return ()


@lint(
    "e_cert_serial_too_long",
    Severity.ERROR,
    "RFC 5280 4.1.2.2; BR 7.1",
    "The serial number must be at most 20 octets.",
    CERT,
)
def serial_too_long(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.serial is not None and len(doc.serial) > 20:
        return [(f"{TBS}.serialNumber", f"serial number is {len(doc.serial)} octets (at most 20)")]
    return ()


@lint(
    "e_cert_serial_not_minimal",
    Severity.ERROR,
    "X.690 8.3.2",
    "The serial number INTEGER must use the minimal number of octets.",
    CERT,
)
def serial_not_minimal(doc: CertificateDocument, ctx: LintContext) -> Out:
    s = doc.serial
    if s and len(s) > 1 and ((s[0] == 0 and s[1] < 0x80) or (s[0] == 0xFF and s[1] >= 0x80)):
        return [(f"{TBS}.serialNumber", f"serial number 0x{s.hex()} has a redundant leading octet")]
    return ()


def _serial_magnitude_octets(s: bytes) -> int:
    return len(s.lstrip(b"\x00"))


@lint(
    "e_cert_serial_low_entropy",
    Severity.ERROR,
    "BR 7.1",
    "The serial number cannot hold 64 bits of CSPRNG output (fewer than 8 octets).",
    CERT,
    cert_types=NON_ROOT,
    effective=br.SERIAL_ENTROPY_FROM,
)
def serial_low_entropy(doc: CertificateDocument, ctx: LintContext) -> Out:
    s = doc.serial
    if s and not s[0] & 0x80 and any(s) and _serial_magnitude_octets(s) < 8:
        n = _serial_magnitude_octets(s)
        return [(f"{TBS}.serialNumber", f"serial number 0x{s.hex()} is {n} octets: < 64 bits")]
    return ()


@lint(
    "w_cert_serial_entropy_marginal",
    Severity.WARNING,
    "BR 7.1",
    "An 8-octet positive serial holds at most 63 random bits unless 9 octets are allowed.",
    CERT,
    cert_types=NON_ROOT,
    effective=br.SERIAL_ENTROPY_FROM,
)
def serial_marginal(doc: CertificateDocument, ctx: LintContext) -> Out:
    s = doc.serial
    if s and not s[0] & 0x80 and _serial_magnitude_octets(s) == 8:
        return [(f"{TBS}.serialNumber", f"serial number 0x{s.hex()} is exactly 8 octets")]
    return ()


@lint(
    "e_cert_signature_algorithm_mismatch",
    Severity.ERROR,
    "RFC 5280 4.1.1.2",
    "signatureAlgorithm must be identical to tbsCertificate.signature.",
    CERT,
)
def sig_alg_mismatch(doc: CertificateDocument, ctx: LintContext) -> Out:
    a, b = doc.sig_alg, doc.tbs_sig_alg
    if a is not None and b is not None and a.raw != b.raw:
        return [
            ("signatureAlgorithm", f"outer {describe_alg(a)} differs from inner {describe_alg(b)}")
        ]
    return ()


@lint(
    "e_cert_signature_algorithm_not_allowed",
    Severity.ERROR,
    "BR 7.1.3.2",
    "The signature AlgorithmIdentifier must be one of the exact encodings BR 7.1.3.2 lists.",
    CERT,
)
def sig_alg_not_allowed(doc: CertificateDocument, ctx: LintContext) -> Out:
    out = []
    for where, alg in (("signatureAlgorithm", doc.sig_alg), (f"{TBS}.signature", doc.tbs_sig_alg)):
        problem = sig_alg_problem(alg)
        if problem:
            out.append((where, problem))
    a, b = doc.sig_alg, doc.tbs_sig_alg
    if len(out) == 2 and a is not None and b is not None and a.raw == b.raw:
        return out[:1]
    return out


@lint(
    "e_cert_signature_algorithm_weak_hash",
    Severity.ERROR,
    "BR 7.1.3.2; RFC 6194",
    "MD5 and SHA-1 signatures are not allowed.",
    CERT,
    effective=br.SHA1_BANNED_FROM,
)
def sig_weak_hash(doc: CertificateDocument, ctx: LintContext) -> Out:
    alg = doc.sig_alg
    if alg is not None and alg.oid in (
        SIG_RSA_SHA1,
        SIG_RSA_MD5,
        SIG_ECDSA_SHA1,
    ):
        return [("signatureAlgorithm", f"{SIG_NAMES[alg.oid]} is a broken hash")]
    return ()


@lint(
    "e_cert_signature_unused_bits",
    Severity.ERROR,
    "RFC 5280 4.1.1.3",
    "The signatureValue BIT STRING must have no unused bits.",
    CERT,
)
def sig_unused_bits(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.signature is not None and doc.signature_unused_bits:
        return [("signatureValue", f"{doc.signature_unused_bits} unused bits")]
    return ()


# --- validity ---------------------------------------------------------------------------


def _validity_problems(doc: CertificateDocument, kind: str) -> Out:
    found: dict[str, list[tuple[str, str]]] | None = doc.memo.get("validity_times")
    if found is None:
        found = {}
        for tf in (doc.not_before, doc.not_after):
            if tf is not None and (tf.problems or tf.error or len(tf.content) != 13):
                for k, message in time_problems(tf):
                    found.setdefault(k, []).append((tf.location, message))
        doc.memo["validity_times"] = found
    return found.get(kind, ())


@lint(
    "e_cert_validity_fractional_seconds",
    Severity.ERROR,
    "RFC 5280 4.1.2.5.2",
    "GeneralizedTime in validity must not include fractional seconds.",
    CERT,
)
def validity_fraction(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _validity_problems(doc, FRACTION)


@lint(
    "e_cert_validity_not_zulu",
    Severity.ERROR,
    "RFC 5280 4.1.2.5.1; 4.1.2.5.2",
    "Validity times must be expressed in UTC (Zulu) with a trailing Z.",
    CERT,
)
def validity_zulu(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _validity_problems(doc, NOT_ZULU)


@lint(
    "e_cert_validity_missing_seconds",
    Severity.ERROR,
    "RFC 5280 4.1.2.5.1; 4.1.2.5.2",
    "Validity times must include seconds.",
    CERT,
)
def validity_seconds(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _validity_problems(doc, NO_SECONDS)


@lint(
    "e_cert_validity_wrong_time_type",
    Severity.ERROR,
    "RFC 5280 4.1.2.5",
    "UTCTime through 2049, GeneralizedTime from 2050.",
    CERT,
)
def validity_type(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _validity_problems(doc, WRONG_TYPE)


@lint(
    "e_cert_validity_time_invalid",
    Severity.ERROR,
    "RFC 5280 4.1.2.5",
    "Validity times must be valid UTCTime/GeneralizedTime values.",
    CERT,
)
def validity_invalid(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _validity_problems(doc, INVALID)


@lint(
    "e_cert_validity_negative",
    Severity.ERROR,
    "RFC 5280 4.1.2.5",
    "notAfter must not be before notBefore.",
    CERT,
)
def validity_negative(doc: CertificateDocument, ctx: LintContext) -> Out:
    nb, na = doc.not_before, doc.not_after
    if nb and na and nb.value and na.value and na.value < nb.value:
        return [(f"{TBS}.validity", f"notAfter {na.value} is before notBefore {nb.value}")]
    return ()


@lint(
    "e_cert_validity_too_long",
    Severity.ERROR,
    "BR 6.3.2",
    "Subscriber validity (notAfter - notBefore + 1 s) must not exceed the BR 6.3.2 maximum "
    "for its notBefore: 398 days; 200 from 2026-03-15; 100 from 2027-03-15; 47 from 2029-03-15 "
    "(earlier: 60 months from 2012-07-01, 39 months from 2015-04-01, 825 days from 2018-03-01).",
    CERT,
    cert_types=LEAF_TYPES,
)
def validity_too_long(doc: CertificateDocument, ctx: LintContext) -> Out:
    nb, na = doc.not_before, doc.not_after
    if not (nb and na and nb.value and na.value):
        return ()
    limit = br.historic_max_validity_days(nb.value.date())
    if limit is None:
        return ()
    span = span_seconds(nb.value, na.value)
    if span > limit * 86400:
        return [
            (
                f"{TBS}.validity",
                f"validity is {fmt_span(span)}; at most {limit} days "
                f"for notBefore {nb.value.date()}",
            )
        ]
    return ()


@lint(
    "e_root_validity_out_of_range",
    Severity.ERROR,
    "BR 7.1.2.1.1",
    "A root certificate's validity must be between 2922 and 9132 days.",
    CERT,
    cert_types=(CertType.ROOT,),
    effective=br.BR_2_0_PROFILES,
)
def root_validity(doc: CertificateDocument, ctx: LintContext) -> Out:
    nb, na = doc.not_before, doc.not_after
    if not (nb and na and nb.value and na.value):
        return ()
    days = span_seconds(nb.value, na.value) / 86400
    if days < 2922 or days > 9132:
        return [(f"{TBS}.validity", f"root validity is {days:.1f} days (2922 to 9132 allowed)")]
    return ()


@lint(
    "w_cert_not_before_backdated",
    Severity.WARNING,
    "BR 7.1.2.7",
    "notBefore must be within 48 hours of signing (checked when the context gives 'now').",
    CERT,
    cert_types=LEAF_TYPES,
)
def not_before_backdated(doc: CertificateDocument, ctx: LintContext) -> Out:
    now = ctx.extra.get("now")
    nb = doc.not_before
    if isinstance(now, datetime) and nb and nb.value and now - nb.value > br.MAX_BACKDATE:
        return [(f"{TBS}.validity.notBefore", f"notBefore {nb.value} is over 48 h before {now}")]
    return ()


@lint(
    "e_cert_backdated_before_its_scts",
    Severity.ERROR,
    "BR 7.1.2.7; RFC 6962 3.1",
    "The embedded SCTs must not show the precertificate logged more than 48 hours after "
    "notBefore: it is logged when it is signed, and notBefore is within 48 hours of that.",
    CERT,
    cert_types=(CertType.SUBSCRIBER,),
    effective=br.BR_2_0_PROFILES,
)
def backdated_before_scts(doc: CertificateDocument, ctx: LintContext) -> Out:
    ext = doc.ext.get(OID_SCT_LIST)
    nb = doc.not_before
    if ext is None or nb is None or nb.value is None:
        return ()
    stamps = sct_timestamps(ext.value)
    if not stamps:
        return ()  # an undecodable list is e_sct_list_invalid's finding
    logged = datetime.fromtimestamp(min(stamps) / 1000, UTC)
    if logged - nb.value <= br.MAX_BACKDATE:
        return ()
    return [
        (
            f"{TBS}.validity.notBefore",
            f"notBefore {nb.value:%Y-%m-%d %H:%M:%S}Z is {logged - nb.value} before the "
            f"earliest SCT ({logged:%Y-%m-%d %H:%M:%S}Z): backdated by more than 48 hours",
        )
    ]


def sct_timestamps(value: bytes) -> list[int]:
    """The timestamps (ms) of the SCTs in an SCT list extension value, [] if it does not
    decode (RFC 6962 3.2: version 1, log id 32, timestamp 8)."""
    scts, problem = sct_list(value)
    return [] if problem is not None else [int.from_bytes(sct[33:41]) for sct in scts]


# --- fields that must not be there ------------------------------------------------------


@lint(
    "e_cert_unique_identifier_present",
    Severity.ERROR,
    "BR 7.1.2.1; 7.1.2.7; 7.1.2.8; 7.1.2.10; RFC 5280 4.1.2.8",
    "issuerUniqueID and subjectUniqueID must not be present.",
    CERT,
)
def unique_ids(doc: CertificateDocument, ctx: LintContext) -> Out:
    out = []
    if doc.issuer_unique_id:
        out.append((f"{TBS}.issuerUniqueID", "issuerUniqueID is present"))
    if doc.subject_unique_id:
        out.append((f"{TBS}.subjectUniqueID", "subjectUniqueID is present"))
    return out


@lint(
    "e_cert_extensions_missing",
    Severity.ERROR,
    "RFC 5280 4.1.2.9; BR 7.1.2",
    "A v3 certificate must carry the extensions its profile requires.",
    CERT,
)
def extensions_missing(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.tbs_raw is not None and not doc.structure_errors and not doc.extensions:
        what = "absent" if not doc.extensions_present else "an empty SEQUENCE"
        return [(f"{TBS}.extensions", f"extensions are {what}")]
    return ()


@lint(
    "e_cert_extension_duplicate",
    Severity.ERROR,
    "RFC 5280 4.2",
    "A certificate must not include more than one instance of an extension.",
    CERT,
)
def ext_duplicate(doc: CertificateDocument, ctx: LintContext) -> Out:
    if len(doc.ext) == len(doc.extensions):
        return ()
    seen: set[str] = set()
    out = []
    for ext in doc.extensions:
        if ext.oid in seen:
            out.append((f"{TBS}.extensions", f"extension {ext.oid} appears more than once"))
        seen.add(ext.oid)
    return out


@lint(
    "e_cert_extension_unknown_critical",
    Severity.ERROR,
    "RFC 5280 4.2; BR 7.1.2.11.5",
    "An extension marked critical must be one relying parties can process.",
    CERT,
)
def ext_unknown_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return [
        (f"{TBS}.extensions", f"unrecognised extension {ext.oid} is marked critical")
        for ext in doc.extensions
        if ext.critical and ext.oid not in KNOWN_EXTENSIONS
    ]


@lint(
    "e_cert_extension_critical_false_encoded",
    Severity.ERROR,
    "X.690 11.5; RFC 5280 4.1",
    "critical FALSE is the DEFAULT and must be omitted in DER.",
    CERT,
)
def ext_false_encoded(doc: CertificateDocument, ctx: LintContext) -> Out:
    return [
        (f"{TBS}.extensions", f"extension {ext.oid} encodes critical FALSE explicitly")
        for ext in doc.extensions
        if ext.critical_encoded_false
    ]


@lint(
    "e_cert_extension_value_malformed",
    Severity.ERROR,
    "RFC 5280 4.2.1",
    "Each known extension's value must decode as its ASN.1 type in DER.",
    CERT,
)
def ext_malformed(doc: CertificateDocument, ctx: LintContext) -> Out:
    return [(f"{TBS}.extensions", f"extension {oid}: {msg}") for oid, msg in doc.ext_errors.items()]


@lint(
    "w_cert_extension_not_recommended",
    Severity.WARNING,
    "BR 7.1.2.11.5",
    "Extensions outside the BR profile are NOT RECOMMENDED.",
    CERT,
    cert_types=LEAF_TYPES,
)
def ext_other(doc: CertificateDocument, ctx: LintContext) -> Out:
    allowed = {
        OID_AIA,
        OID_AKI,
        OID_BASIC_CONSTRAINTS,
        OID_CERT_POLICIES,
        OID_CRLDP,
        OID_CT_POISON,
        OID_EKU,
        OID_KEY_USAGE,
        OID_SAN,
        OID_SCT_LIST,
        OID_SKI,
    }
    return [
        (f"{TBS}.extensions", f"extension {ext.oid} is not in the subscriber profile")
        for ext in doc.extensions
        if ext.oid not in allowed
    ]


@lint(
    "e_cert_issuer_name_empty",
    Severity.ERROR,
    "RFC 5280 4.1.2.4",
    "The issuer field must contain a non-empty distinguished name.",
    CERT,
)
def issuer_empty(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.issuer_raw is not None and not doc.issuer and not doc.structure_errors:
        return [(f"{TBS}.issuer", "issuer name is empty")]
    return ()


@lint(
    "e_ca_subject_empty",
    Severity.ERROR,
    "RFC 5280 4.1.2.6; BR 7.1.2.10.2",
    "A CA certificate's subject must be a non-empty distinguished name.",
    CERT,
    cert_types=CA_TYPES | {CertType.OCSP_RESPONDER},
)
def ca_subject_empty(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.subject_raw is not None and not doc.subject and not doc.structure_errors:
        return [(f"{TBS}.subject", "subject name is empty")]
    return ()
