"""OCSP requests from a per-issuer template: only the serial changes (RFC 6960 4.1.1).

A coverage audit sends a million requests; the CertID prefix (hashAlgorithm,
issuerNameHash, issuerKeyHash) is fixed per issuing CA, so it is hashed and encoded
once and each request costs an INTEGER encoding and three length headers. The result
is byte-identical to `certkeeper.x509.ocsp.encode_request` for one CertID without a
nonce (a test holds it to that). RFC 5019 2.1.1 profiles SHA-1 CertIDs, which is what
responders are required to answer.

Pure: bytes and integers in, bytes out.
"""

from __future__ import annotations

from dataclasses import dataclass

from certkeeper.x509 import der
from certkeeper.x509.ocsp import HASH_ALGORITHMS, issuer_hashes


@dataclass(frozen=True, slots=True)
class RequestTemplate:
    """Everything in a one-CertID OCSPRequest that depends only on the issuer."""

    issuer_name: str
    cert_id_prefix: bytes  # encoded hashAlgorithm, issuerNameHash, issuerKeyHash

    @classmethod
    def for_issuer(
        cls, issuer_name: str, issuer_cert_der: bytes, algorithm: str = "sha1"
    ) -> RequestTemplate:
        oid, _ = HASH_ALGORITHMS[algorithm]
        name_hash, key_hash = issuer_hashes(issuer_cert_der, algorithm)
        prefix = (
            der.sequence(der.encode_oid(oid), der.tlv(der.NULL, b""))
            + der.tlv(der.OCTET_STRING, name_hash)
            + der.tlv(der.OCTET_STRING, key_hash)
        )
        return cls(issuer_name, prefix)

    def request(self, serial: int) -> bytes:
        """OCSPRequest { TBSRequest { requestList { Request { CertID } } } }."""
        cert_id = der.tlv(der.SEQUENCE, self.cert_id_prefix + der.encode_integer(serial))
        return der.sequence(der.sequence(der.sequence(der.sequence(cert_id))))
