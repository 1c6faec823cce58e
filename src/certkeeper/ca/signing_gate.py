"""The one way a CA certificate gets signed: lint a throwaway-key copy, then sign its TBS.

`init` (root, issuing CAs, responders), `ca add-issuer` and `ca add-responder` all come
here, so no CA certificate is signed that either linter refuses, and the real key signs
exactly the bytes that were linted.
"""

from __future__ import annotations

from collections.abc import Mapping

from cryptography import x509
from cryptography.hazmat.primitives.serialization import Encoding

from certkeeper.errors import IssuanceRefused
from certkeeper.lint.context import LintContext
from certkeeper.lint.engine import CertType
from certkeeper.lint.gate import LintGate
from certkeeper.lint.waivers import Waiver
from certkeeper.signing.tbs import linting_copy, sign_tbs
from certkeeper.x509.signer import Signer


def lint_then_sign(
    builder: x509.CertificateBuilder,
    cert_type: CertType,
    issuer: x509.Certificate | None,
    signer: Signer,
    gate: LintGate,
    waivers: Mapping[str, Waiver],
) -> bytes:
    """The signed DER, or IssuanceRefused naming the findings. `issuer` is None for a
    root (self-signed: its own copy is all there is to lint against)."""
    copy = linting_copy(builder, signer.spec.name)
    result = gate.check_certificate(
        copy.public_bytes(Encoding.DER), cert_type, LintContext(issuer=issuer), waivers
    )
    if not result.passed:
        raise IssuanceRefused(
            f"the {cert_type.value} certificate fails the lint gate: {result.summary()}"
        )
    return sign_tbs(copy.tbs_certificate_bytes, signer)
