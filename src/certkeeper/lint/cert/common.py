"""Tables and helpers shared by the certificate, CRL and OCSP lints."""

from __future__ import annotations

from collections.abc import Iterable
from datetime import date, datetime, timedelta

from certkeeper import br
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.values import AlgId, TimeField
from certkeeper.lint.engine import DocType, Document
from certkeeper.x509.der import GENERALIZED_TIME, UTC_TIME
from certkeeper.x509.oids import (
    ALG_ED448,
    ALG_ED25519,
    ALG_RSA_PSS,
    ARC_ECDSA,
    ARC_PKCS1,
    SIG_ECDSA_SHA1,
    SIG_ECDSA_SHA256,
    SIG_ECDSA_SHA384,
    SIG_ECDSA_SHA512,
    SIG_RSA_MD5,
    SIG_RSA_SHA1,
    SIG_RSA_SHA256,
    SIG_RSA_SHA384,
    SIG_RSA_SHA512,
)

# What certificate lint modules declare and return.
CERT = (DocType.CERTIFICATE,)
Out = Iterable[tuple[str, str]]
EXT = "tbsCertificate.extensions"
SUBJ = "tbsCertificate.subject"
BR2 = br.BR_2_0_PROFILES  # BR 2.0.0 (ballot SC-62) certificate profiles take effect

# BR 7.1.3.1: the only SubjectPublicKeyInfo algorithm encodings allowed.
SPKI_ALLOWED = {
    bytes.fromhex("300d06092a864886f70d0101010500"): "rsaEncryption",
    bytes.fromhex("301306072a8648ce3d020106082a8648ce3d030107"): "ECDSA P-256",
    bytes.fromhex("301006072a8648ce3d020106052b81040022"): "ECDSA P-384",
    bytes.fromhex("301006072a8648ce3d020106052b81040023"): "ECDSA P-521",
}

_PSS = (
    "304106092a864886f70d01010a3034a00f300d0609608648016503040{h}0500a11c301a06092a864886f7"
    "0d010108300d0609608648016503040{h}0500a2030201{s}"
)

# BR 7.1.3.2: the only signature AlgorithmIdentifier encodings allowed, by name.
SIG_ALLOWED = {
    bytes.fromhex("300d06092a864886f70d01010b0500"): "sha256WithRSAEncryption",
    bytes.fromhex("300d06092a864886f70d01010c0500"): "sha384WithRSAEncryption",
    bytes.fromhex("300d06092a864886f70d01010d0500"): "sha512WithRSAEncryption",
    bytes.fromhex(_PSS.format(h="2", s="20")): "RSASSA-PSS SHA-256",
    bytes.fromhex(_PSS.format(h="3", s="30")): "RSASSA-PSS SHA-384",
    bytes.fromhex(_PSS.format(h="4", s="40")): "RSASSA-PSS SHA-512",
    bytes.fromhex("300a06082a8648ce3d040302"): "ecdsa-with-SHA256",
    bytes.fromhex("300a06082a8648ce3d040303"): "ecdsa-with-SHA384",
    bytes.fromhex("300a06082a8648ce3d040304"): "ecdsa-with-SHA512",
}

SIG_NAMES = {
    SIG_RSA_SHA1: "sha1WithRSAEncryption",
    SIG_RSA_SHA256: "sha256WithRSAEncryption",
    SIG_RSA_SHA384: "sha384WithRSAEncryption",
    SIG_RSA_SHA512: "sha512WithRSAEncryption",
    ALG_RSA_PSS: "RSASSA-PSS",
    SIG_RSA_MD5: "md5WithRSAEncryption",
    SIG_ECDSA_SHA1: "ecdsa-with-SHA1",
    SIG_ECDSA_SHA256: "ecdsa-with-SHA256",
    SIG_ECDSA_SHA384: "ecdsa-with-SHA384",
    SIG_ECDSA_SHA512: "ecdsa-with-SHA512",
    ALG_ED25519: "Ed25519",
    ALG_ED448: "Ed448",
}


def describe_alg(alg: AlgId) -> str:
    name = SIG_NAMES.get(alg.oid, alg.oid)
    return f"{name} ({alg.raw.hex()})"


def sig_alg_problem(alg: AlgId | None) -> str | None:
    if alg is None:
        return None
    if alg.raw in SIG_ALLOWED:
        return None
    return f"signature algorithm {describe_alg(alg)} is not one BR 7.1.3.2 allows, byte for byte"


# Time-encoding problem kinds.
FRACTION = "fraction"
NOT_ZULU = "not_zulu"
NO_SECONDS = "no_seconds"
WRONG_TYPE = "wrong_type"
INVALID = "invalid"


