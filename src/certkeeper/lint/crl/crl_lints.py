"""CRL lints: RFC 5280 5, BR 4.9.7 and BR 7.2."""

from __future__ import annotations

from collections.abc import Iterable

from certkeeper import br
from certkeeper.lint.cert.common import (
    FRACTION,
    INVALID,
    NO_SECONDS,
    NOT_ZULU,
    WRONG_TYPE,
    describe_alg,
    sig_alg_problem,
    time_problems,
    verify_signature,
)
from certkeeper.lint.cert.issuer import issuer_key_hash, issuer_ski
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.values import GN_URI, Malformed
from certkeeper.lint.engine import DocType, Severity, lint
from certkeeper.x509.der import DerError
from certkeeper.x509.oids import (
    OID_AKI,
    OID_CRL_NUMBER,
    OID_DELTA_CRL,
    OID_FRESHEST_CRL,
    OID_IAN,
    OID_IDP,
)

CRL = (DocType.CRL,)
Out = Iterable[tuple[str, str]]
TBS = "tbsCertList"
EXT = "tbsCertList.crlExtensions"
KNOWN_CRL_EXTENSIONS = frozenset(
    {OID_AKI, OID_CRL_NUMBER, OID_IDP, OID_DELTA_CRL, OID_FRESHEST_CRL, OID_IAN}
)


def _scan(doc: CrlDocument, *keys: str) -> Out:
    if doc.revoked_span is None:
        return ()
    scan = doc.entries_scan
    if not scan.totals:
        return ()
    return [item for key in keys for item in scan.findings(key)]


def _safe(doc: CrlDocument, attr: str) -> object:
    try:
        return getattr(doc, attr)
    except (DerError, Malformed, ValueError):
        return None


@lint(
    "e_crl_der_malformed",
    Severity.FATAL,
    "RFC 5280 5.1; X.690 10",
    "The CRL is not a well-formed DER CertificateList.",
    CRL,
)
def der_malformed(doc: CrlDocument, ctx: LintContext) -> Out:
    return [("certificateList", e) for e in doc.structure_errors]


@lint(
    "e_crl_entry_malformed",
    Severity.ERROR,
    "RFC 5280 5.1.2.6",
    "Each revokedCertificates entry must be a DER {serial, revocationDate, [extensions]}.",
    CRL,
)
def entry_malformed(doc: CrlDocument, ctx: LintContext) -> Out:
    return _scan(doc, "entry_malformed")


@lint(
    "e_crl_version_not_v2",
    Severity.ERROR,
    "RFC 5280 5.1.2.1; BR 7.2.1",
    "CRLs must be version 2 (version field value 1).",
    CRL,
)
def version(doc: CrlDocument, ctx: LintContext) -> Out:
    if doc.tbs_raw is not None and doc.this_update is not None and doc.version != 1:
        shown = "absent (v1)" if doc.version is None else str(doc.version)
        return [(f"{TBS}.version", f"version is {shown}, must be 1 (v2)")]
    return ()


@lint(
    "e_crl_signature_algorithm_mismatch",
    Severity.ERROR,
    "RFC 5280 5.1.1.2",
    "signatureAlgorithm must be identical to tbsCertList.signature.",
    CRL,
)
def sig_mismatch(doc: CrlDocument, ctx: LintContext) -> Out:
    a, b = doc.sig_alg, doc.tbs_sig_alg
    if a is not None and b is not None and a.raw != b.raw:
        return [
            ("signatureAlgorithm", f"outer {describe_alg(a)} differs from inner {describe_alg(b)}")
        ]
    return ()


@lint(
    "e_crl_signature_algorithm_not_allowed",
    Severity.ERROR,
    "BR 7.1.3.2",
    "The CRL signature algorithm must be one of the exact encodings BR 7.1.3.2 lists.",
    CRL,
)
def sig_allowed(doc: CrlDocument, ctx: LintContext) -> Out:
    problem = sig_alg_problem(doc.sig_alg)
    return [("signatureAlgorithm", problem)] if problem else ()


