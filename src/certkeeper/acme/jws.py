"""JWS as ACME uses it (RFC 8555 6.2, RFC 7515 flattened JSON serialization only).

Pure: bytes in, a checked `Jws` (or an `AcmeProblem`) out; no nonce store, no
accounts. What is refused and why:

- anything but one flattened JSON object with exactly `protected`, `payload` and
  `signature` (no unprotected `header`, no general serialization): `malformed`;
- base64url that is padded or uses another alphabet: `malformed`, because two encodings
  of one value would let a replayed request look new;
- `alg` outside RS256, ES256, ES384, ES512 and EdDSA (in particular `none` and the
  HMAC family, which a public key cannot verify): `badSignatureAlgorithm` with the list;
- both or neither of `jwk` and `kid`: `malformed`;
- RSA keys under 2048 bits, even exponents, unknown curves, private key members in a
  JWK: `badPublicKey`;
- an ECDSA signature that is not the raw r||s of the curve's size (RFC 7518 3.4).

The caller checks `url` and `nonce` against the request and its nonce store, and picks
the key (the embedded `jwk`, or the account named by `kid`).
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
from dataclasses import dataclass
from typing import Any, TypeAlias

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, ed25519, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

from certkeeper.acme.problems import AcmeProblem

ALGORITHMS = ("RS256", "ES256", "ES384", "ES512", "EdDSA")
PublicKey: TypeAlias = rsa.RSAPublicKey | ec.EllipticCurvePublicKey | ed25519.Ed25519PublicKey

_B64URL = re.compile(r"^[A-Za-z0-9_-]*$")
_EC_ALG = {"ES256": ("P-256", 32, hashes.SHA256), "ES384": ("P-384", 48, hashes.SHA384)}
_EC_ALG["ES512"] = ("P-521", 66, hashes.SHA512)
_CURVES: dict[str, tuple[ec.EllipticCurve, int]] = {
    "P-256": (ec.SECP256R1(), 32),
    "P-384": (ec.SECP384R1(), 48),
    "P-521": (ec.SECP521R1(), 66),
}
_PRIVATE_MEMBERS = ("d", "p", "q", "dp", "dq", "qi", "oth", "k")
MIN_RSA_BITS = 2048
MAX_RSA_BITS = 8192


def b64url_decode(text: Any, what: str) -> bytes:
    """Strict unpadded base64url (RFC 7515 2): anything else is `malformed`."""
    if not isinstance(text, str) or not _B64URL.match(text) or len(text) % 4 == 1:
        raise AcmeProblem("malformed", f"{what} is not unpadded base64url")
    try:
        raw = base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except ValueError:
        raise AcmeProblem("malformed", f"{what} is not unpadded base64url") from None
    if b64url(raw) != text:  # non-canonical trailing bits
        raise AcmeProblem("malformed", f"{what} is not canonical base64url")
    return raw


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Jws:
    """A parsed, not yet verified, flattened JWS."""

    protected: dict[str, Any]
    payload: bytes
    signature: bytes
    signing_input: bytes
    alg: str
    url: str
    nonce: str | None
    kid: str | None
    jwk: dict[str, Any] | None

    def payload_json(self) -> dict[str, Any]:
        """The payload as a JSON object; `{}` for POST-as-GET's empty payload."""
        if self.payload == b"":
            return {}
        try:
            value = json.loads(self.payload)
        except (ValueError, UnicodeDecodeError, RecursionError):  # nesting too deep too
            raise AcmeProblem("malformed", "the JWS payload is not JSON") from None
        if not isinstance(value, dict):
            raise AcmeProblem("malformed", "the JWS payload is not a JSON object")
        return value

    @property
    def post_as_get(self) -> bool:
        return self.payload == b""