def time_problems(tf: TimeField, generalized_only: bool = False) -> list[tuple[str, str]]:
    """RFC 5280 4.1.2.5 (and RFC 6960/5019 for OCSP, where only GeneralizedTime exists)."""
    where = tf.location
    if tf.error is not None:
        return [(INVALID, f"{where}: {tf.error}")]
    out: list[tuple[str, str]] = []
    text = tf.text
    for problem in tf.problems:
        if "fractional" in problem:
            out.append((FRACTION, f"{where} {text!r} has fractional seconds"))
        elif problem.endswith("does not end in Z"):
            out.append((NOT_ZULU, f"{where} {text!r} is not expressed in UTC with a trailing Z"))
        elif problem.endswith("no seconds") or problem.endswith("no minutes or seconds"):
            out.append((NO_SECONDS, f"{where} {text!r} does not include seconds"))
        else:
            out.append((INVALID, f"{where}: {problem}"))
    value = tf.value
    if generalized_only:
        if tf.tag != GENERALIZED_TIME:
            out.append((WRONG_TYPE, f"{where} {text!r} must be a GeneralizedTime"))
    elif value is not None:
        if tf.tag == UTC_TIME and value.year >= 2050:
            out.append((WRONG_TYPE, f"{where} {text!r}: years from 2050 need GeneralizedTime"))
        elif tf.tag == GENERALIZED_TIME and value.year < 2050:
            out.append((WRONG_TYPE, f"{where} {text!r}: years before 2050 must be UTCTime"))
    if tf.tag == GENERALIZED_TIME and not out and len(tf.content) != 15:
        out.append((INVALID, f"{where} {text!r} is not YYYYMMDDHHMMSSZ"))
    if tf.tag == UTC_TIME and not out and len(tf.content) != 13:
        out.append((INVALID, f"{where} {text!r} is not YYMMDDHHMMSSZ"))
    return out


def span_seconds(start: datetime, end: datetime) -> float:
    """Validity measured inclusively, as BR 1.6.1 and RFC 5280 4.1.2.5 define it."""
    return (end - start).total_seconds() + 1


def fmt_span(seconds: float) -> str:
    days = seconds / 86400
    return f"{seconds:.0f} s ({days:.2f} days)"


ONE_DAY = timedelta(days=1)


_HASHES = {
    SIG_RSA_SHA1: "SHA1",
    SIG_RSA_SHA256: "SHA256",
    SIG_RSA_SHA384: "SHA384",
    SIG_RSA_SHA512: "SHA512",
    SIG_ECDSA_SHA1: "SHA1",
    SIG_ECDSA_SHA256: "SHA256",
    SIG_ECDSA_SHA384: "SHA384",
    SIG_ECDSA_SHA512: "SHA512",
}
_PSS_HASH = {"2": "SHA256", "3": "SHA384", "4": "SHA512"}


def verify_signature(public_key: object, alg: AlgId, tbs: bytes, signature: bytes) -> str | None:
    """None when `signature` over `tbs` verifies with `public_key` under `alg`; else why not."""
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import ec, ed448, ed25519, padding, rsa

    try:
        if isinstance(public_key, rsa.RSAPublicKey):
            if alg.oid == ALG_RSA_PSS:
                name = None
                for raw, label in SIG_ALLOWED.items():
                    if raw == alg.raw:
                        name = label
                if name is None:
                    return "RSASSA-PSS parameters are not a form this linter can verify"
                h = getattr(hashes, "SHA" + name.rsplit("SHA-", 1)[-1])()
                public_key.verify(
                    signature,
                    tbs,
                    padding.PSS(mgf=padding.MGF1(h), salt_length=h.digest_size),
                    h,
                )
                return None
            hname = _HASHES.get(alg.oid)
            if hname is None or not alg.oid.startswith(ARC_PKCS1):
                return f"algorithm {alg.oid} does not fit an RSA issuer key"
            public_key.verify(signature, tbs, padding.PKCS1v15(), getattr(hashes, hname)())
            return None
        if isinstance(public_key, ec.EllipticCurvePublicKey):
            hname = _HASHES.get(alg.oid)
            if hname is None or not alg.oid.startswith(ARC_ECDSA):
                return f"algorithm {alg.oid} does not fit an ECDSA issuer key"
            public_key.verify(signature, tbs, ec.ECDSA(getattr(hashes, hname)()))
            return None
        if isinstance(public_key, ed25519.Ed25519PublicKey | ed448.Ed448PublicKey):
            public_key.verify(signature, tbs)
            return None
    except InvalidSignature:
        return "the signature does not verify with the issuer's public key"
    return f"issuer key type {type(public_key).__name__} is not supported"


# BR 7.1.3.2.2: the hash an ECDSA issuer key must sign with, by curve.
EC_CURVE_HASH = {
    "secp256r1": SIG_ECDSA_SHA256,
    "secp384r1": SIG_ECDSA_SHA384,
    "secp521r1": SIG_ECDSA_SHA512,
}


def since(doc: Document, ctx: LintContext, day: date) -> bool:
    """Whether the version of a rule in force from `day` applies to this document (its
    own time), in a lint declared `revised=day`; a document without a time, or a legacy
    pass (LintContext.todays_rules), gets today's version."""
    ref = doc.reference_time
    return ctx.todays_rules or ref is None or ref.date() >= day