def _times(doc: CrlDocument, kind: str) -> Out:
    out: list[tuple[str, str]] = []
    for tf in (doc.this_update, doc.next_update):
        if tf is not None:
            out.extend((tf.location, m) for k, m in time_problems(tf) if k == kind)
    out.extend(_scan(doc, f"time_{kind}"))
    return out


@lint(
    "e_crl_time_fractional_seconds",
    Severity.ERROR,
    "RFC 5280 5.1.2.4; RFC 5280 4.1.2.5.2",
    "thisUpdate, nextUpdate, revocationDate and invalidityDate must not have fractional seconds.",
    CRL,
)
def t_fraction(doc: CrlDocument, ctx: LintContext) -> Out:
    return _times(doc, FRACTION)


@lint(
    "e_crl_time_not_zulu",
    Severity.ERROR,
    "RFC 5280 5.1.2.4; RFC 5280 4.1.2.5",
    "CRL times must be expressed in UTC with a trailing Z.",
    CRL,
)
def t_zulu(doc: CrlDocument, ctx: LintContext) -> Out:
    return _times(doc, NOT_ZULU)


@lint(
    "e_crl_time_missing_seconds",
    Severity.ERROR,
    "RFC 5280 5.1.2.4; RFC 5280 4.1.2.5",
    "CRL times must include seconds.",
    CRL,
)
def t_seconds(doc: CrlDocument, ctx: LintContext) -> Out:
    return _times(doc, NO_SECONDS)


@lint(
    "e_crl_time_wrong_type",
    Severity.ERROR,
    "RFC 5280 5.1.2.4-6; RFC 5280 5.3.2",
    "UTCTime through 2049 and GeneralizedTime from 2050; invalidityDate is always GeneralizedTime.",
    CRL,
)
def t_type(doc: CrlDocument, ctx: LintContext) -> Out:
    return _times(doc, WRONG_TYPE)


@lint(
    "e_crl_time_invalid",
    Severity.ERROR,
    "RFC 5280 5.1.2.4",
    "CRL times must be valid UTCTime/GeneralizedTime values.",
    CRL,
)
def t_invalid(doc: CrlDocument, ctx: LintContext) -> Out:
    return _times(doc, INVALID)


@lint(
    "e_crl_next_update_missing",
    Severity.ERROR,
    "RFC 5280 5.1.2.5; BR 7.2",
    "Conforming CRL issuers must include nextUpdate.",
    CRL,
)
def next_missing(doc: CrlDocument, ctx: LintContext) -> Out:
    if doc.this_update is not None and doc.next_update is None and not doc.structure_errors:
        return [(f"{TBS}.nextUpdate", "nextUpdate is absent")]
    return ()


@lint(
    "e_crl_next_update_before_this_update",
    Severity.ERROR,
    "RFC 5280 5.1.2.5",
    "nextUpdate must be later than thisUpdate.",
    CRL,
)
def next_before(doc: CrlDocument, ctx: LintContext) -> Out:
    tu, nu = doc.this_update, doc.next_update
    if tu and nu and tu.value and nu.value and nu.value <= tu.value:
        return [(f"{TBS}.nextUpdate", f"nextUpdate {nu.value} is not after thisUpdate {tu.value}")]
    return ()


@lint(
    "e_crl_validity_too_long",
    Severity.ERROR,
    "BR 4.9.7",
    "nextUpdate must be at most 10 days after thisUpdate (12 months for a CRL of CA certificates).",
    CRL,
)
def too_long(doc: CrlDocument, ctx: LintContext) -> Out:
    tu, nu = doc.this_update, doc.next_update
    if not (tu and nu and tu.value and nu.value):
        return ()
    seconds = (nu.value - tu.value).total_seconds()
    days = 365 if doc.is_arl else 10
    if seconds > days * 86400:
        return [
            (
                f"{TBS}.nextUpdate",
                f"nextUpdate is {seconds / 86400:.2f} days after thisUpdate (at most {days})",
            )
        ]
    return ()


