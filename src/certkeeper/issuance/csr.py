"""PKCS#10 requests: parsed, signature-checked and key-checked before anything else.

What a CSR may ask for is narrow: a public key and names. Everything else in the
certificate comes from the profile.
"""

from __future__ import annotations

import base64
import binascii
import ipaddress
from dataclasses import dataclass

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509.oid import NameOID

from certkeeper import br
from certkeeper.errors import InputError
from certkeeper.validation.ip_identifiers import canonical, parse_ip
from certkeeper.x509.der import INTEGER as DER_INTEGER
from certkeeper.x509.der import SEQUENCE as DER_SEQUENCE
from certkeeper.x509.der import encode_integer as der_encode_integer
from certkeeper.x509.der import parse_single as der_parse_single
from certkeeper.x509.der import tlv as der_tlv
from certkeeper.x509.signer import key_type_of

# BR 6.1.5 / 6.1.6: RSA at least 2048 bits with a modulus a multiple of 8; P-256, P-384
# (P-521 is allowed by the BRs but not by the root programs we serve).
ALLOWED_CURVES = ("secp256r1", "secp384r1")


@dataclass(frozen=True)
class ParsedCsr:
    csr: x509.CertificateSigningRequest
    key_type: str
    names: tuple[str, ...]  # SAN dNSNames and iPAddresses, then the CN if not among them

    @property
    def public_key(self) -> rsa.RSAPublicKey | ec.EllipticCurvePublicKey:
        key = self.csr.public_key()
        assert isinstance(key, rsa.RSAPublicKey | ec.EllipticCurvePublicKey)
        return key


def load_csr(data: bytes, source: str = "CSR") -> ParsedCsr:
    """Parse a PEM, DER or base64 CSR, verify its self-signature and its key.

    Every way a CSR can fail to parse is an InputError naming it (ACME: badCSR)."""
    try:
        return _load(data, source)
    except InputError:
        raise
    except Exception as exc:  # a parser corner we have not met: still the input's fault
        raise InputError(f"{source}: malformed CSR: {_short(exc)}") from None


def _load(data: bytes, source: str) -> ParsedCsr:
    csr, tbs = _decode(data, source)
    try:
        valid = _signature_valid(csr, tbs)
    except Exception as exc:  # unsupported signature algorithms raise here
        raise InputError(f"{source}: cannot check the CSR signature: {exc}") from None
    if not valid:
        raise InputError(
            f"{source}: the CSR signature does not verify (proof of possession failed)"
        )
    try:
        key = csr.public_key()
    except Exception as exc:
        raise InputError(f"{source}: unsupported or malformed public key: {exc}") from None
    check_subscriber_key(key, source)
    return ParsedCsr(csr, key_type_of(key), _names(csr, source))


def check_subscriber_key(key: object, source: str) -> None:
    if isinstance(key, rsa.RSAPublicKey):
        numbers = key.public_numbers()
        if key.key_size < br.RSA_MIN_MODULUS_BITS:
            raise InputError(
                f"{source}: RSA key of {key.key_size} bits; at least "
                f"{br.RSA_MIN_MODULUS_BITS} required (BR 6.1.5)"
            )
        if key.key_size % br.RSA_MODULUS_MULTIPLE_BITS:
            raise InputError(
                f"{source}: RSA modulus of {key.key_size} bits is not a multiple of 8 (BR 6.1.5)"
            )
        if numbers.e % 2 == 0 or numbers.e < br.RSA_MIN_EXPONENT:
            raise InputError(
                f"{source}: RSA public exponent {numbers.e} is not an odd number >= 3 (BR 6.1.6)"
            )
    elif isinstance(key, ec.EllipticCurvePublicKey):
        if key.curve.name not in ALLOWED_CURVES:
            raise InputError(
                f"{source}: elliptic curve {key.curve.name} is not allowed; use P-256 or P-384"
            )
    else:
        raise InputError(f"{source}: {type(key).__name__} keys are not allowed; use RSA or ECDSA")


def _decode(data: bytes, source: str) -> tuple[x509.CertificateSigningRequest, bytes | None]:
    """The CSR, and the signed CertificationRequestInfo octets when they are not those of
    the returned object (a CSR whose version is not 0, see `_with_version_zero`)."""
    try:
        return _parse(data, source), None
    except x509.InvalidVersion:
        return _with_version_zero(_der_of(data, source), source)


def _der_of(data: bytes, source: str) -> bytes:
    stripped = data if data[:1] == b"\x30" else data.strip()
    if stripped[:1] == b"\x30":
        return stripped
    text = stripped
    if stripped.startswith(b"-----BEGIN"):
        lines = stripped.splitlines()
        text = b"".join(ln for ln in lines if not ln.startswith(b"-----"))
    try:
        return base64.b64decode(b"".join(text.split()), validate=True)
    except binascii.Error:
        raise InputError(f"{source}: not a CSR (neither PEM, DER nor base64)") from None


