"""What a linted document is, when the user says so, and whether TLS rules apply at all.

Detection guesses a certificate's type from its contents; `--type` replaces the guess
(a broken CA certificate without basicConstraints is still a CA to its issuer). A
certificate that is not for TLS servers (S/MIME, code signing, time stamping, a CA
limited to those) is out of the Baseline Requirements' scope: reporting it as a broken
TLS certificate would bury real findings in noise, so it is reported as out of scope
unless the user names its type.
"""

from __future__ import annotations

from enum import StrEnum

from certkeeper.errors import InputError
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.loading import load_document
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.lint.engine import CA_TYPES, CertType, DocType, Document
from certkeeper.x509.oids import (
    EKU_ANY,
    EKU_CODE_SIGNING,
    EKU_EMAIL,
    EKU_PRECERT_SIGNING,
    EKU_SERVER_AUTH,
    EKU_TIME_STAMPING,
)


class DocumentKind(StrEnum):
    """The values of `certkeeper lint --type`."""

    subscriber = "subscriber"
    precertificate = "precertificate"
    root = "root"
    subordinate = "subordinate"
    precert_signing_ca = "precert-signing-ca"
    ocsp_responder = "ocsp-responder"
    non_tls_ca = "non-tls-ca"
    crl = "crl"
    ocsp_response = "ocsp-response"


CERT_KINDS: dict[DocumentKind, CertType] = {
    DocumentKind.subscriber: CertType.SUBSCRIBER,
    DocumentKind.precertificate: CertType.PRECERTIFICATE,
    DocumentKind.root: CertType.ROOT,
    DocumentKind.subordinate: CertType.SUBORDINATE_CA,
    DocumentKind.precert_signing_ca: CertType.PRECERT_SIGNING_CA,
    DocumentKind.ocsp_responder: CertType.OCSP_RESPONDER,
    DocumentKind.non_tls_ca: CertType.NON_TLS_CA,
}
_DOC_KINDS = {DocumentKind.crl: DocType.CRL, DocumentKind.ocsp_response: DocType.OCSP_RESPONSE}

# Purposes that mark a certificate as made for something other than TLS servers.
_NON_TLS_PURPOSES = {
    EKU_EMAIL: "S/MIME (emailProtection)",
    EKU_CODE_SIGNING: "code signing (codeSigning)",
    EKU_TIME_STAMPING: "time stamping (timeStamping)",
}


def load_as(data: bytes, name: str, kind: DocumentKind | None) -> Document:
    """Parse `data`; with `kind`, as that document and certificate type, not a guess."""
    doc = load_document(data, name)
    if kind is None:
        return doc
    if kind in CERT_KINDS:
        if not isinstance(doc, CertificateDocument):
            raise InputError(f"{name}: --type {kind} needs a certificate, this is a {doc.doc_type}")
        return CertificateDocument(doc.der, CERT_KINDS[kind], name=name)
    wanted = _DOC_KINDS[kind]
    if doc.doc_type is wanted:
        return doc
    # The shape sniffing guessed otherwise (a badly broken document): parse as told,
    # and let the structure lints report what is wrong with it.
    if wanted is DocType.CRL:
        return CrlDocument(doc.der, name=name)
    return OcspResponseDocument(doc.der, name=name)


def out_of_scope(doc: Document) -> str | None:
    """Why a certificate is outside the TLS Baseline Requirements, or None.

    Only a certificate whose extKeyUsage excludes TLS server authentication (no
    serverAuth, no anyExtendedKeyUsage, no precertificate signing) and names another
    purpose qualifies: a certificate without extKeyUsage stays in scope, because for a
    subscriber that is itself a BR defect and for a CA it is not a technical limit."""
    if not isinstance(doc, CertificateDocument):
        return None
    eku = doc.safe("eku")
    if not eku or {EKU_SERVER_AUTH, EKU_ANY, EKU_PRECERT_SIGNING} & set(eku):
        return None
    purposes = [label for oid, label in _NON_TLS_PURPOSES.items() if oid in eku]
    if not purposes:
        return None
    what = "CA certificate" if doc.cert_type in CA_TYPES else "certificate"
    return f"a {', '.join(purposes)} {what} without serverAuth: not a TLS server certificate"