def parse(body: bytes, *, inner: bool = False) -> Jws:
    """Parse a flattened JWS and check its protected header's shape."""
    what = "inner JWS" if inner else "JWS"
    try:
        doc = json.loads(body)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nesting too deep too
        raise AcmeProblem("malformed", f"the {what} is not JSON") from None
    if not isinstance(doc, dict):
        raise AcmeProblem("malformed", f"the {what} is not a JSON object")
    if "signatures" in doc:
        raise AcmeProblem("malformed", f"the {what} uses the general serialization; use flattened")
    if "header" in doc:
        raise AcmeProblem("malformed", f"the {what} has an unprotected header; none is allowed")
    keys = set(doc)
    if keys != {"protected", "payload", "signature"}:
        missing = sorted({"protected", "payload", "signature"} - keys)
        extra = sorted(keys - {"protected", "payload", "signature"})
        parts = []
        if missing:
            parts.append("missing " + ", ".join(missing))
        if extra:
            parts.append("unexpected " + ", ".join(extra))
        raise AcmeProblem("malformed", f"the {what} is not flattened JSON: {'; '.join(parts)}")
    protected_b64, payload_b64, sig_b64 = doc["protected"], doc["payload"], doc["signature"]
    protected_raw = b64url_decode(protected_b64, f"{what} protected header")
    payload = b64url_decode(payload_b64, f"{what} payload")
    signature = b64url_decode(sig_b64, f"{what} signature")
    try:
        protected = json.loads(protected_raw)
    except (ValueError, UnicodeDecodeError, RecursionError):  # nesting too deep too
        raise AcmeProblem("malformed", f"the {what} protected header is not JSON") from None
    if not isinstance(protected, dict):
        raise AcmeProblem("malformed", f"the {what} protected header is not a JSON object")
    alg = protected.get("alg")
    if alg not in ALGORITHMS:
        raise AcmeProblem(
            "badSignatureAlgorithm",
            f"the {what} alg {alg!r} is not accepted; use one of {', '.join(ALGORITHMS)}",
            extra={"algorithms": list(ALGORITHMS)},
        )
    if "crit" in protected:
        raise AcmeProblem("malformed", f"the {what} has a crit header; no extension is supported")
    for name in ("b64", "zip", "x5c", "x5u", "jku"):
        if name in protected:
            raise AcmeProblem("malformed", f"the {what} header {name!r} is not allowed")
    has_jwk, has_kid = "jwk" in protected, "kid" in protected
    if has_jwk == has_kid:
        raise AcmeProblem(
            "malformed",
            f"the {what} protected header must have exactly one of jwk and kid "
            f"({'both' if has_jwk else 'neither'} given)",
        )
    kid = protected.get("kid")
    if has_kid and (not isinstance(kid, str) or not kid):
        raise AcmeProblem("malformed", f"the {what} kid is not a URL string")
    jwk = protected.get("jwk")
    if has_jwk and not isinstance(jwk, dict):
        raise AcmeProblem("malformed", f"the {what} jwk is not a JSON object")
    url = protected.get("url")
    if not isinstance(url, str) or not url:
        raise AcmeProblem("malformed", f"the {what} protected header has no url")
    nonce = protected.get("nonce")
    if nonce is not None and not isinstance(nonce, str):
        raise AcmeProblem("badNonce", f"the {what} nonce is not a string")
    return Jws(
        protected=protected,
        payload=payload,
        signature=signature,
        signing_input=f"{protected_b64}.{payload_b64}".encode("ascii"),
        alg=alg,
        url=url,
        nonce=nonce,
        kid=kid if has_kid else None,
        jwk=jwk if has_jwk else None,
    )