def _with_version_zero(
    der: bytes, source: str
) -> tuple[x509.CertificateSigningRequest, bytes | None]:
    """RFC 2986 4.1 fixes version at 0; some clients send 1, which other CAs (Pebble,
    Boulder) accept. Parse a copy with version 0 for its contents and keep the original
    CertificationRequestInfo, over which the signature must verify."""
    try:
        outer = der_parse_single(der)
        info, *rest = outer.children()
        version, *fields = info.children()
        if version.tag != DER_INTEGER:
            raise InputError(f"{source}: malformed CSR: the version is not an INTEGER")
        zero = der_tlv(DER_SEQUENCE, der_encode_integer(0) + b"".join(f.raw for f in fields))
        patched = der_tlv(DER_SEQUENCE, zero + b"".join(r.raw for r in rest))
        return x509.load_der_x509_csr(patched), info.raw
    except InputError:
        raise
    except (ValueError, x509.InvalidVersion) as exc:
        raise InputError(f"{source}: malformed CSR: {_short(exc)}") from None


def _signature_valid(csr: x509.CertificateSigningRequest, tbs: bytes | None) -> bool:
    if tbs is None:
        return csr.is_signature_valid
    key = csr.public_key()
    hash_algorithm = csr.signature_hash_algorithm
    try:
        if isinstance(key, rsa.RSAPublicKey):
            params = csr.signature_algorithm_parameters
            pad = params if isinstance(params, padding.PSS) else padding.PKCS1v15()
            assert hash_algorithm is not None
            key.verify(csr.signature, tbs, pad, hash_algorithm)
        elif isinstance(key, ec.EllipticCurvePublicKey):
            assert hash_algorithm is not None
            key.verify(csr.signature, tbs, ec.ECDSA(hash_algorithm))
        else:
            return False
    except InvalidSignature:
        return False
    return True


def _parse(data: bytes, source: str) -> x509.CertificateSigningRequest:
    if not data.strip():
        raise InputError(f"{source}: empty input, expected a PKCS#10 CSR")
    # DER is binary: its last octets may be whitespace values, so only text is stripped.
    stripped = data if data[:1] == b"\x30" else data.strip()
    try:
        if stripped.startswith(b"-----BEGIN"):
            if stripped.count(b"-----BEGIN") > 1:
                raise InputError(
                    f"{source}: {stripped.count(b'-----BEGIN')} PEM blocks; give one CSR per file"
                )
            if b"CERTIFICATE REQUEST-----" not in stripped:
                label = stripped.split(b"\n", 1)[0].decode(errors="replace")
                raise InputError(f"{source}: PEM block {label!r} is not a CERTIFICATE REQUEST")
            return x509.load_pem_x509_csr(stripped)
        if stripped[:1] == b"\x30":
            return x509.load_der_x509_csr(stripped)
        try:
            raw = base64.b64decode(b"".join(stripped.split()), validate=True)
        except binascii.Error:
            raise InputError(f"{source}: not a CSR (neither PEM, DER nor base64)") from None
        return x509.load_der_x509_csr(raw)
    except InputError:
        raise
    except ValueError as exc:
        raise InputError(f"{source}: malformed CSR: {_short(exc)}") from None


def _names(csr: x509.CertificateSigningRequest, source: str) -> tuple[str, ...]:
    names: list[str] = []
    try:
        ext = csr.extensions.get_extension_for_class(x509.SubjectAlternativeName)
        for general_name in ext.value:
            if isinstance(general_name, x509.DNSName):
                if parse_ip(general_name.value) is not None:
                    raise InputError(
                        f"{source}: dNSName {general_name.value!r} is an IP address; "
                        "request it as an iPAddress entry"
                    )
                names.append(general_name.value)
            elif isinstance(general_name, x509.IPAddress) and not isinstance(
                general_name.value, ipaddress.IPv4Network | ipaddress.IPv6Network
            ):
                names.append(str(general_name.value))  # allowed or not: the profile says
            else:
                raise InputError(
                    f"{source}: subjectAltName entry {general_name} is not a dNSName or an "
                    "iPAddress; only DNS names and IP addresses can be requested"
                )
    except x509.ExtensionNotFound:
        pass
    except (ValueError, x509.DuplicateExtension) as exc:
        raise InputError(f"{source}: malformed CSR extensions: {_short(exc)}") from None
    try:
        cns = csr.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    except ValueError as exc:
        raise InputError(f"{source}: malformed subject: {_short(exc)}") from None
    for attr in cns:
        names.append(str(attr.value))
    out: list[str] = []
    for name in names:
        norm = normalize_name(name)
        if norm not in out:
            out.append(norm)
    return tuple(out)


def normalize_name(name: str) -> str:
    """Lowercase, without a trailing dot: the form names are stored and compared in; an
    IP address in its canonical text (RFC 8738 3)."""
    ip = parse_ip(name)
    if ip is not None:
        return canonical(ip)
    return name.strip().rstrip(".").lower()


def _short(exc: Exception) -> str:
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__


def csr_to_pem(csr: x509.CertificateSigningRequest) -> bytes:
    return csr.public_bytes(serialization.Encoding.PEM)