@lint(
    "e_crl_issuer_empty",
    Severity.ERROR,
    "RFC 5280 5.1.2.3",
    "The CRL issuer must be a non-empty distinguished name.",
    CRL,
)
def issuer_empty(doc: CrlDocument, ctx: LintContext) -> Out:
    if doc.issuer_raw is not None and not doc.issuer:
        return [(f"{TBS}.issuer", "issuer name is empty")]
    return ()


@lint(
    "e_crl_revoked_certificates_empty",
    Severity.ERROR,
    "RFC 5280 5.1.2.6",
    "When there are no revoked certificates, revokedCertificates must be absent, not empty.",
    CRL,
)
def revoked_empty(doc: CrlDocument, ctx: LintContext) -> Out:
    if doc.revoked_empty_sequence:
        return [(f"{TBS}.revokedCertificates", "revokedCertificates is an empty SEQUENCE")]
    return ()


# --- CRL extensions ---------------------------------------------------------------------


@lint(
    "e_crl_extensions_missing",
    Severity.ERROR,
    "RFC 5280 5.1.2.7; BR 7.2.2",
    "A v2 CRL must carry crlExtensions (authorityKeyIdentifier and cRLNumber at least).",
    CRL,
)
def exts_missing(doc: CrlDocument, ctx: LintContext) -> Out:
    if doc.this_update is not None and not doc.structure_errors and not doc.extensions:
        return [(EXT, "crlExtensions are absent or empty")]
    return ()


@lint(
    "e_crl_extension_duplicate",
    Severity.ERROR,
    "RFC 5280 5.2",
    "A CRL must not include more than one instance of an extension.",
    CRL,
)
def ext_dup(doc: CrlDocument, ctx: LintContext) -> Out:
    if len(doc.ext) == len(doc.extensions):
        return ()
    seen: set[str] = set()
    out = []
    for ext in doc.extensions:
        if ext.oid in seen:
            out.append((EXT, f"extension {ext.oid} appears more than once"))
        seen.add(ext.oid)
    return out


@lint(
    "e_crl_extension_unknown_critical",
    Severity.ERROR,
    "RFC 5280 5.2",
    "A critical CRL extension must be one relying parties can process.",
    CRL,
)
def ext_unknown(doc: CrlDocument, ctx: LintContext) -> Out:
    return [
        (EXT, f"unrecognised extension {e.oid} is marked critical")
        for e in doc.extensions
        if e.critical and e.oid not in KNOWN_CRL_EXTENSIONS
    ]


@lint(
    "e_crl_extension_critical_false_encoded",
    Severity.ERROR,
    "X.690 11.5",
    "critical FALSE is the DEFAULT and must be omitted in DER.",
    CRL,
)
def ext_false(doc: CrlDocument, ctx: LintContext) -> Out:
    return [
        (EXT, f"extension {e.oid} encodes critical FALSE")
        for e in doc.extensions
        if e.critical_encoded_false
    ]


@lint(
    "w_crl_extension_not_recommended",
    Severity.WARNING,
    "BR 7.2.2",
    "CRL extensions other than authorityKeyIdentifier, cRLNumber and "
    "issuingDistributionPoint are NOT RECOMMENDED.",
    CRL,
)
def ext_other(doc: CrlDocument, ctx: LintContext) -> Out:
    return [
        (EXT, f"extension {e.oid} is outside the BR CRL profile")
        for e in doc.extensions
        if e.oid not in (OID_AKI, OID_CRL_NUMBER, OID_IDP)
    ]


@lint(
    "e_crl_number_missing",
    Severity.ERROR,
    "RFC 5280 5.2.3; BR 7.2.2",
    "CRLs must include the cRLNumber extension.",
    CRL,
)
def number_missing(doc: CrlDocument, ctx: LintContext) -> Out:
    if doc.this_update is not None and not doc.structure_errors and OID_CRL_NUMBER not in doc.ext:
        return [(EXT, "cRLNumber is absent")]
    return ()


