"""What a SingleResponse's extensions may carry (BR 7.3.2)."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date

from certkeeper.lint.context import LintContext
from certkeeper.lint.document import OID_REASON_CODE, OcspResponseDocument
from certkeeper.lint.engine import DocType, Severity, lint

# BR 1.7.1 (ballot SC31, "Browser Alignment") added BR 7.3.2; in force from its
# effective date. The revocation reason belongs in RevokedInfo.revocationReason.
OCSP_REASON_CODE_BANNED_FROM = date(2020, 8, 20)


@lint(
    "e_ocsp_single_extension_reason_code",
    Severity.ERROR,
    "BR 7.3.2; RFC 6960 4.2.1",
    "singleExtensions must not contain the reasonCode CRL entry extension (the reason goes "
    "in revokedInfo.revocationReason).",
    (DocType.OCSP_RESPONSE,),
    effective=OCSP_REASON_CODE_BANNED_FROM,
)
def reason_code_in_single_extensions(
    doc: OcspResponseDocument, ctx: LintContext
) -> Iterable[tuple[str, str]]:
    return [
        (
            f"responses[{r.index}].singleExtensions",
            f"singleExtensions of the response for serial 0x{r.serial.hex()} hold reasonCode",
        )
        for r in doc.responses
        for ext in r.extensions
        if ext.oid == OID_REASON_CODE
    ]
