"""OCSP messages (RFC 6960, profiled by RFC 5019): responses out, requests in.

Responses are built from DER templates: everything that depends only on the issuing CA
and the responder (the CertID prefix, responderID, signature algorithm, the responder
certificate) is encoded once per issuer, so signing a response costs one signature plus
a few byte concatenations. Every time is GeneralizedTime in whole seconds (seed 001).

The request parser is deliberately tolerant of what real clients send (BER lengths, an
explicit v1 version, NULL or absent hash parameters, nonces, signatures) and strict
about what the responder must not guess at (trailing bytes, size, several requests).

Pure: bytes and values in, bytes and values out; the signing key stays behind the
`Signer` handed in.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from enum import IntEnum
from functools import lru_cache
from typing import Protocol
from urllib.parse import unquote

from certkeeper.x509 import der
from certkeeper.x509.oids import HASH_SHA1, HASH_SHA256, OID_OCSP_BASIC, OID_OCSP_NONCE
from certkeeper.x509.time import encode_generalized_time

# CertID hash algorithms: name -> (OID, hash function). RFC 5019 2.1.1: SHA-1.
HASH_ALGORITHMS: dict[str, tuple[str, Callable[[bytes], bytes]]] = {
    "sha1": (HASH_SHA1, lambda b: hashlib.sha1(b).digest()),
    "sha256": (HASH_SHA256, lambda b: hashlib.sha256(b).digest()),
}
_HASH_BY_OID = {oid: name for name, (oid, _) in HASH_ALGORITHMS.items()}

# RFC 5019 5: a request with one CertID is under 200 octets; anything far larger is not
# a request this responder answers. A URL holds base64 (4/3) plus the prefix.
MAX_REQUEST_BYTES = 2048
MAX_GET_PATH_CHARS = 4096

# RFC 5280 5.3.1 CRLReason values; 7 is not used.
CRL_REASONS = frozenset({0, 1, 2, 3, 4, 5, 6, 8, 9, 10})


class ResponseStatus(IntEnum):
    """OCSPResponseStatus (RFC 6960 4.2.1); 4 is not used."""

    SUCCESSFUL = 0
    MALFORMED_REQUEST = 1
    INTERNAL_ERROR = 2
    TRY_LATER = 3
    SIG_REQUIRED = 5
    UNAUTHORIZED = 6


def unsuccessful_response(status: ResponseStatus) -> bytes:
    """An OCSPResponse with no responseBytes: these are never signed (RFC 6960 2.3)."""
    if status is ResponseStatus.SUCCESSFUL:
        raise ValueError("a successful response carries a signed BasicOCSPResponse")
    return der.sequence(der.tlv(der.ENUMERATED, bytes([status])))


# The fixed error responses, encoded once.
MALFORMED_REQUEST = unsuccessful_response(ResponseStatus.MALFORMED_REQUEST)
INTERNAL_ERROR = unsuccessful_response(ResponseStatus.INTERNAL_ERROR)
TRY_LATER = unsuccessful_response(ResponseStatus.TRY_LATER)
SIG_REQUIRED = unsuccessful_response(ResponseStatus.SIG_REQUIRED)
UNAUTHORIZED = unsuccessful_response(ResponseStatus.UNAUTHORIZED)


class SignerLike(Protocol):
    """The part of `certkeeper.x509.signer.Signer` a response needs."""

    def sign(self, data: bytes) -> bytes: ...


@dataclass(frozen=True, slots=True)
class CertId:
    """RFC 6960 4.1.1 CertID. `hash_algorithm` is "sha1", "sha256" or the dotted OID of
    an algorithm certkeeper does not use."""

    hash_algorithm: str
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial_number: int


@dataclass(frozen=True, slots=True)
class Revocation:
    """A revoked status. `reason` None (or 0, unspecified) is omitted from the response,
    as BR 7.2.2 / 7.3 require for unspecified."""

    time: datetime
    reason: int | None = None

    def __post_init__(self) -> None:
        if self.reason is not None and self.reason not in CRL_REASONS:
            raise ValueError(f"{self.reason} is not an RFC 5280 CRLReason value")


# -- certificates: the parts a CertID and a ResponderID hash --------------------------


def _tbs_children(cert_der: bytes) -> list[der.Tlv]:
    tbs, _, _ = der.split_signed(cert_der)
    kids = tbs.children()
    return kids[1:] if kids and kids[0].tag == 0xA0 else kids


def subject_der(cert_der: bytes) -> bytes:
    """The DER of a certificate's subject Name, exactly as the certificate encodes it."""
    return _tbs_children(cert_der)[4].raw


