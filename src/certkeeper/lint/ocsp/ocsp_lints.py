"""OCSP response lints: RFC 6960, RFC 5019 and BR 4.9.9 / 4.9.10 (seed 001)."""

from __future__ import annotations

import hashlib
from collections.abc import Iterable
from typing import Any

from certkeeper import br
from certkeeper.lint.cert.common import (
    FRACTION,
    INVALID,
    NO_SECONDS,
    NOT_ZULU,
    WRONG_TYPE,
    sig_alg_problem,
    span_seconds,
    time_problems,
    verify_signature,
)
from certkeeper.lint.context import LintContext
from certkeeper.lint.crl.entries import ALLOWED_REASONS, REASON_NAMES
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.ocsp import OCSP_STATUS_NAMES, OcspResponseDocument
from certkeeper.lint.document.values import Extension
from certkeeper.lint.engine import CertType, DocType, Severity, lint
from certkeeper.x509.oids import (
    EKU_OCSP_SIGNING,
    HASH_SHA1,
    HASH_SHA256,
    HASH_SHA384,
    HASH_SHA512,
    OID_OCSP_ARCHIVE_CUTOFF,
    OID_OCSP_BASIC,
    OID_OCSP_EXTENDED_REVOKE,
    OID_OCSP_NOCHECK,
    OID_OCSP_NONCE,
)

OCSP = (DocType.OCSP_RESPONSE,)
Out = Iterable[tuple[str, str]]
TBS = "tbsResponseData"

# RFC 5019 2.1.1 / RFC 6960 4.1.1: CertID hash algorithms and their digest sizes.
CERTID_HASHES = {
    HASH_SHA1: ("sha1", 20),
    HASH_SHA256: ("sha256", 32),
    HASH_SHA384: ("sha384", 48),
    HASH_SHA512: ("sha512", 64),
}
KNOWN_OCSP_EXTENSIONS = frozenset(
    {OID_OCSP_NONCE, OID_OCSP_ARCHIVE_CUTOFF, OID_OCSP_EXTENDED_REVOKE}
)


