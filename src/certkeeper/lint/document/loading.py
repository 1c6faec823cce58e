"""Reading a document whose kind is not known: PEM, DER or base64; certificate, CRL or
OCSP response. Only input that is recognisably none of these raises InputError."""

from __future__ import annotations

import base64
import binascii
import re

from certkeeper.errors import InputError
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.lint.document.values import CTX0_C
from certkeeper.lint.engine import DocType, Document

_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_PEM_TYPES = {
    b"CERTIFICATE": DocType.CERTIFICATE,
    b"X509 CERTIFICATE": DocType.CERTIFICATE,
    b"TRUSTED CERTIFICATE": DocType.CERTIFICATE,
    b"X509 CRL": DocType.CRL,
    b"OCSP RESPONSE": DocType.OCSP_RESPONSE,
}


def _lenient_header(der: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """Like header(), but a length that runs past `end` is clipped: truncated files must
    still be recognised so their damage is reported as a finding."""
    if pos + 2 > end:
        return None
    first = der[pos + 1]
    if first < 0x80:
        cs, length = pos + 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + 2 + count > end:
            return None
        cs, length = pos + 2 + count, int.from_bytes(der[pos + 2 : pos + 2 + count], "big")
    return der[pos], cs, min(cs + length, end)


def _sniff(der: bytes) -> DocType | None:
    """Guess the document type from the shape of the outer SEQUENCE, tolerantly."""
    outer = _lenient_header(der, 0, len(der))
    if outer is None or outer[0] != 0x30:
        return None
    first = _lenient_header(der, outer[1], outer[2])
    if first is None:
        return None
    if first[0] == 0x0A:
        return DocType.OCSP_RESPONSE
    if first[0] != 0x30:
        return None
    inner = _lenient_header(der, first[1], first[2])
    if inner is None:
        return None
    # tbsCertificate starts with [0] version or the serial INTEGER followed by an
    # AlgorithmIdentifier; tbsCertList starts with INTEGER version 1 or the AlgId, then a
    # Name, then a time.
    if inner[0] == CTX0_C:
        return DocType.CERTIFICATE
    if inner[0] == 0x30:
        return DocType.CRL
    if inner[0] != 0x02:
        return None
    tags: list[int] = []
    pos = first[1]
    while pos < first[2] and len(tags) < 4:
        h = _lenient_header(der, pos, first[2])
        if h is None:
            break
        tags.append(h[0])
        pos = h[2]
    if len(tags) >= 4 and tags[1] == 0x30 and tags[2] == 0x30 and tags[3] in (0x17, 0x18):
        return DocType.CRL
    return DocType.CERTIFICATE


def _decode_text(data: bytes) -> tuple[bytes, DocType | None]:
    text = data.strip()
    match = _PEM_RE.search(text)
    if match:
        label = match.group(1)
        body = b"".join(match.group(2).split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"PEM block {label.decode()} does not hold valid base64") from None
        return der, _PEM_TYPES.get(label)
    if text.startswith(b"-----BEGIN"):
        raise InputError("PEM header without a matching END line")
    try:
        der = base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(
            "input is not a certificate, CRL or OCSP response (not DER, PEM or base64)"
        ) from None
    return der, None


def load_document(data: bytes, name: str = "") -> Document:
    """Detect PEM / DER / base64 and certificate / CRL / OCSP response; parse once.

    Raises InputError only when the input is none of these; a recognisable but malformed
    document comes back with its problems in `structure_errors`."""
    if not data:
        raise InputError(f"{name or 'input'} is empty")
    label_type: DocType | None = None
    der = bytes(data)
    if der[:1] != b"\x30":
        der, label_type = _decode_text(der)
    doc_type = label_type or _sniff(der)
    if doc_type is None:
        raise InputError(f"{name or 'input'} is not a certificate, CRL or OCSP response")
    doc: Document
    if doc_type is DocType.CERTIFICATE:
        doc = CertificateDocument(der, name=name)
    elif doc_type is DocType.CRL:
        doc = CrlDocument(der, name=name)
    else:
        doc = OcspResponseDocument(der, name=name)
    return doc