def public_key_bits(cert_der: bytes) -> bytes:
    """The subjectPublicKey BIT STRING's value (no tag, length or unused-bits octet):
    what RFC 6960 hashes for issuerKeyHash and ResponderID byKey."""
    spki = _tbs_children(cert_der)[5]
    bits = spki.child(1)
    if bits.tag != der.BIT_STRING or not bits.content:
        raise der.DerError("subjectPublicKeyInfo has no BIT STRING")
    return bits.content[1:]


def issuer_hashes(issuer_cert_der: bytes, algorithm: str = "sha1") -> tuple[bytes, bytes]:
    """(issuerNameHash, issuerKeyHash) of the CA certificate for a CertID."""
    _, digest = HASH_ALGORITHMS[algorithm]
    return digest(subject_der(issuer_cert_der)), digest(public_key_bits(issuer_cert_der))


def cert_id_for(issuer_cert_der: bytes, serial: int, algorithm: str = "sha1") -> CertId:
    name_hash, key_hash = issuer_hashes(issuer_cert_der, algorithm)
    return CertId(algorithm, name_hash, key_hash, serial)


# -- responses ----------------------------------------------------------------------


@lru_cache(maxsize=256)
def _gtime(moment: datetime) -> bytes:
    # A refresh batch signs thousands of responses with the same three times.
    return encode_generalized_time(moment)


_GOOD = b"\x80\x00"  # certStatus good: [0] IMPLICIT NULL
_OCSP_BASIC_OID = der.encode_oid(OID_OCSP_BASIC)
_SUCCESSFUL = der.tlv(der.ENUMERATED, b"\x00")


