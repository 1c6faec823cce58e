"""Build a subscriber certificate's TBS from a profile (pure: no keys, no clock, no DB).

The profile decides every extension; the request contributes only the key and names.
The precertificate and the final certificate come from the same function, so their
TBS differ only as RFC 6962 3.1 allows: the poison extension out, the SCT list in.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, NameOID, ObjectIdentifier

from certkeeper import urls
from certkeeper.lint.context import ProfileExpectations
from certkeeper.profiles.schema import EKU_OIDS, Profile
from certkeeper.validation.ip_identifiers import parse_ip
from certkeeper.x509 import der
from certkeeper.x509.oids import OID_SCT_LIST

SCT_LIST_OID = ObjectIdentifier(OID_SCT_LIST)


@dataclass(frozen=True)
class TbsInputs:
    serial: int
    names: tuple[str, ...]
    public_key: rsa.RSAPublicKey | ec.EllipticCurvePublicKey
    not_before: datetime
    not_after: datetime
    issuer_subject: x509.Name
    issuer_ski: bytes
    issuer_name: str  # the inventory name, used in published URLs
    base_url: str
    crl_shard: int


def build(
    profile: Profile, inputs: TbsInputs, *, precertificate: bool, sct_list: bytes | None = None
) -> x509.CertificateBuilder:
    """The certificate builder for a precertificate or (with its SCTs) final certificate."""
    subject = x509.Name([])
    if profile.common_name == "first_san":
        subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, inputs.names[0])])
    builder = (
        x509.CertificateBuilder()
        .serial_number(inputs.serial)
        .issuer_name(inputs.issuer_subject)
        .subject_name(subject)
        .public_key(inputs.public_key)
        .not_valid_before(inputs.not_before)
        .not_valid_after(inputs.not_after)
    )
    for extension, critical in extensions(profile, inputs, subject_empty=len(subject) == 0):
        builder = builder.add_extension(extension, critical=critical)
    if precertificate:
        builder = builder.add_extension(x509.PrecertPoison(), critical=True)
    elif sct_list is not None:
        # The extnValue is an OCTET STRING wrapping the TLS-encoded SCT list (RFC 6962 3.3).
        value = der.tlv(der.OCTET_STRING, sct_list)
        builder = builder.add_extension(
            x509.UnrecognizedExtension(SCT_LIST_OID, value), critical=False
        )
    return builder


def extensions(
    profile: Profile, inputs: TbsInputs, *, subject_empty: bool
) -> list[tuple[x509.ExtensionType, bool]]:
    """The profile's extensions in a fixed order (BR 7.1.2.7.6)."""
    out: list[tuple[x509.ExtensionType, bool]] = []
    aia = [
        x509.AccessDescription(
            AuthorityInformationAccessOID.CA_ISSUERS,
            x509.UniformResourceIdentifier(
                urls.ca_issuers_url(inputs.base_url, inputs.issuer_name)
            ),
        )
    ]
    if profile.aia_ocsp:
        aia.insert(
            0,
            x509.AccessDescription(
                AuthorityInformationAccessOID.OCSP,
                x509.UniformResourceIdentifier(urls.ocsp_url(inputs.base_url)),
            ),
        )
    out.append((x509.AuthorityInformationAccess(aia), False))
    out.append((x509.AuthorityKeyIdentifier(inputs.issuer_ski, None, None), False))
    out.append(
        (
            x509.CertificatePolicies(
                [x509.PolicyInformation(ObjectIdentifier(oid), None) for oid in profile.policies]
            ),
            False,
        )
    )
    out.append(
        (
            x509.ExtendedKeyUsage(
                [ObjectIdentifier(EKU_OIDS[u]) for u in profile.extended_key_usage.usages]
            ),
            profile.extended_key_usage.critical,
        )
    )
    # BR 7.1.2.7.12: subjectAltName is critical exactly when the subject is empty.
    out.append(
        (x509.SubjectAlternativeName([_general_name(n) for n in inputs.names]), subject_empty)
    )
    bits = set(profile.key_usage.bits)
    out.append(
        (
            x509.KeyUsage(
                digital_signature="digital_signature" in bits,
                content_commitment=False,
                key_encipherment="key_encipherment" in bits,
                data_encipherment=False,
                key_agreement="key_agreement" in bits,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            profile.key_usage.critical,
        )
    )
    if profile.basic_constraints.include:
        out.append(
            (x509.BasicConstraints(ca=False, path_length=None), profile.basic_constraints.critical)
        )
    if profile.crl_distribution_point:
        url = urls.crl_url(inputs.base_url, inputs.issuer_name, inputs.crl_shard)
        out.append(
            (
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(url)], None, None, None
                        )
                    ]
                ),
                False,
            )
        )
    if profile.subject_key_identifier:
        out.append((x509.SubjectKeyIdentifier.from_public_key(inputs.public_key), False))
    return out


def expectations(profile: Profile, inputs: TbsInputs) -> ProfileExpectations:
    """What the lints should find in a certificate built from this profile."""
    return profile_expectations(profile, inputs.base_url, inputs.issuer_name, inputs.crl_shard)


def profile_expectations(
    profile: Profile, base_url: str, issuer_name: str, crl_shard: int
) -> ProfileExpectations:
    """The same, from what the inventory records of an issued certificate (for relint)."""
    return ProfileExpectations(
        profile_id=profile.id,
        policy_oids=profile.policies,
        ca_issuers_urls=(urls.ca_issuers_url(base_url, issuer_name),),
        ocsp_urls=(urls.ocsp_url(base_url),) if profile.aia_ocsp else (),
        crl_urls=(urls.crl_url(base_url, issuer_name, crl_shard),)
        if profile.crl_distribution_point
        else (),
        crldp_required=profile.crl_distribution_point,
        key_usage=profile.key_usage.bits,
        extended_key_usage=profile.extended_key_usage.oids,
    )


def _general_name(name: str) -> x509.GeneralName:
    """iPAddress for an IP address (RFC 8738 identifiers), dNSName for everything else."""
    ip = parse_ip(name)
    return x509.DNSName(name) if ip is None else x509.IPAddress(ip)