@lint(
    "e_ocsp_der_malformed",
    Severity.FATAL,
    "RFC 6960 4.2.1; X.690 10",
    "The response is not a well-formed DER OCSPResponse / BasicOCSPResponse.",
    OCSP,
)
def der_malformed(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    return [("ocspResponse", e) for e in doc.structure_errors]


@lint(
    "e_ocsp_response_status_invalid",
    Severity.ERROR,
    "RFC 6960 4.2.1",
    "responseStatus must be one of the defined OCSPResponseStatus values.",
    OCSP,
)
def status_invalid(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    s = doc.response_status
    if s is not None and s not in OCSP_STATUS_NAMES:
        return [("responseStatus", f"responseStatus {s} is not defined")]
    return ()


@lint(
    "n_ocsp_response_not_successful",
    Severity.NOTICE,
    "RFC 6960 4.2.1",
    "The response is an error response and carries no certificate status.",
    OCSP,
)
def not_successful(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    s = doc.response_status
    if s is not None and s != 0:
        return [("responseStatus", f"responseStatus is {OCSP_STATUS_NAMES.get(s, s)}")]
    return ()


@lint(
    "e_ocsp_response_bytes_inconsistent",
    Severity.ERROR,
    "RFC 6960 4.2.1",
    "responseBytes must be present exactly when responseStatus is successful.",
    OCSP,
)
def bytes_inconsistent(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    if doc.response_status is None or doc.structure_errors:
        return ()
    if doc.response_status == 0 and doc.response_type is None:
        return [("responseBytes", "successful response without responseBytes")]
    if doc.response_status != 0 and doc.response_type is not None:
        return [("responseBytes", "error response carries responseBytes")]
    return ()


@lint(
    "e_ocsp_response_type_not_basic",
    Severity.ERROR,
    "RFC 6960 4.2.1; RFC 5019 2.2.1",
    "responseType must be id-pkix-ocsp-basic.",
    OCSP,
)
def not_basic(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    if doc.response_type is not None and doc.response_type != OID_OCSP_BASIC:
        return [("responseBytes.responseType", f"responseType is {doc.response_type}")]
    return ()


@lint(
    "e_ocsp_version_invalid",
    Severity.ERROR,
    "RFC 6960 4.2.1; X.690 11.5",
    "version must be v1, and as the DEFAULT it must not be encoded.",
    OCSP,
)
def version(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    if doc.version is None:
        return ()
    if doc.version != 0:
        return [(f"{TBS}.version", f"version is {doc.version}, must be 0 (v1)")]
    return [(f"{TBS}.version", "version v1 (the DEFAULT) is encoded explicitly")]


@lint(
    "e_ocsp_signature_algorithm_not_allowed",
    Severity.ERROR,
    "BR 7.1.3.2",
    "The response signature algorithm must be one of the exact encodings BR 7.1.3.2 lists.",
    OCSP,
)
def sig_alg(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    problem = sig_alg_problem(doc.sig_alg)
    return [("basicOCSPResponse.signatureAlgorithm", problem)] if problem else ()


def _times(doc: OcspResponseDocument, kind: str) -> Out:
    found: dict[str, list[tuple[str, str]]] | None = doc.memo.get("times")
    if found is None:
        found = {}
        for tf in doc.all_times:
            if tf.tag == 0x18 and len(tf.content) == 15 and not tf.problems and tf.error is None:
                continue  # the canonical form: nothing to report
            for k, m in time_problems(tf, generalized_only=True):
                found.setdefault(k, []).append((tf.location, m))
        doc.memo["times"] = found
    return found.get(kind, ())


@lint(
    "e_ocsp_time_fractional_seconds",
    Severity.ERROR,
    "RFC 5019 2.2.4; RFC 5280 4.1.2.5.2; BR 4.9.9",
    "producedAt, thisUpdate, nextUpdate and revocationTime must not have fractional seconds.",
    OCSP,
)
def t_fraction(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    return _times(doc, FRACTION)


@lint(
    "e_ocsp_time_not_zulu",
    Severity.ERROR,
    "RFC 5019 2.2.4; RFC 5280 4.1.2.5.2",
    "OCSP times must be expressed in UTC (Zulu) with a trailing Z.",
    OCSP,
)
def t_zulu(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    return _times(doc, NOT_ZULU)


@lint(
    "e_ocsp_time_missing_seconds",
    Severity.ERROR,
    "RFC 5019 2.2.4; RFC 5280 4.1.2.5.2",
    "OCSP times must include seconds.",
    OCSP,
)
def t_seconds(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    return _times(doc, NO_SECONDS)


@lint(
    "e_ocsp_time_not_generalized",
    Severity.ERROR,
    "RFC 6960 4.2.1",
    "OCSP times are GeneralizedTime; no other time type is allowed.",
    OCSP,
)
def t_type(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    return _times(doc, WRONG_TYPE)


@lint(
    "e_ocsp_time_invalid",
    Severity.ERROR,
    "RFC 6960 4.2.1; RFC 5280 4.1.2.5.2",
    "OCSP times must be valid GeneralizedTime values of the form YYYYMMDDHHMMSSZ.",
    OCSP,
)
def t_invalid(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    return _times(doc, INVALID)


@lint(
    "e_ocsp_no_responses",
    Severity.ERROR,
    "RFC 6960 4.2.1",
    "A successful basic response must contain at least one SingleResponse.",
    OCSP,
)
def no_responses(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    if doc.tbs_raw is not None and not doc.structure_errors and not doc.responses:
        return [(f"{TBS}.responses", "responses is empty")]
    return ()


@lint(
    "e_ocsp_this_update_after_produced_at",
    Severity.ERROR,
    "RFC 6960 2.4; RFC 5019 4",
    "thisUpdate must not be later than producedAt.",
    OCSP,
)
def this_after_produced(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    p = doc.produced_at
    if p is None or p.value is None:
        return ()
    return [
        (r.this_update.location, f"thisUpdate {r.this_update.value} is after producedAt {p.value}")
        for r in doc.responses
        if r.this_update.value is not None and r.this_update.value > p.value
    ]


@lint(
    "e_ocsp_next_update_missing",
    Severity.ERROR,
    "BR 4.9.10; RFC 5019 2.2.4",
    "nextUpdate must be present so the response has a bounded validity interval.",
    OCSP,
)
def next_missing(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    return [
        (f"{TBS}.responses[{r.index}].nextUpdate", "nextUpdate is absent")
        for r in doc.responses
        if r.next_update is None
    ]


@lint(
    "e_ocsp_next_update_before_this_update",
    Severity.ERROR,
    "RFC 6960 4.2.2.1",
    "nextUpdate must be later than thisUpdate.",
    OCSP,
)
def next_before(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    out = []
    for r in doc.responses:
        nu, tu = r.next_update, r.this_update
        if (
            nu is not None
            and nu.value is not None
            and tu.value is not None
            and nu.value <= tu.value
        ):
            out.append((nu.location, f"nextUpdate {nu.value} is not after thisUpdate {tu.value}"))
    return out


def _for_subscriber(ctx: LintContext) -> bool:
    return not ctx.extra.get("ocsp_for_ca_certificate", False)


@lint(
    "e_ocsp_validity_interval_too_long",
    Severity.ERROR,
    "BR 4.9.10",
    "For subscriber certificates the validity interval (thisUpdate to nextUpdate, "
    "inclusive) must be at most ten days.",
    OCSP,
    effective=br.BROWSER_ALIGNMENT_FROM,
)
def too_long(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    if not _for_subscriber(ctx):
        return ()
    out = []
    for r in doc.responses:
        nu, tu = r.next_update, r.this_update
        if nu is not None and nu.value is not None and tu.value is not None:
            span = span_seconds(tu.value, nu.value)
            if span > 10 * 86400:
                out.append(
                    (nu.location, f"validity interval is {span / 86400:.2f} days (at most 10)")
                )
    return out


@lint(
    "e_ocsp_validity_interval_too_short",
    Severity.ERROR,
    "BR 4.9.10",
    "For subscriber certificates the validity interval (thisUpdate to nextUpdate, "
    "inclusive) must be at least eight hours.",
    OCSP,
    effective=br.BROWSER_ALIGNMENT_FROM,
)
def too_short(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    if not _for_subscriber(ctx):
        return ()
    out = []
    for r in doc.responses:
        nu, tu = r.next_update, r.this_update
        if nu is not None and nu.value is not None and tu.value is not None:
            span = span_seconds(tu.value, nu.value)
            if 0 < span < 8 * 3600:
                out.append(
                    (nu.location, f"validity interval is {span / 3600:.2f} hours (at least 8)")
                )
    return out


@lint(
    "e_ocsp_revocation_time_after_this_update",
    Severity.ERROR,
    "RFC 6960 4.2.1; RFC 6960 2.2",
    "A certificate cannot be reported revoked at a time after thisUpdate.",
    OCSP,
)
def revoked_after(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    out = []
    for r in doc.responses:
        rt = r.revocation_time
        tu = r.this_update.value
        if rt is not None and rt.value is not None and tu is not None and rt.value > tu:
            out.append((rt.location, f"revocationTime {rt.value} is after thisUpdate"))
    return out


@lint(
    "e_ocsp_revocation_reason_not_allowed",
    Severity.ERROR,
    "BR 7.2.2; BR 4.9.10",
    "revocationReason must be one BR 7.2.2 allows (never certificateHold).",
    OCSP,
    effective=br.REVOCATION_REASONS_FROM,
)
def reason(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    allowed = ALLOWED_REASONS | {2} if ctx.extra.get("ocsp_for_ca_certificate") else ALLOWED_REASONS
    return [
        (
            f"{TBS}.responses[{r.index}].certStatus.revocationReason",
            f"revocationReason {REASON_NAMES.get(r.revocation_reason, 'undefined')} "
            f"({r.revocation_reason})",
        )
        for r in doc.responses
        if r.revocation_reason is not None
        and r.revocation_reason not in allowed
        and r.revocation_reason != 0
    ]


@lint(
    "w_ocsp_revocation_reason_unspecified",
    Severity.WARNING,
    "BR 7.2.2; RFC 5280 5.3.1",
    "unspecified (0) should be represented by omitting revocationReason.",
    OCSP,
)
def reason_zero(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    return [
        (
            f"{TBS}.responses[{r.index}].certStatus.revocationReason",
            "revocationReason unspecified (0) is encoded",
        )
        for r in doc.responses
        if r.revocation_reason == 0
    ]


@lint(
    "e_ocsp_certid_hash_algorithm",
    Severity.ERROR,
    "RFC 5019 2.1.1; RFC 6960 4.1.1",
    "CertID must use SHA-1, SHA-256, SHA-384 or SHA-512 with NULL or absent parameters, and "
    "hashes of that algorithm's length.",
    OCSP,
)
def certid_hash(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    out = []
    for r in doc.responses:
        where = f"{TBS}.responses[{r.index}].certID"
        known = CERTID_HASHES.get(r.hash_alg.oid)
        if known is None:
            out.append((where, f"hashAlgorithm {r.hash_alg.oid} is not allowed"))
            continue
        if r.hash_alg.params not in (None, b"\x05\x00"):
            out.append((where, f"hashAlgorithm parameters {r.hash_alg.params.hex()} are not NULL"))
        size = known[1]
        if len(r.issuer_name_hash) != size or len(r.issuer_key_hash) != size:
            out.append((where, f"issuer hashes are not {size} octets long"))
    return out


@lint(
    "e_ocsp_certid_serial_invalid",
    Severity.ERROR,
    "RFC 5280 4.1.2.2",
    "The CertID serial number must be a positive INTEGER of at most 20 octets.",
    OCSP,
)
def certid_serial(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    out = []
    for r in doc.responses:
        s = r.serial
        where = f"{TBS}.responses[{r.index}].certID.serialNumber"
        if not s or s[0] & 0x80 or not any(s):
            out.append((where, f"serial 0x{s.hex()} is not positive"))
        elif len(s) > 20:
            out.append((where, f"serial is {len(s)} octets"))
    return out


def _all_extensions(doc: OcspResponseDocument) -> list[tuple[str, tuple[Extension, ...]]]:
    groups: list[tuple[str, tuple[Extension, ...]]] = [
        (f"{TBS}.responseExtensions", tuple(doc.extensions))
    ]
    groups.extend(
        (f"{TBS}.responses[{r.index}].singleExtensions", r.extensions) for r in doc.responses
    )
    return groups


@lint(
    "e_ocsp_extensions_invalid",
    Severity.ERROR,
    "RFC 6960 4.4; RFC 5280 4.2; X.690 11.5",
    "Response and single extensions must appear once each, encode no DEFAULT FALSE, and "
    "not be unknown and critical.",
    OCSP,
)
def extensions(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    out = []
    for where, exts in _all_extensions(doc):
        seen: set[str] = set()
        for e in exts:
            if e.oid in seen:
                out.append((where, f"extension {e.oid} appears more than once"))
            seen.add(e.oid)
            if e.critical_encoded_false:
                out.append((where, f"extension {e.oid} encodes critical FALSE"))
            if e.critical and e.oid not in KNOWN_OCSP_EXTENSIONS:
                out.append((where, f"unrecognised extension {e.oid} is critical"))
    return out


# --- signer -----------------------------------------------------------------------------


def _signer_doc(doc: OcspResponseDocument) -> CertificateDocument | None:
    docs = doc.signer_docs
    return docs[0] if docs else None


def _responder_key_hash(spki_public_key: bytes) -> bytes:
    return hashlib.sha1(spki_public_key).digest()


def _is_the_ca(signer: CertificateDocument, ctx: LintContext) -> bool:
    if ctx.issuer is None:
        return signer.cert_type in (CertType.ROOT, CertType.SUBORDINATE_CA)
    return signer.der == ctx.issuer.public_bytes(_der_encoding())


def _der_encoding() -> Any:
    from cryptography.hazmat.primitives.serialization import Encoding

    return Encoding.DER


@lint(
    "e_ocsp_responder_id_mismatch",
    Severity.ERROR,
    "RFC 6960 4.2.2.3",
    "responderID must identify the key that signed the response (byKey: SHA-1 of the key; "
    "byName: the signer's subject).",
    OCSP,
)
def responder_id(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    signer = _signer_doc(doc)
    if signer is not None:
        key_bits, subject = signer.public_key, signer.subject_raw
    elif ctx.issuer is not None:
        from cryptography.hazmat.primitives.serialization import Encoding

        issuer_doc = CertificateDocument(ctx.issuer.public_bytes(Encoding.DER))
        key_bits, subject = issuer_doc.public_key, issuer_doc.subject_raw
    else:
        return ()
    where = f"{TBS}.responderID"
    by_key, by_name = doc.responder_key_hash, doc.responder_by_name
    if by_key is not None and key_bits is not None and by_key != _responder_key_hash(key_bits):
        return [(where, "byKey hash does not match the signing certificate's key")]
    if by_name is not None and subject is not None and by_name != subject:
        return [(where, "byName does not match the signing certificate's subject")]
    return ()


@lint(
    "e_ocsp_delegated_responder_invalid",
    Severity.ERROR,
    "BR 4.9.9; BR 7.1.2.8; RFC 6960 4.2.2.2",
    "A delegated responder certificate must carry EKU id-kp-OCSPSigning and id-pkix-ocsp-nocheck.",
    OCSP,
)
def delegated(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    signer = _signer_doc(doc)
    if signer is None or _is_the_ca(signer, ctx):
        return ()
    where = "basicOCSPResponse.certs[0]"
    out = []
    eku = signer.safe("eku") or []
    if EKU_OCSP_SIGNING not in eku:
        out.append((where, "signer certificate lacks EKU id-kp-OCSPSigning"))
    if OID_OCSP_NOCHECK not in signer.ext:
        out.append((where, "signer certificate lacks id-pkix-ocsp-nocheck"))
    return out


@lint(
    "e_ocsp_delegated_responder_not_issued_by_ca",
    Severity.ERROR,
    "BR 4.9.9; RFC 6960 4.2.2.2",
    "A delegated responder certificate must be issued (and signed) by the CA itself.",
    OCSP,
)
def delegated_issuer(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    signer = _signer_doc(doc)
    if signer is None or ctx.issuer is None or _is_the_ca(signer, ctx):
        return ()
    where = "basicOCSPResponse.certs[0]"
    if signer.issuer_raw != ctx.issuer.subject.public_bytes():
        return [(where, "signer certificate is not issued by the given CA")]
    if signer.tbs_raw is None or signer.sig_alg is None or signer.signature is None:
        return ()
    problem = verify_signature(
        ctx.issuer.public_key(), signer.sig_alg, signer.tbs_raw, signer.signature
    )
    return [(where, f"signer certificate: {problem}")] if problem else ()


@lint(
    "e_ocsp_signer_certificate_defective",
    Severity.ERROR,
    "BR 7.1.2.8",
    "The embedded delegated responder certificate must itself pass the OCSP responder "
    "certificate lints.",
    OCSP,
)
def signer_lints(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    signer = _signer_doc(doc)
    if signer is None or _is_the_ca(signer, ctx):
        return ()
    from certkeeper.lint.catalogue import run_lints

    sub = CertificateDocument(signer.der, CertType.OCSP_RESPONDER)
    return [
        ("basicOCSPResponse.certs[0]", f"{f.lint_id}: {f.message}")
        for f in run_lints(sub, LintContext(issuer=ctx.issuer, tld=ctx.tld))
        if f.severity >= Severity.ERROR and f.lint_id != "e_ocsp_responder_not_issued_by_ca"
    ]


@lint(
    "e_ocsp_signature_invalid",
    Severity.ERROR,
    "RFC 6960 4.2.2.1; RFC 6960 3.2",
    "The response signature must verify with the signer (embedded responder certificate, "
    "or the CA given with --issuer).",
    OCSP,
)
def signature(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    if doc.tbs_raw is None or doc.sig_alg is None or doc.signature is None:
        return ()
    signer = _signer_doc(doc)
    key: Any = None
    if signer is not None and signer.crypto is not None:
        key = signer.crypto.public_key()
    elif ctx.issuer is not None:
        key = ctx.issuer.public_key()
    if key is None:
        return ()
    problem = verify_signature(key, doc.sig_alg, doc.tbs_raw, doc.signature)
    return [("basicOCSPResponse.signature", problem)] if problem else ()


@lint(
    "e_ocsp_certid_issuer_mismatch",
    Severity.ERROR,
    "RFC 6960 4.1.1",
    "CertID issuerNameHash and issuerKeyHash must be hashes of the given CA's name and key.",
    OCSP,
)
def certid_issuer(doc: OcspResponseDocument, ctx: LintContext) -> Out:
    if ctx.issuer is None:
        return ()
    from cryptography.hazmat.primitives.serialization import Encoding

    ca = CertificateDocument(ctx.issuer.public_bytes(Encoding.DER))
    if ca.subject_raw is None or ca.public_key is None:
        return ()
    out = []
    for r in doc.responses:
        known = CERTID_HASHES.get(r.hash_alg.oid)
        if known is None:
            continue
        name_hash = hashlib.new(known[0], ca.subject_raw).digest()
        key_hash = hashlib.new(known[0], ca.public_key).digest()
        if r.issuer_name_hash != name_hash or r.issuer_key_hash != key_hash:
            out.append(
                (f"{TBS}.responses[{r.index}].certID", "issuer hashes do not match the given CA")
            )
    return out