@dataclass(frozen=True, slots=True)
class ResponseTemplate:
    """The encoded parts of a response that depend only on the issuing CA, the
    delegated responder and the CertID hash algorithm. Build one per issuer and reuse."""

    hash_algorithm: str
    cert_id_prefix: bytes  # hashAlgorithm, issuerNameHash, issuerKeyHash, encoded
    responder_id: bytes  # [2] EXPLICIT KeyHash
    signature_algorithm: bytes  # AlgorithmIdentifier DER
    certs: bytes  # [0] EXPLICIT SEQUENCE OF Certificate, or empty

    @classmethod
    def create(
        cls,
        issuer_cert_der: bytes,
        responder_cert_der: bytes,
        signature_algorithm: bytes,
        *,
        hash_algorithm: str = "sha1",
        include_responder_certificate: bool = True,
    ) -> ResponseTemplate:
        """`signature_algorithm` is the responder signer's `spec.algorithm_identifier()`.

        The responder certificate goes into `certs` so that clients can check the
        delegation (RFC 6960 4.2.2.2) without fetching anything."""
        oid, _ = HASH_ALGORITHMS[hash_algorithm]
        name_hash, key_hash = issuer_hashes(issuer_cert_der, hash_algorithm)
        prefix = (
            der.sequence(der.encode_oid(oid), der.tlv(der.NULL, b""))
            + der.tlv(der.OCTET_STRING, name_hash)
            + der.tlv(der.OCTET_STRING, key_hash)
        )
        responder_key_hash = hashlib.sha1(public_key_bits(responder_cert_der)).digest()
        certs = (
            der.tlv(0xA0, der.sequence(responder_cert_der))
            if include_responder_certificate
            else b""
        )
        return cls(
            hash_algorithm=hash_algorithm,
            cert_id_prefix=prefix,
            responder_id=der.tlv(0xA2, der.tlv(der.OCTET_STRING, responder_key_hash)),
            signature_algorithm=signature_algorithm,
            certs=certs,
        )

    def cert_id(self, serial: int) -> bytes:
        return der.sequence(self.cert_id_prefix, der.encode_integer(serial))

    def response_data(
        self,
        serial: int,
        *,
        this_update: datetime,
        next_update: datetime,
        produced_at: datetime,
        revocation: Revocation | None = None,
    ) -> bytes:
        """The DER of ResponseData (the bytes that are signed) for one SingleResponse."""
        if next_update <= this_update:
            raise ValueError("nextUpdate must be after thisUpdate")
        if revocation is None:
            status = _GOOD
        else:
            info = _gtime(revocation.time)
            if revocation.reason:  # None and 0 (unspecified) are omitted
                info += der.tlv(0xA0, der.tlv(der.ENUMERATED, bytes([revocation.reason])))
            status = der.tlv(0xA1, info)
        single = der.sequence(
            self.cert_id(serial),
            status,
            _gtime(this_update),
            der.tlv(0xA0, _gtime(next_update)),
        )
        return der.sequence(self.responder_id, _gtime(produced_at), der.sequence(single))

    def assemble(self, response_data: bytes, signature: bytes) -> bytes:
        """The complete OCSPResponse (successful, id-pkix-ocsp-basic) around signed data."""
        basic = der.sequence(
            response_data,
            self.signature_algorithm,
            der.encode_bit_string(signature),
            self.certs,
        )
        return der.sequence(
            _SUCCESSFUL,
            der.tlv(0xA0, der.sequence(_OCSP_BASIC_OID, der.tlv(der.OCTET_STRING, basic))),
        )

    def sign_many(
        self,
        signer: SignerLike,
        serials: Sequence[int],
        *,
        this_update: datetime,
        next_update: datetime,
        produced_at: datetime,
        revocation: Revocation | None = None,
    ) -> list[bytes]:
        """`sign` for many serials sharing times and status: everything but the serial
        and the signature is encoded once. Byte-identical to calling `sign` per serial
        (a test holds it to that); about twice as fast in mass revocation."""
        if next_update <= this_update:
            raise ValueError("nextUpdate must be after thisUpdate")
        if revocation is None:
            status = _GOOD
        else:
            info = _gtime(revocation.time)
            if revocation.reason:
                info += der.tlv(0xA0, der.tlv(der.ENUMERATED, bytes([revocation.reason])))
            status = der.tlv(0xA1, info)
        after_cert_id = status + _gtime(this_update) + der.tlv(0xA0, _gtime(next_update))
        head = self.responder_id + _gtime(produced_at)
        tail = self.signature_algorithm
        certs = self.certs
        out = []
        for serial in serials:
            single = der.sequence(self.cert_id(serial), after_cert_id)
            data = der.sequence(head, der.sequence(single))
            basic = der.sequence(data, tail, der.encode_bit_string(signer.sign(data)), certs)
            out.append(
                der.sequence(
                    _SUCCESSFUL,
                    der.tlv(0xA0, der.sequence(_OCSP_BASIC_OID, der.tlv(der.OCTET_STRING, basic))),
                )
            )
        return out

    def sign(
        self,
        signer: SignerLike,
        serial: int,
        *,
        this_update: datetime,
        next_update: datetime,
        produced_at: datetime | None = None,
        revocation: Revocation | None = None,
    ) -> bytes:
        """Encode, sign with the responder key and wrap one response."""
        data = self.response_data(
            serial,
            this_update=this_update,
            next_update=next_update,
            produced_at=this_update if produced_at is None else produced_at,
            revocation=revocation,
        )
        return self.assemble(data, signer.sign(data))


# -- requests -----------------------------------------------------------------------


class OcspRequestError(ValueError):
    """A request this responder will not answer; `status` is what to answer instead."""

    def __init__(
        self, message: str, status: ResponseStatus = ResponseStatus.MALFORMED_REQUEST
    ) -> None:
        super().__init__(message)
        self.status = status


@dataclass(frozen=True, slots=True)
class OcspRequest:
    cert_ids: tuple[CertId, ...]
    nonce: bytes | None  # RFC 5019 4: responders ignore it; kept for diagnostics
    signed: bool