@lint(
    "e_crl_number_critical",
    Severity.ERROR,
    "RFC 5280 5.2.3; BR 7.2.2",
    "cRLNumber must not be marked critical.",
    CRL,
)
def number_critical(doc: CrlDocument, ctx: LintContext) -> Out:
    ext = doc.ext.get(OID_CRL_NUMBER)
    if ext is not None and ext.critical:
        return [(f"{EXT}.cRLNumber", "cRLNumber is marked critical")]
    return ()


@lint(
    "e_crl_number_invalid",
    Severity.ERROR,
    "RFC 5280 5.2.3; BR 7.2.2",
    "cRLNumber must be a minimally encoded INTEGER from 0 to 2^159-1 (at most 20 octets).",
    CRL,
)
def number_invalid(doc: CrlDocument, ctx: LintContext) -> Out:
    if OID_CRL_NUMBER not in doc.ext:
        return ()
    where = f"{EXT}.cRLNumber"
    try:
        content = doc.crl_number
    except (DerError, Malformed) as exc:
        return [(where, str(exc))]
    if content is None:
        return ()
    if not content:
        return [(where, "cRLNumber has no content octets")]
    out = []
    if content[0] & 0x80:
        out.append((where, f"cRLNumber 0x{content.hex()} is negative"))
    if len(content) > 20:
        out.append((where, f"cRLNumber is {len(content)} octets (at most 20)"))
    if len(content) > 1 and (
        (content[0] == 0 and content[1] < 0x80) or (content[0] == 0xFF and content[1] >= 0x80)
    ):
        out.append((where, f"cRLNumber 0x{content.hex()} is not minimally encoded"))
    return out


@lint(
    "e_crl_aki_missing",
    Severity.ERROR,
    "RFC 5280 5.2.1; BR 7.2.2",
    "CRLs must include authorityKeyIdentifier.",
    CRL,
)
def aki_missing(doc: CrlDocument, ctx: LintContext) -> Out:
    if doc.this_update is not None and not doc.structure_errors and OID_AKI not in doc.ext:
        return [(EXT, "authorityKeyIdentifier is absent")]
    return ()


@lint(
    "e_crl_aki_invalid",
    Severity.ERROR,
    "RFC 5280 5.2.1; BR 7.1.2.11.1",
    "The CRL authorityKeyIdentifier must be non-critical, hold keyIdentifier, and no "
    "authorityCertIssuer or serial.",
    CRL,
)
def aki_invalid(doc: CrlDocument, ctx: LintContext) -> Out:
    ext = doc.ext.get(OID_AKI)
    if ext is None:
        return ()
    where = f"{EXT}.authorityKeyIdentifier"
    out = []
    if ext.critical:
        out.append((where, "authorityKeyIdentifier is marked critical"))
    try:
        aki = doc.aki
    except (DerError, Malformed) as exc:
        return [*out, (where, str(exc))]
    if aki is not None:
        if aki.key_id is None:
            out.append((where, "keyIdentifier is absent"))
        if aki.has_issuer or aki.has_serial:
            out.append((where, "authorityCertIssuer/SerialNumber present"))
    return out


@lint(
    "e_crl_idp_not_critical",
    Severity.ERROR,
    "RFC 5280 5.2.5; BR 7.2.2",
    "issuingDistributionPoint must be marked critical.",
    CRL,
)
def idp_critical(doc: CrlDocument, ctx: LintContext) -> Out:
    ext = doc.ext.get(OID_IDP)
    if ext is not None and not ext.critical:
        return [(f"{EXT}.issuingDistributionPoint", "issuingDistributionPoint is not critical")]
    return ()


