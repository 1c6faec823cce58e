"""Checks that need the issuing CA certificate (LintContext.issuer) or the profile."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from certkeeper.lint.cert.common import EC_CURVE_HASH, SIG_NAMES, verify_signature
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.values import GN_URI
from certkeeper.lint.engine import AUDIT, CertType, DocType, Severity, lint
from certkeeper.x509.oids import AD_CA_ISSUERS, AD_OCSP

CERT = (DocType.CERTIFICATE,)
Out = Iterable[tuple[str, str]]
EXT = "tbsCertificate.extensions"


def issuer_ski(issuer: Any) -> bytes | None:
    from cryptography import x509

    try:
        ext = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier)
    except x509.ExtensionNotFound:
        return None
    return bytes(ext.value.digest)


def issuer_key_hash(issuer: Any) -> bytes:
    """SHA-1 of the issuer's subjectPublicKey BIT STRING contents (RFC 5280 4.2.1.2 (1))."""
    from cryptography import x509

    return x509.SubjectKeyIdentifier.from_public_key(issuer.public_key()).digest


def _issuer(doc: CertificateDocument, ctx: LintContext) -> Any:
    if ctx.issuer is not None:
        return ctx.issuer
    if doc.cert_type is CertType.ROOT:
        return doc.crypto  # self-signed: verify against itself
    return None


@lint(
    "e_cert_signature_invalid",
    Severity.ERROR,
    "RFC 5280 4.1.1.3; RFC 5280 6.1.3",
    "The signature must verify with the issuer's public key (a root's own key; otherwise "
    "the CA given with --issuer).",
    CERT,
    # Not pre-issuance: the gate lints a copy signed with a throwaway key by design.
    sets=(AUDIT,),
)
def signature_invalid(doc: CertificateDocument, ctx: LintContext) -> Out:
    issuer = _issuer(doc, ctx)
    if issuer is None or doc.tbs_raw is None or doc.sig_alg is None or doc.signature is None:
        return ()
    problem = verify_signature(issuer.public_key(), doc.sig_alg, doc.tbs_raw, doc.signature)
    return [("signatureValue", problem)] if problem else ()


@lint(
    "e_cert_issuer_name_mismatch",
    Severity.ERROR,
    "BR 7.1.4.1; RFC 5280 4.1.2.4",
    "The issuer field must be byte-for-byte identical to the issuing CA's subject.",
    CERT,
)
def issuer_name(doc: CertificateDocument, ctx: LintContext) -> Out:
    if ctx.issuer is None or doc.issuer_raw is None:
        return ()
    expected = ctx.issuer.subject.public_bytes()
    if doc.issuer_raw != expected:
        return [
            (
                "tbsCertificate.issuer",
                f"issuer {doc.issuer_raw.hex()} != CA subject {expected.hex()}",
            )
        ]
    return ()


@lint(
    "e_cert_aki_mismatch",
    Severity.ERROR,
    "RFC 5280 4.2.1.1; BR 7.1.2.11.1",
    "authorityKeyIdentifier.keyIdentifier must equal the issuer's subjectKeyIdentifier.",
    CERT,
)
def aki_mismatch(doc: CertificateDocument, ctx: LintContext) -> Out:
    aki = doc.safe("aki")
    issuer = _issuer(doc, ctx)
    if aki is None or aki.key_id is None or issuer is None:
        return ()
    expected = issuer_ski(issuer)
    if expected is None:
        expected = issuer_key_hash(issuer)
    if aki.key_id != expected:
        return [
            (
                f"{EXT}.authorityKeyIdentifier",
                f"keyIdentifier {aki.key_id.hex()} != issuer SKI {expected.hex()}",
            )
        ]
    return ()


@lint(
    "e_cert_ecdsa_hash_mismatch",
    Severity.ERROR,
    "BR 7.1.3.2.2",
    "An ECDSA issuer key must sign with the hash that matches its curve (P-256/SHA-256, ...).",
    CERT,
)
def ecdsa_hash(doc: CertificateDocument, ctx: LintContext) -> Out:
    issuer = _issuer(doc, ctx)
    if issuer is None or doc.sig_alg is None:
        return ()
    from cryptography.hazmat.primitives.asymmetric import ec

    key = issuer.public_key()
    if not isinstance(key, ec.EllipticCurvePublicKey):
        return ()
    want = EC_CURVE_HASH.get(key.curve.name)
    if want is not None and doc.sig_alg.oid != want:
        got = SIG_NAMES.get(doc.sig_alg.oid, doc.sig_alg.oid)
        return [
            (
                "signatureAlgorithm",
                f"{key.curve.name} issuer key signed with {got}, needs {SIG_NAMES[want]}",
            )
        ]
    return ()


