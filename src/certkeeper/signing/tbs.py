"""Sign exactly the bytes that were linted.

`cryptography` builds a to-be-signed structure only as part of signing, so we let it
sign a *linting copy* with a throwaway key of the issuer's algorithm, lint that copy,
and then give its TBS bytes, unchanged, to the real signer. The real signature can
therefore only ever cover a TBS that passed the lint gate.
"""

from __future__ import annotations

from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import ec, rsa

from certkeeper.x509 import der
from certkeeper.x509.signer import KEY_SPECS, Signer, throwaway_key


class TbsMismatch(RuntimeError):
    """The bytes about to be signed are not the bytes that were linted."""


def linting_copy(builder: x509.CertificateBuilder, key_type: str) -> x509.Certificate:
    """Build and sign the certificate with an untrusted key of the issuer's algorithm."""
    spec = KEY_SPECS[key_type]
    key = throwaway_key(key_type)
    assert isinstance(key, rsa.RSAPrivateKey | ec.EllipticCurvePrivateKey)
    return builder.sign(key, spec.hash())


def tbs_signature_algorithm(tbs: bytes) -> bytes:
    """The `signature` AlgorithmIdentifier inside a TBSCertificate (after version, serial)."""
    top = der.parse_single(tbs)
    kids = top.children()
    index = 2 if kids and kids[0].tag == 0xA0 else 1
    return kids[index].raw


def sign_tbs(tbs: bytes, signer: Signer) -> bytes:
    """Sign a linted TBSCertificate with the real key and assemble the certificate DER."""
    inner = tbs_signature_algorithm(tbs)
    if inner != signer.spec.algorithm_identifier():
        raise TbsMismatch(
            "the TBS names a different signature algorithm than the issuer key uses "
            f"({signer.spec.name})"
        )
    return der.assemble_signed(tbs, inner, signer.sign(tbs))


def sign_certificate(
    builder: x509.CertificateBuilder, signer: Signer
) -> tuple[bytes, x509.Certificate]:
    """Build and sign a certificate with no lint in between, returning (real DER, linting
    copy): for test fixtures. CA certificates go through `ca.signing_gate`, leaves
    through the issuance service; both lint before the real key signs."""
    copy = linting_copy(builder, signer.spec.name)
    return sign_tbs(copy.tbs_certificate_bytes, signer), copy