@lint(
    "e_crl_idp_invalid",
    Severity.ERROR,
    "RFC 5280 5.2.5; BR 7.2.2.1",
    "issuingDistributionPoint must name the CRL by a fullName of http:// URIs, may scope it "
    "to user or CA certificates (not both), and must not set onlySomeReasons, indirectCRL "
    "or onlyContainsAttributeCerts or encode DEFAULT FALSE flags.",
    CRL,
)
def idp_invalid(doc: CrlDocument, ctx: LintContext) -> Out:
    if OID_IDP not in doc.ext:
        return ()
    where = f"{EXT}.issuingDistributionPoint"
    try:
        idp = doc.idp
    except (DerError, Malformed) as exc:
        return [(where, str(exc))]
    if idp is None:
        return ()
    out = []
    if idp.full_name is None:
        out.append((where, "distributionPoint fullName is absent"))
    else:
        uris = [g for g in idp.full_name if g.tag == GN_URI]
        if not uris:
            out.append((where, "distributionPoint fullName holds no URI"))
        for g in uris:
            if not g.text.lower().startswith("http://"):
                out.append((where, f"distributionPoint URI {g.text!r} is not http://"))
    if idp.only_user and idp.only_ca:
        out.append((where, "both onlyContainsUserCerts and onlyContainsCACerts are TRUE"))
    if idp.only_some_reasons:
        out.append((where, "onlySomeReasons is present"))
    if idp.indirect:
        out.append((where, "indirectCRL is TRUE"))
    if idp.only_attribute:
        out.append((where, "onlyContainsAttributeCerts is TRUE"))
    if idp.defaults_encoded:
        out.append((where, "a DEFAULT FALSE flag is encoded explicitly"))
    return out


@lint(
    "e_crl_delta_indicator_present",
    Severity.ERROR,
    "BR 7.2; RFC 5280 5.2.4",
    "Delta CRLs are outside the BR CRL profile: deltaCRLIndicator must not be present.",
    CRL,
)
def delta(doc: CrlDocument, ctx: LintContext) -> Out:
    if OID_DELTA_CRL in doc.ext:
        return [(f"{EXT}.deltaCRLIndicator", "deltaCRLIndicator is present")]
    return ()


# --- entries ----------------------------------------------------------------------------


@lint(
    "e_crl_entry_serial_invalid",
    Severity.ERROR,
    "RFC 5280 4.1.2.2; RFC 5280 5.1.2.6",
    "Revoked serial numbers must be positive, minimally encoded, at most 20 octets.",
    CRL,
)
def entry_serial(doc: CrlDocument, ctx: LintContext) -> Out:
    return _scan(doc, "serial_not_positive", "serial_not_minimal", "serial_too_long")


@lint(
    "e_crl_duplicate_serial",
    Severity.ERROR,
    "RFC 5280 5.1.2.6",
    "A serial number must be listed at most once.",
    CRL,
)
def dup_serial(doc: CrlDocument, ctx: LintContext) -> Out:
    return _scan(doc, "duplicate_serial")


@lint(
    "e_crl_revocation_date_after_this_update",
    Severity.ERROR,
    "RFC 5280 5.1.2.6; BR 7.2.2",
    "A certificate cannot be listed as revoked at a time after the CRL was issued.",
    CRL,
)
def after_this_update(doc: CrlDocument, ctx: LintContext) -> Out:
    return _scan(doc, "revocation_after_this_update")


@lint(
    "e_crl_reason_code_unspecified",
    Severity.ERROR,
    "BR 7.2.2; RFC 5280 5.3.1",
    "reasonCode unspecified (0) must be represented by omitting the extension.",
    CRL,
)
def reason_unspecified(doc: CrlDocument, ctx: LintContext) -> Out:
    return _scan(doc, "reason_unspecified")


@lint(
    "e_crl_reason_code_certificate_hold",
    Severity.ERROR,
    "BR 7.2.2; BR 4.9.13",
    "certificateHold (6) must not be used.",
    CRL,
    effective=br.BROWSER_ALIGNMENT_FROM,
)
def reason_hold(doc: CrlDocument, ctx: LintContext) -> Out:
    return _scan(doc, "reason_hold")