@lint(
    "e_ocsp_responder_not_issued_by_ca",
    Severity.ERROR,
    "BR 4.9.9; RFC 6960 4.2.2.2",
    "A delegated OCSP responder certificate must be issued directly by the CA it answers for.",
    CERT,
    cert_types=(CertType.OCSP_RESPONDER,),
)
def responder_issuer(doc: CertificateDocument, ctx: LintContext) -> Out:
    if ctx.issuer is None or doc.issuer_raw is None:
        return ()
    if doc.issuer_raw != ctx.issuer.subject.public_bytes():
        return [("tbsCertificate.issuer", "responder certificate's issuer is not the given CA")]
    return ()


# --- profile expectations -----------------------------------------------------------------


def _uris(doc: CertificateDocument, method: str) -> list[str]:
    return [g.text for m, g in doc.safe("aia") or [] if m == method and g.tag == GN_URI]


@lint(
    "e_profile_policy_mismatch",
    Severity.ERROR,
    "certkeeper profile; BR 7.1.2.7.9",
    "certificatePolicies must list exactly the policy OIDs the profile promises.",
    CERT,
)
def profile_policies(doc: CertificateDocument, ctx: LintContext) -> Out:
    exp = ctx.expectations
    if exp is None or not exp.policy_oids:
        return ()
    got = doc.policy_oids
    if sorted(got) != sorted(exp.policy_oids):
        return [
            (
                f"{EXT}.certificatePolicies",
                f"policies {got} != profile {list(exp.policy_oids)} ({exp.profile_id})",
            )
        ]
    return ()


@lint(
    "e_profile_aia_mismatch",
    Severity.ERROR,
    "certkeeper profile; BR 7.1.2.7.7",
    "AIA caIssuers and OCSP URLs must be the ones the profile promises.",
    CERT,
)
def profile_aia(doc: CertificateDocument, ctx: LintContext) -> Out:
    exp = ctx.expectations
    if exp is None:
        return ()
    out = []
    for method, want, label in (
        (AD_CA_ISSUERS, exp.ca_issuers_urls, "caIssuers"),
        (AD_OCSP, exp.ocsp_urls, "OCSP"),
    ):
        if want and sorted(_uris(doc, method)) != sorted(want):
            out.append(
                (
                    f"{EXT}.authorityInformationAccess",
                    f"{label} URLs {_uris(doc, method)} != profile {list(want)}",
                )
            )
    return out


@lint(
    "e_profile_crldp_mismatch",
    Severity.ERROR,
    "certkeeper profile; BR 7.1.2.11.2",
    "cRLDistributionPoints must be present when the profile requires it and name only "
    "the profile's CRL URLs.",
    CERT,
)
def profile_crldp(doc: CertificateDocument, ctx: LintContext) -> Out:
    exp = ctx.expectations
    if exp is None:
        return ()
    dps = doc.safe("crldp")
    where = f"{EXT}.cRLDistributionPoints"
    if dps is None:
        if exp.crldp_required:
            return [(where, f"profile {exp.profile_id} requires cRLDistributionPoints")]
        return ()
    if not exp.crl_urls:
        return ()
    urls = [g.text for dp in dps for g in dp.full_name or () if g.tag == GN_URI]
    bad = [u for u in urls if u not in exp.crl_urls]
    return [(where, f"CRL URL {u!r} is not one of the profile's") for u in bad]


@lint(
    "e_profile_key_usage_mismatch",
    Severity.ERROR,
    "certkeeper profile; BR 7.1.2.7.11",
    "keyUsage must assert exactly the bits the profile (and the CPS) promise.",
    CERT,
)
def profile_ku(doc: CertificateDocument, ctx: LintContext) -> Out:
    exp = ctx.expectations
    if exp is None or not exp.key_usage:
        return ()
    ku = doc.safe("key_usage")
    got = set() if ku is None else set(ku.bits)
    if got != set(exp.key_usage):
        return [(f"{EXT}.keyUsage", f"keyUsage {sorted(got)} != profile {sorted(exp.key_usage)}")]
    return ()


@lint(
    "e_profile_eku_mismatch",
    Severity.ERROR,
    "certkeeper profile; BR 7.1.2.7.10",
    "extKeyUsage must list exactly the purposes the profile promises.",
    CERT,
)
def profile_eku(doc: CertificateDocument, ctx: LintContext) -> Out:
    exp = ctx.expectations
    if exp is None or not exp.extended_key_usage:
        return ()
    got = doc.safe("eku") or []
    if sorted(got) != sorted(exp.extended_key_usage):
        return [
            (f"{EXT}.extKeyUsage", f"extKeyUsage {got} != profile {list(exp.extended_key_usage)}")
        ]
    return ()