def _header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content start, content end) of the element at `pos`; BER definite lengths
    are accepted (some clients do not minimise them), indefinite ones are not."""
    if pos + 2 > end:
        raise OcspRequestError(f"truncated element at offset {pos}")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise OcspRequestError(f"high tag number at offset {pos}")
    first = data[pos + 1]
    pos += 2
    if first < 0x80:
        length = first
    elif first == 0x80:
        raise OcspRequestError(f"indefinite length at offset {pos - 2}")
    else:
        count = first & 0x7F
        if count > 3 or pos + count > end:
            raise OcspRequestError(f"bad length at offset {pos - 2}")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise OcspRequestError(f"element at offset {pos} overruns its container")
    return tag, pos, pos + length


def _children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    out = []
    pos = start
    while pos < end:
        item = _header(data, pos, end)
        out.append(item)
        pos = item[2]
    return out


def _parse_cert_id(data: bytes, start: int, end: int) -> CertId:
    parts = _children(data, start, end)
    if len(parts) != 4:
        raise OcspRequestError("CertID does not have four fields")
    (alg_tag, a0, a1), (n_tag, n0, n1), (k_tag, k0, k1), (s_tag, s0, s1) = parts
    if alg_tag != der.SEQUENCE or n_tag != der.OCTET_STRING or k_tag != der.OCTET_STRING:
        raise OcspRequestError("CertID fields have the wrong types")
    if s_tag != der.INTEGER or s1 == s0:
        raise OcspRequestError("CertID serialNumber is not an INTEGER")
    alg = _children(data, a0, a1)
    if not alg or alg[0][0] != der.OID:
        raise OcspRequestError("CertID hashAlgorithm has no OID")
    if len(alg) > 2 or (len(alg) == 2 and alg[1][0] != der.NULL):
        raise OcspRequestError("CertID hashAlgorithm has unexpected parameters")
    try:
        oid = der.decode_oid(data[alg[0][1] : alg[0][2]])
    except der.DerError as exc:
        raise OcspRequestError(f"CertID hashAlgorithm: {exc}") from None
    return CertId(
        hash_algorithm=_HASH_BY_OID.get(oid, oid),
        issuer_name_hash=data[n0:n1],
        issuer_key_hash=data[k0:k1],
        serial_number=int.from_bytes(data[s0:s1], "big", signed=True),
    )


def _find_nonce(data: bytes, start: int, end: int) -> bytes | None:
    (tag, s, e), *_ = _children(data, start, end) or [(0, 0, 0)]
    if tag != der.SEQUENCE:
        raise OcspRequestError("requestExtensions is not a SEQUENCE")
    for ext_tag, x0, x1 in _children(data, s, e):
        if ext_tag != der.SEQUENCE:
            raise OcspRequestError("an extension is not a SEQUENCE")
        fields = _children(data, x0, x1)
        if not fields or fields[0][0] != der.OID or fields[-1][0] != der.OCTET_STRING:
            raise OcspRequestError("an extension has no extnID or extnValue")
        if data[fields[0][1] : fields[0][2]] == _NONCE_OID_CONTENT:
            return data[fields[-1][1] : fields[-1][2]]
    return None


_NONCE_OID_CONTENT = der.encode_oid(OID_OCSP_NONCE)[2:]


def parse_request(data: bytes, *, max_size: int = MAX_REQUEST_BYTES) -> OcspRequest:
    """Parse an OCSPRequest (RFC 6960 4.1.1) and return its CertIDs.

    Raises OcspRequestError (malformedRequest) for anything that is not exactly one
    OCSPRequest of at most `max_size` octets with at least one CertID."""
    if len(data) > max_size:
        raise OcspRequestError(f"request of {len(data)} octets exceeds {max_size}")
    if not data:
        raise OcspRequestError("empty request")
    tag, s, e = _header(data, 0, len(data))
    if tag != der.SEQUENCE:
        raise OcspRequestError("OCSPRequest is not a SEQUENCE")
    if e != len(data):
        raise OcspRequestError(f"{len(data) - e} octets after the OCSPRequest")
    top = _children(data, s, e)
    if not top or top[0][0] != der.SEQUENCE:
        raise OcspRequestError("OCSPRequest has no TBSRequest")
    signed = False
    for extra_tag, _, _ in top[1:]:
        if extra_tag != 0xA0 or signed:
            raise OcspRequestError("OCSPRequest has unexpected fields after TBSRequest")
        signed = True  # RFC 5019 4: responders may ignore request signatures
    fields = _children(data, top[0][1], top[0][2])
    idx = 0
    if idx < len(fields) and fields[idx][0] == 0xA0:  # version [0] EXPLICIT, v1 only
        ver = _children(data, fields[idx][1], fields[idx][2])
        if len(ver) != 1 or ver[0][0] != der.INTEGER or data[ver[0][1] : ver[0][2]] != b"\x00":
            raise OcspRequestError("unsupported OCSPRequest version")
        idx += 1
    if idx < len(fields) and fields[idx][0] == 0xA1:  # requestorName: not used
        idx += 1
    if idx >= len(fields) or fields[idx][0] != der.SEQUENCE:
        raise OcspRequestError("TBSRequest has no requestList")
    _, l0, l1 = fields[idx]
    idx += 1
    nonce = None
    if idx < len(fields) and fields[idx][0] == 0xA2:
        nonce = _find_nonce(data, fields[idx][1], fields[idx][2])
        idx += 1
    if idx != len(fields):
        raise OcspRequestError("TBSRequest has unexpected fields")
    cert_ids = []
    for req_tag, r0, r1 in _children(data, l0, l1):
        if req_tag != der.SEQUENCE:
            raise OcspRequestError("a Request is not a SEQUENCE")
        req = _children(data, r0, r1)
        if not req or req[0][0] != der.SEQUENCE or len(req) > 2:
            raise OcspRequestError("a Request has no CertID")
        if len(req) == 2 and req[1][0] != 0xA0:
            raise OcspRequestError("a Request has unexpected fields")
        cert_ids.append(_parse_cert_id(data, req[0][1], req[0][2]))
    if not cert_ids:
        raise OcspRequestError("requestList is empty")
    return OcspRequest(tuple(cert_ids), nonce, signed)


def decode_get_path(encoded: str, *, max_chars: int = MAX_GET_PATH_CHARS) -> bytes:
    """The DER request from a GET path component (RFC 6960 A.1, RFC 5019 5).

    Accepts URL-encoded or raw standard base64 (whose "/" look like path separators),
    base64url, missing padding, and "+" turned into a space by a proxy."""
    if len(encoded) > max_chars:
        raise OcspRequestError(f"GET path of {len(encoded)} characters exceeds {max_chars}")
    text = unquote(encoded.lstrip("/")) if "%" in encoded else encoded.lstrip("/")
    text = text.replace(" ", "+").replace("-", "+").replace("_", "/")
    text = text.rstrip("=")
    if not text:
        raise OcspRequestError("empty GET request")
    text += "=" * (-len(text) % 4)
    try:
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise OcspRequestError("GET path is not base64") from None


def encode_get_path(request_der: bytes) -> str:
    """The URL path component a client would send: URL-encoded standard base64."""
    text = base64.b64encode(request_der).decode()
    return text.replace("+", "%2B").replace("/", "%2F").replace("=", "%3D")


def encode_request(cert_ids: list[CertId], nonce: bytes | None = None) -> bytes:
    """An unsigned OCSPRequest, for tests, the audit tools and the benchmark."""
    requests = []
    for cid in cert_ids:
        oid, _ = HASH_ALGORITHMS[cid.hash_algorithm]
        requests.append(
            der.sequence(
                der.sequence(
                    der.sequence(der.encode_oid(oid), der.tlv(der.NULL, b"")),
                    der.tlv(der.OCTET_STRING, cid.issuer_name_hash),
                    der.tlv(der.OCTET_STRING, cid.issuer_key_hash),
                    der.encode_integer(cid.serial_number),
                )
            )
        )
    tbs = [der.sequence(*requests)]
    if nonce is not None:
        ext = der.sequence(
            der.encode_oid(OID_OCSP_NONCE),
            der.tlv(der.OCTET_STRING, der.tlv(der.OCTET_STRING, nonce)),
        )
        tbs.append(der.tlv(0xA2, der.sequence(ext)))
    return der.sequence(der.sequence(*tbs))


def response_status(response_der: bytes) -> ResponseStatus:
    """The responseStatus of an OCSPResponse."""
    tag, s, e = _header(response_der, 0, len(response_der))
    kids = _children(response_der, s, e) if tag == der.SEQUENCE else []
    if not kids or kids[0][0] != der.ENUMERATED or kids[0][2] - kids[0][1] != 1:
        raise OcspRequestError("not an OCSPResponse")
    return ResponseStatus(response_der[kids[0][1]])
