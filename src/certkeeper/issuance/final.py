"""The final certificate's builder, made from its precertificate (RFC 6962 3.1).

Used when a precertificate is completed later (`issue --resume`): every field and
every extension is copied as DER from the precertificate, and the SCT list takes the
poison's place, so the final TBS can differ from the precertificate's only as RFC 6962
allows, whatever the profile or the configuration became since.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certkeeper.issuance.tbs import SCT_LIST_OID
from certkeeper.x509 import der
from certkeeper.x509.tbs import CT_POISON


def final_from_precertificate(
    precertificate: x509.Certificate, sct_list: bytes | None
) -> x509.CertificateBuilder:
    """Without an SCT list (CT off) the poison is simply left out."""
    key = precertificate.public_key()
    if not isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey):
        raise ValueError("the precertificate's key is neither RSA nor ECDSA")
    builder = (
        x509.CertificateBuilder()
        .serial_number(precertificate.serial_number)
        .issuer_name(precertificate.issuer)
        .subject_name(precertificate.subject)
        .public_key(key)
        .not_valid_before(precertificate.not_valid_before_utc)
        .not_valid_after(precertificate.not_valid_after_utc)
    )
    for ext in precertificate.extensions:
        if ext.oid.dotted_string == CT_POISON:
            if sct_list is None:
                continue
            value = der.tlv(der.OCTET_STRING, sct_list)
            builder = builder.add_extension(
                x509.UnrecognizedExtension(SCT_LIST_OID, value), critical=False
            )
        else:
            builder = builder.add_extension(
                x509.UnrecognizedExtension(ext.oid, ext.value.public_bytes()), ext.critical
            )
    return builder