def key_from_jwk(jwk: dict[str, Any]) -> PublicKey:
    """The public key of a JWK (RFC 7517/7518/8037), refusing keys we would not trust."""
    if any(m in jwk for m in _PRIVATE_MEMBERS):
        raise AcmeProblem("badPublicKey", "the JWK holds private key material")
    kty = jwk.get("kty")
    try:
        if kty == "RSA":
            n = int.from_bytes(b64url_decode(jwk.get("n"), "JWK n"), "big")
            e = int.from_bytes(b64url_decode(jwk.get("e"), "JWK e"), "big")
            if not MIN_RSA_BITS <= n.bit_length() <= MAX_RSA_BITS:
                raise AcmeProblem(
                    "badPublicKey",
                    f"RSA key of {n.bit_length()} bits; {MIN_RSA_BITS} to {MAX_RSA_BITS} accepted",
                )
            if e < 3 or e % 2 == 0 or n % 2 == 0:
                raise AcmeProblem("badPublicKey", "RSA key with an even modulus or exponent")
            return rsa.RSAPublicNumbers(e, n).public_key()
        if kty == "EC":
            crv = jwk.get("crv")
            if crv not in _CURVES:
                raise AcmeProblem("badPublicKey", f"EC curve {crv!r} is not P-256, P-384 or P-521")
            curve, size = _CURVES[str(crv)]
            x = b64url_decode(jwk.get("x"), "JWK x")
            y = b64url_decode(jwk.get("y"), "JWK y")
            if len(x) != size or len(y) != size:
                raise AcmeProblem("badPublicKey", f"EC coordinates are not {size} octets")
            return ec.EllipticCurvePublicKey.from_encoded_point(curve, b"\x04" + x + y)
        if kty == "OKP":
            if jwk.get("crv") != "Ed25519":
                raise AcmeProblem("badPublicKey", f"OKP curve {jwk.get('crv')!r} is not Ed25519")
            x = b64url_decode(jwk.get("x"), "JWK x")
            return ed25519.Ed25519PublicKey.from_public_bytes(x)
    except AcmeProblem:
        raise
    except ValueError as exc:
        raise AcmeProblem("badPublicKey", f"the JWK is not a valid public key: {exc}") from None
    raise AcmeProblem("badPublicKey", f"JWK kty {kty!r} is not RSA, EC or OKP")


def jwk_of(key: PublicKey) -> dict[str, str]:
    """The public JWK with only the required members (what the thumbprint covers)."""
    if isinstance(key, rsa.RSAPublicKey):
        nums = key.public_numbers()
        return {"e": b64url(_uint(nums.e)), "kty": "RSA", "n": b64url(_uint(nums.n))}
    if isinstance(key, ec.EllipticCurvePublicKey):
        name = {"secp256r1": "P-256", "secp384r1": "P-384", "secp521r1": "P-521"}[key.curve.name]
        size = _CURVES[name][1]
        ecn = key.public_numbers()
        return {
            "crv": name,
            "kty": "EC",
            "x": b64url(ecn.x.to_bytes(size, "big")),
            "y": b64url(ecn.y.to_bytes(size, "big")),
        }
    from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

    raw = key.public_bytes(Encoding.Raw, PublicFormat.Raw)
    return {"crv": "Ed25519", "kty": "OKP", "x": b64url(raw)}


def thumbprint(key: PublicKey) -> str:
    """RFC 7638 JWK thumbprint (SHA-256), base64url: required members, sorted, compact."""
    canonical = json.dumps(jwk_of(key), sort_keys=True, separators=(",", ":"))
    return b64url(hashlib.sha256(canonical.encode()).digest())


def canonical_jwk(key: PublicKey) -> str:
    return json.dumps(jwk_of(key), sort_keys=True, separators=(",", ":"))


def verify(jws: Jws, key: PublicKey) -> None:
    """Check the signature with `key`; `alg` must fit the key type and size."""
    sig = jws.signature
    data = jws.signing_input
    try:
        if jws.alg == "RS256":
            if not isinstance(key, rsa.RSAPublicKey):
                raise AcmeProblem("malformed", "alg RS256 needs an RSA key")
            key.verify(sig, data, padding.PKCS1v15(), hashes.SHA256())
        elif jws.alg == "EdDSA":
            if not isinstance(key, ed25519.Ed25519PublicKey):
                raise AcmeProblem("malformed", "alg EdDSA needs an Ed25519 key")
            key.verify(sig, data)
        else:
            crv, size, hash_cls = _EC_ALG[jws.alg]
            if not isinstance(key, ec.EllipticCurvePublicKey) or key.curve.key_size != (
                _CURVES[crv][0].key_size
            ):
                raise AcmeProblem("malformed", f"alg {jws.alg} needs an EC key on {crv}")
            if len(sig) != 2 * size:
                raise AcmeProblem(
                    "malformed",
                    f"an {jws.alg} signature is r||s of {2 * size} octets, not {len(sig)} "
                    "(RFC 7518 3.4; DER signatures are not JWS)",
                )
            r = int.from_bytes(sig[:size], "big")
            s = int.from_bytes(sig[size:], "big")
            key.verify(encode_dss_signature(r, s), data, ec.ECDSA(hash_cls()))
    except InvalidSignature:
        raise AcmeProblem("malformed", "the JWS signature does not verify") from None


def _uint(value: int) -> bytes:
    return value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
