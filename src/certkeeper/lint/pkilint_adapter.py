"""pkilint as the second, independent linter.

Building pkilint's validator trees is the expensive part (its CLI spends ~1.2 s per
file, mostly there); validating a document with a built tree takes a few milliseconds.
`PkilintLinter` therefore builds each tree once, on first use, and keeps it. The trees
are not picklable, so pickling a linter ships only its configuration and each worker
process rebuilds its own trees lazily.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from typing import Any

from certkeeper.lint.engine import CertType, Finding, Severity
from certkeeper.x509.oids import OID_IDP, POLICY_EV, POLICY_IV, POLICY_OV

LINTER = "pkilint"

# pkilint severity names -> ours; pkilint DEBUG findings are dropped.
_SEVERITY = {
    "FATAL": Severity.FATAL,
    "ERROR": Severity.ERROR,
    "WARNING": Severity.WARNING,
    "NOTICE": Severity.NOTICE,
    "INFO": Severity.INFO,
}

_IDP = OID_IDP


def _load_failed(kind: str, exc: Exception) -> list[Finding]:
    return [
        Finding(
            lint_id="pkilint.document_decoding_failed",
            severity=Severity.FATAL,
            location=kind,
            message=f"pkilint could not decode the {kind}: {exc}",
            linter=LINTER,
        )
    ]


def _convert(results: Iterable[Any]) -> list[Finding]:
    findings: list[Finding] = []
    for result in results:
        location = str(getattr(result.node, "path", ""))
        for description in result.finding_descriptions:
            severity = _SEVERITY.get(description.finding.severity.name)
            if severity is None:
                continue
            findings.append(
                Finding(
                    lint_id=str(description.finding.code),
                    severity=severity,
                    location=location,
                    message=str(description.message or ""),
                    linter=LINTER,
                )
            )
    return findings


class PkilintLinter:
    """pkilint's CA/B Forum TLS certificate, CRL and OCSP linters, built once and reused.

    Thread-safe for building; a built tree is only read while validating. Construct one
    per process (or pickle one: the trees are rebuilt on the other side)."""

    def __init__(self) -> None:
        self._cert_validators: dict[Any, Any] = {}
        self._cert_filters: dict[Any, Any] = {}
        self._crl_validators: dict[bool, Any] = {}
        self._ocsp_validator: Any = None
        self._lock = threading.Lock()

    def __getstate__(self) -> dict[str, Any]:
        return {}

    def __setstate__(self, state: dict[str, Any]) -> None:
        self.__init__()  # type: ignore[misc]

    # -- certificates -----------------------------------------------------------------

    def _cert_validator(self, pk_type: Any) -> tuple[Any, Any]:
        validator = self._cert_validators.get(pk_type)
        if validator is None:
            from pkilint.cabf import serverauth
            from pkilint.pkix import certificate

            with self._lock:
                validator = self._cert_validators.get(pk_type)
                if validator is None:
                    validator = certificate.create_pkix_certificate_validator_container(
                        serverauth.create_decoding_validators(),
                        serverauth.create_validators(pk_type),
                    )
                    self._cert_filters[pk_type] = serverauth.create_serverauth_finding_filters(
                        pk_type
                    )
                    self._cert_validators[pk_type] = validator
        return validator, self._cert_filters[pk_type]

    @staticmethod
    def pkilint_certificate_type(cert: Any, cert_type: CertType | None) -> Any:
        """Our CertType -> pkilint's serverauth CertificateType for a loaded certificate."""
        from pkilint.cabf import serverauth
        from pkilint.cabf.serverauth.serverauth_constants import (
            INTERMEDIATE_CERTIFICATE_TYPES,
            CertificateType,
        )

        # Detection re-encodes parts of the certificate (about a fifth of a lint's cost),
        # so it runs only when the caller's type leaves the pkilint type open.
        if cert_type is None:
            return serverauth.determine_certificate_type(cert)
        if cert_type is CertType.ROOT:
            return CertificateType.ROOT_CA
        if cert_type is CertType.OCSP_RESPONDER:
            return CertificateType.OCSP_RESPONDER
        if cert_type is CertType.PRECERT_SIGNING_CA:
            return CertificateType.PRECERT_SIGNING_CA
        if cert_type is CertType.NON_TLS_CA:
            return CertificateType.NON_TLS_CA
        if cert_type is CertType.SUBORDINATE_CA:
            detected = serverauth.determine_certificate_type(cert)
            if detected in INTERMEDIATE_CERTIFICATE_TYPES:
                return detected
            return CertificateType.EXTERNAL_UNCONSTRAINED_TLS_CA
        policies = {str(oid) for oid in cert.policy_oids}
        level = "DV"
        for oid, name in (
            (POLICY_EV, "EV"),
            (POLICY_IV, "IV"),
            (POLICY_OV, "OV"),
        ):
            if oid in policies:
                level = name
                break
        suffix = "PRE_CERTIFICATE" if cert_type is CertType.PRECERTIFICATE else "FINAL_CERTIFICATE"
        return CertificateType[f"{level}_{suffix}"]

    def lint_certificate(self, der: bytes, cert_type: CertType | None = None) -> list[Finding]:
        """Lint a certificate or precertificate against pkilint's serverauth profile."""
        from pkilint import finding_filter
        from pkilint.pkix.certificate import RFC5280Certificate

        try:
            cert = RFC5280Certificate(None, bytes(der), "certificate")
            cert.decode()
            pk_type = self.pkilint_certificate_type(cert, cert_type)
        except Exception as exc:  # pkilint raises assorted types on undecodable input
            return _load_failed("certificate", exc)
        validator, filters = self._cert_validator(pk_type)
        results = validator.validate(cert.root)
        results, _ = finding_filter.filter_results(filters, results)
        return _convert(results)

    # -- CRLs -------------------------------------------------------------------------

    def _crl_validator(self, is_arl: bool) -> Any:
        validator = self._crl_validators.get(is_arl)
        if validator is None:
            from pkilint import pkix
            from pkilint.cabf import cabf_crl
            from pkilint.pkix import crl, extension, name

            with self._lock:
                validator = self._crl_validators.get(is_arl)
                if validator is None:
                    crl_type = (
                        crl.CertificateRevocationListType.ARL
                        if is_arl
                        else crl.CertificateRevocationListType.CRL
                    )
                    validator = crl.create_pkix_crl_validator_container(
                        [
                            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
                            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
                        ],
                        [
                            crl.create_issuer_validator_container([]),
                            crl.create_validity_validator_container(
                                [cabf_crl.create_validity_period_validator(crl_type)]
                            ),
                            crl.create_extensions_validator_container([]),
                            cabf_crl.CabfCrlReasonCodeAllowlistValidator(crl_type),
                        ],
                    )
                    self._crl_validators[is_arl] = validator
        return validator

    @staticmethod
    def _crl_is_arl(crl_doc: Any) -> bool:
        """An ARL is a CRL whose IDP says onlyContainsCACerts."""
        from pyasn1.codec.der.decoder import decode
        from pyasn1_alt_modules import rfc5280

        extensions = crl_doc.root.pdu["tbsCertList"]["crlExtensions"]
        if not extensions.isValue:
            return False
        for ext in extensions:
            if str(ext["extnID"]) == _IDP:
                try:
                    idp, _ = decode(
                        bytes(ext["extnValue"]), asn1Spec=rfc5280.IssuingDistributionPoint()
                    )
                except Exception:  # a malformed IDP is pkilint's finding to report
                    return False
                return bool(idp["onlyContainsCACerts"])
        return False

    def lint_crl(self, der: bytes, is_arl: bool | None = None) -> list[Finding]:
        """Lint a CRL against RFC 5280 and the BR CRL profile (CRL or ARL rules)."""
        from pkilint.pkix.crl import RFC5280CertificateList

        try:
            crl_doc = RFC5280CertificateList(None, bytes(der), "crl")
            crl_doc.decode()
            arl = self._crl_is_arl(crl_doc) if is_arl is None else is_arl
        except Exception as exc:
            return _load_failed("CRL", exc)
        return _convert(self._crl_validator(arl).validate(crl_doc.root))

    # -- OCSP -------------------------------------------------------------------------

    def _ocsp(self) -> Any:
        if self._ocsp_validator is None:
            from pkilint import pkix
            from pkilint.pkix import extension, name, ocsp

            with self._lock:
                if self._ocsp_validator is None:
                    self._ocsp_validator = ocsp.create_pkix_ocsp_response_validator_container(
                        [
                            ocsp.create_response_decoder(),
                            pkix.create_attribute_decoder(name.ATTRIBUTE_TYPE_MAPPINGS),
                            pkix.create_extension_decoder(extension.EXTENSION_MAPPINGS),
                        ],
                        [],
                    )
        return self._ocsp_validator

    def lint_ocsp_response(self, der: bytes) -> list[Finding]:
        """Lint an OCSP response against RFC 6960."""
        from pkilint.pkix.ocsp import RFC6960OCSPResponse

        try:
            response = RFC6960OCSPResponse(None, bytes(der), "ocsp_response")
            response.decode()
        except Exception as exc:
            return _load_failed("OCSP response", exc)
        return _convert(self._ocsp().validate(response.root))

    def warm_up(self) -> None:
        """Build the common trees now, so the first real document is not the slow one."""
        from pkilint.cabf.serverauth.serverauth_constants import CertificateType

        self._cert_validator(CertificateType.DV_FINAL_CERTIFICATE)
        self._cert_validator(CertificateType.DV_PRE_CERTIFICATE)
        self._crl_validator(False)
        self._ocsp()


_DEFAULT: PkilintLinter | None = None


def default_linter() -> PkilintLinter:
    """A process-wide linter, for callers that lint now and then."""
    global _DEFAULT
    if _DEFAULT is None:
        _DEFAULT = PkilintLinter()
    return _DEFAULT


__all__ = ["LINTER", "PkilintLinter", "default_linter"]