@lint(
    "e_crl_reason_code_not_allowed",
    Severity.ERROR,
    "BR 7.2.2",
    "reasonCode must be keyCompromise, affiliationChanged, superseded, "
    "cessationOfOperation or privilegeWithdrawn (plus cACompromise for CA certificates).",
    CRL,
    effective=br.REVOCATION_REASONS_FROM,
)
def reason_allowed(doc: CrlDocument, ctx: LintContext) -> Out:
    return _scan(doc, "reason_not_allowed")


@lint(
    "e_crl_reason_code_invalid",
    Severity.ERROR,
    "RFC 5280 5.3.1; BR 7.2.2",
    "reasonCode must be a non-critical one-octet ENUMERATED.",
    CRL,
)
def reason_shape(doc: CrlDocument, ctx: LintContext) -> Out:
    return _scan(doc, "reason_critical", "reason_malformed")


@lint(
    "e_crl_entry_extensions_invalid",
    Severity.ERROR,
    "RFC 5280 5.3; X.690 11.5",
    "crlEntryExtensions must be absent rather than empty, list each extension once, encode "
    "no DEFAULT FALSE, and carry no unknown critical extension.",
    CRL,
)
def entry_exts(doc: CrlDocument, ctx: LintContext) -> Out:
    return _scan(
        doc,
        "entry_extensions_empty",
        "entry_extension_duplicate",
        "entry_extension_false_encoded",
        "entry_extension_unknown_critical",
    )


@lint(
    "w_crl_entry_certificate_issuer",
    Severity.WARNING,
    "BR 7.2.2",
    "certificateIssuer (indirect CRLs) is outside the BR CRL profile.",
    CRL,
)
def entry_issuer(doc: CrlDocument, ctx: LintContext) -> Out:
    return _scan(doc, "entry_certificate_issuer")


# --- with the issuer ----------------------------------------------------------------------


@lint(
    "e_crl_signature_invalid",
    Severity.ERROR,
    "RFC 5280 6.3.3",
    "The CRL signature must verify with the issuing CA's key (needs --issuer).",
    CRL,
)
def signature(doc: CrlDocument, ctx: LintContext) -> Out:
    if ctx.issuer is None or doc.tbs_raw is None or doc.sig_alg is None or doc.signature is None:
        return ()
    problem = verify_signature(ctx.issuer.public_key(), doc.sig_alg, doc.tbs_raw, doc.signature)
    return [("signatureValue", problem)] if problem else ()


@lint(
    "e_crl_issuer_name_mismatch",
    Severity.ERROR,
    "RFC 5280 5.1.2.3; RFC 5280 6.3.3",
    "The CRL issuer must be byte-for-byte the issuing CA's subject.",
    CRL,
)
def issuer_name(doc: CrlDocument, ctx: LintContext) -> Out:
    if ctx.issuer is None or doc.issuer_raw is None:
        return ()
    if doc.issuer_raw != ctx.issuer.subject.public_bytes():
        return [(f"{TBS}.issuer", "CRL issuer differs from the CA's subject")]
    return ()


@lint(
    "e_crl_aki_mismatch",
    Severity.ERROR,
    "RFC 5280 5.2.1",
    "authorityKeyIdentifier must equal the issuing CA's subjectKeyIdentifier.",
    CRL,
)
def aki_mismatch(doc: CrlDocument, ctx: LintContext) -> Out:
    if ctx.issuer is None:
        return ()
    aki = _safe(doc, "aki")
    key_id = getattr(aki, "key_id", None)
    if key_id is None:
        return ()
    expected = issuer_ski(ctx.issuer) or issuer_key_hash(ctx.issuer)
    if key_id != expected:
        return [
            (
                f"{EXT}.authorityKeyIdentifier",
                f"keyIdentifier {key_id.hex()} != CA SKI {expected.hex()}",
            )
        ]
    return ()
