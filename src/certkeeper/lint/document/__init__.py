"""Documents as the lints see them: parsed once from DER, tolerant of bad encodings.

`values` holds the small value types and DER walkers; `certificate`, `crl` and `ocsp`
the three documents; `loading` tells them apart. Code in the lint package imports from
those modules; the four names below are re-exported for the callers outside it (issuance,
status, the CLI), which only need a document and a way to load one.
"""

from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.loading import load_document
from certkeeper.lint.document.ocsp import OcspResponseDocument

__all__ = ["CertificateDocument", "CrlDocument", "OcspResponseDocument", "load_document"]
