"""Builders for the CA hierarchy's own certificates (pure: keys and times come in).

- Root CA: BR 7.1.2.1 (no EKU, no certificatePolicies, keyCertSign + cRLSign).
- TLS issuing CA: BR 7.1.2.6 (EKU serverAuth, reserved DV policy, pathLen 0, CRLDP
  and AIA pointing at the root).
- Delegated OCSP responder: BR 7.1.2.8 (EKU OCSPSigning only, id-pkix-ocsp-nocheck,
  digitalSignature only, no AIA, no CRLDP).
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass
from datetime import datetime, timedelta

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric.types import CertificateIssuerPublicKeyTypes
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from certkeeper import urls
from certkeeper.x509.oids import POLICY_DV
from certkeeper.x509.time import truncate

ROOT_VALIDITY = timedelta(days=365 * 20 + 5)  # BR 7.1.2.1.1: between 2922 and 9132 days
ISSUING_VALIDITY = timedelta(days=365 * 5 + 1)
RESPONDER_VALIDITY = timedelta(days=365)  # short: a responder key is online


def ca_serial() -> int:
    """A positive 127-bit serial with 126 bits from the CSPRNG (BR 7.1: >= 64 bits)."""
    return secrets.randbits(126) | (1 << 126)


@dataclass(frozen=True)
class Naming:
    ca_name: str
    organization: str
    country: str

    def subject(self, common_name: str) -> x509.Name:
        attrs = []
        if self.country:
            attrs.append(x509.NameAttribute(NameOID.COUNTRY_NAME, self.country))
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, self.organization))
        attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, common_name))
        return x509.Name(attrs)


def root_builder(
    subject: x509.Name, public_key: CertificateIssuerPublicKeyTypes, now: datetime
) -> x509.CertificateBuilder:
    start = truncate(now)
    ski = x509.SubjectKeyIdentifier.from_public_key(public_key)
    return (
        x509.CertificateBuilder()
        .serial_number(ca_serial())
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(public_key)
        .not_valid_before(start)
        .not_valid_after(start + ROOT_VALIDITY)
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(ca_key_usage(digital_signature=False), critical=True)
        .add_extension(ski, critical=False)
        # BR 7.1.2.1.3: RECOMMENDED in a root, keyIdentifier equal to its own SKI.
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski), critical=False
        )
    )


def issuing_ca_builder(
    subject: x509.Name,
    public_key: CertificateIssuerPublicKeyTypes,
    root: x509.Certificate,
    root_name: str,
    base_url: str,
    now: datetime,
) -> x509.CertificateBuilder:
    start = truncate(now)
    return (
        x509.CertificateBuilder()
        .serial_number(ca_serial())
        .subject_name(subject)
        .issuer_name(root.subject)
        .public_key(public_key)
        .not_valid_before(start)
        .not_valid_after(min(start + ISSUING_VALIDITY, root.not_valid_after_utc))
        .add_extension(_aki(root), critical=False)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier(POLICY_DV), None)]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier(urls.ca_crl_url(base_url, root_name))],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(ca_key_usage(digital_signature=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier(urls.ca_issuers_url(base_url, root_name)),
                    )
                ]
            ),
            critical=False,
        )
    )


def responder_builder(
    subject: x509.Name,
    public_key: CertificateIssuerPublicKeyTypes,
    issuer: x509.Certificate,
    now: datetime,
) -> x509.CertificateBuilder:
    start = truncate(now)
    return (
        x509.CertificateBuilder()
        .serial_number(ca_serial())
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .not_valid_before(start)
        .not_valid_after(min(start + RESPONDER_VALIDITY, issuer.not_valid_after_utc))
        .add_extension(_aki(issuer), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.OCSP_SIGNING]), critical=False)
        .add_extension(x509.OCSPNoCheck(), critical=False)
        .add_extension(signing_key_usage(), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
    )


def _aki(issuer: x509.Certificate) -> x509.AuthorityKeyIdentifier:
    ski = issuer.extensions.get_extension_for_class(x509.SubjectKeyIdentifier).value
    return x509.AuthorityKeyIdentifier.from_issuer_subject_key_identifier(ski)


def signing_key_usage() -> x509.KeyUsage:
    """digitalSignature alone: delegated OCSP responders, and the MPIC mutual-TLS leaves."""
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=False,
        crl_sign=False,
        encipher_only=False,
        decipher_only=False,
    )


def ca_key_usage(*, digital_signature: bool) -> x509.KeyUsage:
    """keyCertSign and cRLSign, with digitalSignature where the CA signs OCSP itself."""
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=True,
        crl_sign=True,
        encipher_only=False,
        decipher_only=False,
    )
