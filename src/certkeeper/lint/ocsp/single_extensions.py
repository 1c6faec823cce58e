"""What a SingleResponse's extensions may carry (BR 7.3.2)."""

from __future__ import annotations

from collections.abc import Iterable

from certkeeper import br
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.lint.engine import DocType, Severity, lint
from certkeeper.x509.oids import OID_REASON_CODE

# The revocation reason belongs in RevokedInfo.revocationReason (BR 7.3.2).


@lint(
    "e_ocsp_single_extension_reason_code",
    Severity.ERROR,
    "BR 7.3.2; RFC 6960 4.2.1",
    "singleExtensions must not contain the reasonCode CRL entry extension (the reason goes "
    "in revokedInfo.revocationReason).",
    (DocType.OCSP_RESPONSE,),
    effective=br.OCSP_REASON_CODE_BANNED_FROM,
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
