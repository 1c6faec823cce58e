"""The two-linter gate: our lints and pkilint must both pass before a real signature.

A finding blocks issuance when it is ERROR or FATAL and no waiver in force covers its
lint id. Waived findings do not block, but are returned so they are stored with the
certificate (an auditor sees every exception that was taken).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.engine import PRE_ISSUANCE, CertType, Finding, Severity
from certkeeper.lint.pkilint_adapter import PkilintLinter
from certkeeper.lint.waivers import Waiver


@dataclass
class GateResult:
    blocking: list[Finding] = field(default_factory=list)
    waived: list[tuple[Finding, Waiver]] = field(default_factory=list)
    other: list[Finding] = field(default_factory=list)  # below ERROR: recorded, not blocking

    @property
    def passed(self) -> bool:
        return not self.blocking

    def summary(self, limit: int = 5) -> str:
        parts = [f"[{f.linter}] {f.lint_id}: {f.message}" for f in self.blocking[:limit]]
        more = len(self.blocking) - limit
        if more > 0:
            parts.append(f"... and {more} more")
        return "; ".join(parts)


class LintGate:
    """Both linters, built once per process and reused for every document."""

    def __init__(self, use_pkilint: bool = True) -> None:
        self.pkilint = PkilintLinter() if use_pkilint else None

    def check_certificate(
        self,
        der: bytes,
        cert_type: CertType,
        ctx: LintContext,
        waivers: Mapping[str, Waiver],
    ) -> GateResult:
        doc = CertificateDocument.from_der(der, cert_type)
        findings = run_lints(doc, ctx, PRE_ISSUANCE)
        if self.pkilint is not None:
            findings += self.pkilint.lint_certificate(der, cert_type)
        return classify(findings, waivers)


def classify(findings: list[Finding], waivers: Mapping[str, Waiver]) -> GateResult:
    result = GateResult()
    for finding in findings:
        if finding.severity < Severity.ERROR:
            result.other.append(finding)
        elif finding.lint_id in waivers:
            result.waived.append((finding, waivers[finding.lint_id]))
        else:
            result.blocking.append(finding)
    return result


def crl_blocking_findings(der: bytes, issuer_cert_der: bytes) -> list[Finding]:
    """certkeeper's CRL lints; ERROR and FATAL findings stop a CRL's publication (no
    waivers: a CRL is not a profile's exception)."""
    from cryptography import x509

    ctx = LintContext(issuer=x509.load_der_x509_certificate(issuer_cert_der))
    findings = run_lints(CrlDocument.from_der(der), ctx)
    return [f for f in findings if f.severity >= Severity.ERROR]
