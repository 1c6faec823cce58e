"""Technically Constrained Non-TLS Subordinate CAs (BR 7.1.2.3): a CA under a TLS root
that issues, say, S/MIME or code-signing certificates. Its extKeyUsage is what keeps it
out of TLS, so the BR require one and forbid every purpose that would let it back in;
its policies must not claim the TLS reserved identifiers.

The common CA rules (basicConstraints, keyUsage, SKI, AKI, CRL pointer, qualifiers) come
from the subordinate CA lints, which apply to this type unless they are TLS-only.
"""

from __future__ import annotations

from certkeeper import br
from certkeeper.lint.cert.common import CERT, EXT, Out
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import CertType, Severity, lint
from certkeeper.x509.oids import (
    EKU_ANY,
    EKU_OCSP_SIGNING,
    EKU_PRECERT_SIGNING,
    EKU_SERVER_AUTH,
    POLICY_ANY,
    RESERVED_POLICIES,
)

_FORBIDDEN_PURPOSES = {
    EKU_SERVER_AUTH: "serverAuth",
    EKU_OCSP_SIGNING: "OCSPSigning",
    EKU_ANY: "anyExtendedKeyUsage",
    EKU_PRECERT_SIGNING: "Precertificate Signing",
}


@lint(
    "e_non_tls_ca_eku_invalid",
    Severity.ERROR,
    "BR 7.1.2.3; BR 7.1.2.3.3",
    "A non-TLS subordinate CA must carry extKeyUsage without serverAuth, OCSPSigning, "
    "anyExtendedKeyUsage or Precertificate Signing.",
    CERT,
    cert_types=(CertType.NON_TLS_CA,),
    effective=br.BR_2_0_PROFILES,
)
def non_tls_eku(doc: CertificateDocument, ctx: LintContext) -> Out:
    where = f"{EXT}.extKeyUsage"
    eku = doc.safe("eku")
    if eku is None:
        return [(where, "extKeyUsage is absent")]
    return [
        (where, f"extKeyUsage includes {name}")
        for oid, name in _FORBIDDEN_PURPOSES.items()
        if oid in eku
    ]


@lint(
    "e_non_tls_ca_policies_invalid",
    Severity.ERROR,
    "BR 7.1.2.3.2",
    "A non-TLS subordinate CA's certificatePolicies, if present, hold anyPolicy alone or "
    "policies that are neither anyPolicy nor a CA/Browser Forum reserved identifier.",
    CERT,
    cert_types=(CertType.NON_TLS_CA,),
    effective=br.BR_2_0_PROFILES,
)
def non_tls_policies(doc: CertificateDocument, ctx: LintContext) -> Out:
    oids = doc.policy_oids
    where = f"{EXT}.certificatePolicies"
    if POLICY_ANY in oids:
        return [] if len(oids) == 1 else [(where, "anyPolicy is not the only policy")]
    return [
        (where, f"reserved policy {oid} in a non-TLS CA")
        for oid in oids
        if oid in RESERVED_POLICIES
    ]
