"""TBSCertificate surgery at the DER level, for RFC 6962 comparisons.

A final certificate must equal its precertificate except that the poison extension is
gone and the SCT list may have arrived (RFC 6962 3.1). Removing one extension from each
TBS and comparing bytes checks exactly that, without trusting any re-encoding.
"""

from __future__ import annotations

from certkeeper.x509 import der
from certkeeper.x509.oids import OID_CT_POISON, OID_SCT_LIST

CT_POISON = OID_CT_POISON
SCT_LIST = OID_SCT_LIST


def remove_extension(tbs: bytes, oid: str) -> bytes:
    """The TBSCertificate without the extension `oid` (unchanged if it is absent).

    An extensions field left empty is removed entirely: RFC 5280 requires at least one
    extension when the field is present."""
    top = der.parse_single(tbs)
    parts: list[bytes] = []
    for child in top.children():
        if child.tag != 0xA3:  # [3] extensions
            parts.append(child.raw)
            continue
        seq = child.child(0)
        kept = [ext.raw for ext in seq.children() if der.decode_oid(ext.child(0).content) != oid]
        if kept:
            parts.append(der.tlv(0xA3, der.sequence(*kept)))
    return der.sequence(*parts)


def same_certificate_content(precertificate_tbs: bytes, final_tbs: bytes) -> bool:
    """RFC 6962 3.1: equal once the poison and the SCT list are set aside."""
    return remove_extension(precertificate_tbs, CT_POISON) == remove_extension(final_tbs, SCT_LIST)
