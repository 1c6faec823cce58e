"""Subject public keys: BR 6.1.5, 6.1.6 and 7.1.3.1."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import timedelta
from math import gcd, prod

from certkeeper import br
from certkeeper.lint.cert.common import SPKI_ALLOWED
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import CA_TYPES, CertType, DocType, Severity, lint
from certkeeper.x509.oids import ALG_EC, ALG_RSA, CURVE_P256, CURVE_P384, CURVE_P521

CERT = (DocType.CERTIFICATE,)
Out = Iterable[tuple[str, str]]
SPKI = "tbsCertificate.subjectPublicKeyInfo"

_SMALL_PRIMES = [p for p in range(3, 752) if all(p % q for q in range(2, int(p**0.5) + 1))]
_SMALL_PRIME_PRODUCT = prod(_SMALL_PRIMES)

_CURVE_POINT_LEN = {CURVE_P256: 65, CURVE_P384: 97, CURVE_P521: 133}


@lint(
    "e_cert_spki_algorithm_not_allowed",
    Severity.ERROR,
    "BR 7.1.3.1",
    "The SubjectPublicKeyInfo algorithm must be rsaEncryption (NULL parameters) or "
    "id-ecPublicKey with P-256, P-384 or P-521, encoded exactly as BR 7.1.3.1 lists.",
    CERT,
)
def spki_alg(doc: CertificateDocument, ctx: LintContext) -> Out:
    alg = doc.spki_alg
    if alg is None or alg.raw in SPKI_ALLOWED:
        return ()
    return [
        (f"{SPKI}.algorithm", f"key algorithm {alg.oid} encoded as {alg.raw.hex()} is not allowed")
    ]


@lint(
    "e_cert_spki_unused_bits",
    Severity.ERROR,
    "RFC 5280 4.1.2.7",
    "The subjectPublicKey BIT STRING must have no unused bits.",
    CERT,
)
def spki_unused(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.public_key is not None and doc.public_key_unused_bits:
        return [(f"{SPKI}.subjectPublicKey", f"{doc.public_key_unused_bits} unused bits")]
    return ()


def _rsa(doc: CertificateDocument) -> tuple[int, int] | None:
    return doc.safe("rsa_key")  # type: ignore[no-any-return]


@lint(
    "e_cert_rsa_key_malformed",
    Severity.ERROR,
    "RFC 8017 A.1.1; RFC 3279 2.3.1",
    "An RSA subjectPublicKey must be a DER RSAPublicKey {modulus, publicExponent}.",
    CERT,
)
def rsa_malformed(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.spki_alg is None or doc.spki_alg.oid != ALG_RSA or doc.public_key is None:
        return ()
    try:
        doc.rsa_key  # noqa: B018 - decoding is the check
    except Exception as exc:
        return [(f"{SPKI}.subjectPublicKey", str(exc))]
    return ()


_CA = CA_TYPES | {CertType.NON_TLS_CA}


@lint(
    "e_cert_rsa_modulus_too_small",
    Severity.ERROR,
    "BR 6.1.5; BR 1.0 Appendix A",
    "RSA moduli must be at least 2048 bits (1024 until 2013-12-31: in a certificate whose "
    "validity ended by then; for a subordinate CA, also began by 2010-12-31; never roots).",
    CERT,
    revised=br.RSA_1024_ENDING_BY + timedelta(days=1),
)
def rsa_small(doc: CertificateDocument, ctx: LintContext) -> Out:
    rsa = _rsa(doc)
    if not rsa:
        return ()
    need = br.RSA_MIN_MODULUS_BITS
    nb, na = doc.not_before, doc.not_after
    if not ctx.todays_rules and nb and na and nb.value and na.value:
        ctype = doc.cert_type
        kind = "root" if ctype is CertType.ROOT else "ca" if ctype in _CA else "leaf"
        need = br.rsa_min_modulus_bits(kind, nb.value.date(), na.value.date())
    bits = rsa[0].bit_length()
    if bits < need:
        return [(f"{SPKI}.subjectPublicKey", f"RSA modulus is {bits} bits, under {need}")]
    return ()


@lint(
    "e_cert_rsa_modulus_not_multiple_of_8",
    Severity.ERROR,
    "BR 6.1.5",
    "The RSA modulus size in bits must be evenly divisible by 8.",
    CERT,
)
def rsa_mod8(doc: CertificateDocument, ctx: LintContext) -> Out:
    rsa = _rsa(doc)
    if rsa and rsa[0].bit_length() % 8:
        return [(f"{SPKI}.subjectPublicKey", f"RSA modulus is {rsa[0].bit_length()} bits")]
    return ()


@lint(
    "e_cert_rsa_exponent_invalid",
    Severity.ERROR,
    "BR 6.1.6",
    "The RSA public exponent must be an odd number of 3 or more.",
    CERT,
)
def rsa_exponent(doc: CertificateDocument, ctx: LintContext) -> Out:
    rsa = _rsa(doc)
    if rsa and (rsa[1] < 3 or rsa[1] % 2 == 0):
        return [(f"{SPKI}.subjectPublicKey", f"RSA public exponent is {rsa[1]}")]
    return ()


@lint(
    "w_cert_rsa_exponent_out_of_range",
    Severity.WARNING,
    "BR 6.1.6",
    "The RSA public exponent SHOULD be between 2^16+1 and 2^256-1.",
    CERT,
)
def rsa_exponent_range(doc: CertificateDocument, ctx: LintContext) -> Out:
    rsa = _rsa(doc)
    if rsa and rsa[1] >= 3 and rsa[1] % 2 and not (65537 <= rsa[1] <= 2**256 - 1):
        return [(f"{SPKI}.subjectPublicKey", f"RSA public exponent is {rsa[1]}")]
    return ()


@lint(
    "e_cert_rsa_modulus_weak",
    Severity.ERROR,
    "BR 6.1.6",
    "The RSA modulus must be odd, not negative, with no factor smaller than 752.",
    CERT,
)
def rsa_small_factor(doc: CertificateDocument, ctx: LintContext) -> Out:
    rsa = _rsa(doc)
    if not rsa:
        return ()
    n = rsa[0]
    if n <= 0 or n % 2 == 0:
        return [(f"{SPKI}.subjectPublicKey", "RSA modulus is even or not positive")]
    if gcd(n, _SMALL_PRIME_PRODUCT) != 1:
        return [(f"{SPKI}.subjectPublicKey", "RSA modulus has a prime factor smaller than 752")]
    return ()


@lint(
    "e_cert_ec_curve_not_allowed",
    Severity.ERROR,
    "BR 6.1.5; BR 7.1.3.1.2",
    "ECDSA keys must be on NIST P-256, P-384 or P-521, named by OID.",
    CERT,
)
def ec_curve(doc: CertificateDocument, ctx: LintContext) -> Out:
    alg = doc.spki_alg
    if alg is None or alg.oid != ALG_EC:
        return ()
    curve = doc.safe("ec_curve")
    if curve not in _CURVE_POINT_LEN:
        shown = curve or (alg.params.hex() if alg.params else "absent parameters")
        return [(f"{SPKI}.algorithm", f"EC parameters {shown} are not a named allowed curve")]
    return ()


@lint(
    "e_cert_ec_point_invalid",
    Severity.ERROR,
    "BR 6.1.6; RFC 5480 2.2; SEC 1 3.2.2",
    "An EC public key must be an uncompressed point on its curve.",
    CERT,
)
def ec_point(doc: CertificateDocument, ctx: LintContext) -> Out:
    alg = doc.spki_alg
    point = doc.public_key
    curve = doc.safe("ec_curve")
    if alg is None or alg.oid != ALG_EC or point is None or curve not in _CURVE_POINT_LEN:
        return ()
    where = f"{SPKI}.subjectPublicKey"
    if not point or point[0] != 0x04 or len(point) != _CURVE_POINT_LEN[curve]:
        return [
            (where, f"EC point is not an uncompressed point of {_CURVE_POINT_LEN[curve]} octets")
        ]
    p, b = _CURVES[curve]
    size = (len(point) - 1) // 2
    x = int.from_bytes(point[1 : 1 + size], "big")
    y = int.from_bytes(point[1 + size :], "big")
    if not (0 <= x < p and 0 <= y < p) or (y * y - (x * x * x - 3 * x + b)) % p:
        return [(where, "EC point is not on the curve")]
    return ()


# NIST prime curves (a = -3; cofactor 1, so a point on the curve is in the group):
# (field prime, b).
_CURVES = {
    CURVE_P256: (
        2**256 - 2**224 + 2**192 + 2**96 - 1,
        0x5AC635D8AA3A93E7B3EBBD55769886BC651D06B0CC53B0F63BCE3C3E27D2604B,
    ),
    CURVE_P384: (
        2**384 - 2**128 - 2**96 + 2**32 - 1,
        0xB3312FA7E23EE7E4988E056BE3F82D19181D9C6EFE8141120314088F5013875AC656398D8A2ED19D2A85C8EDD3EC2AEF,
    ),
    CURVE_P521: (
        2**521 - 1,
        0x0051953EB9618E1C9A1F929A21A0B68540EEA2DA725B99B315F3B8B489918EF109E156193951EC7E937B1652C0BD3BB1BF073573DF883D2C34F1EF451FD46B503F00,
    ),
}
