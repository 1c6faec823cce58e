"""Mozilla Root Store Policy rules stricter than the Baseline Requirements.

These lints form the `mozilla` source: they run by default (certkeeper issues for the
Mozilla root program as well), and `certkeeper lint --exclude-source mozilla` leaves
them out when a certificate is judged by the BR alone.
"""

from __future__ import annotations

from collections.abc import Iterable

from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import SOURCE_MOZILLA, DocType, Severity, lint
from certkeeper.x509.oids import ALG_EC, CURVE_P521


@lint(
    "e_mozilla_ec_curve_p521",
    Severity.ERROR,
    "Mozilla Root Store Policy 5.1",
    "Mozilla accepts ECDSA keys on P-256 and P-384 only; P-521, which BR 6.1.5 allows, "
    "is not accepted.",
    (DocType.CERTIFICATE,),
    source=SOURCE_MOZILLA,
)
def p521_key(doc: CertificateDocument, ctx: LintContext) -> Iterable[tuple[str, str]]:
    alg = doc.spki_alg
    if alg is not None and alg.oid == ALG_EC and doc.safe("ec_curve") == CURVE_P521:
        return [("tbsCertificate.subjectPublicKeyInfo", "ECDSA key on P-521 (secp521r1)")]
    return ()
