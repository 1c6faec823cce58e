"""A fast, strict walk of an OCSP response: just what the audits compare.

The lint engine's `OcspResponseDocument` reads every field and explains every defect;
the audits ask a million responders' answers three questions first (which serial,
which status, which times) and hand anything odd to the full linter. This walker is
that first pass: one linear DER walk, no certificate parsing, and it refuses (raises
`ResponseParseError`) anything that is not a plainly well-formed response, so the
caller falls back to the full lints rather than trust a lenient reading.

It also computes the response's *lint shape*: the DER with the serial's content and the
signature's value cut out. Two responses of one shape differ only in those two fields,
so every lint except the signature check and the serial checks gives both the same
result (see `ocsp_lint_cache`).

Pure: bytes in, values out.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime

from certkeeper.lint.document.ocsp import OCSP_STATUS_NAMES
from certkeeper.lint.document.values import start_of
from certkeeper.x509.der import DerError, children, header
from certkeeper.x509.time import TimeEncodingError, decode_time

OID_OCSP_BASIC_CONTENT = bytes.fromhex("2b0601050507300101")  # OID_OCSP_BASIC, encoded


class ResponseParseError(ValueError):
    """The bytes are not a plainly well-formed OCSP response; the message says where."""


@dataclass(frozen=True, slots=True)
class SingleStatus:
    """One SingleResponse. `cert_id_prefix` is the encoded hashAlgorithm, issuerNameHash
    and issuerKeyHash, exactly as a request built from the same issuer carries them."""

    cert_id_prefix: bytes
    serial: int
    serial_content: bytes
    status: str  # good | revoked | unknown
    revocation_time: datetime | None
    reason: int | None
    this_update: datetime
    next_update: datetime | None


@dataclass(frozen=True, slots=True)
class ParsedResponse:
    """An OCSP response as the audits see it. For an error response (anything but
    successful) only `response_status` is set."""

    response_status: int
    singles: tuple[SingleStatus, ...] = ()
    produced_at: datetime | None = None
    tbs: bytes = b""
    signature_algorithm: bytes = b""  # AlgorithmIdentifier DER
    signature: bytes = b""
    signer_certificate: bytes | None = None  # the first certificate in `certs`
    shape: bytes = b""  # digest of the DER without serial contents and signature value

    @property
    def status_name(self) -> str:
        return OCSP_STATUS_NAMES.get(self.response_status, str(self.response_status))

    def single_for(self, cert_id_prefix: bytes, serial: int) -> SingleStatus | None:
        for single in self.singles:
            if single.serial == serial and single.cert_id_prefix == cert_id_prefix:
                return single
        return None


def _time(d: bytes, item: tuple[int, int, int], where: str) -> datetime:
    tag, s, e = item
    if tag != 0x18:
        raise ResponseParseError(f"{where} is not a GeneralizedTime")
    if e - s == 15 and d[e - 1] == 0x5A and d[s : e - 1].isdigit():
        # YYYYMMDDHHMMSSZ, the only form RFC 5280 allows: no regex on the hot path
        try:
            return datetime(
                int(d[s : s + 4]),
                int(d[s + 4 : s + 6]),
                int(d[s + 6 : s + 8]),
                int(d[s + 8 : s + 10]),
                int(d[s + 10 : s + 12]),
                int(d[s + 12 : s + 14]),
                tzinfo=UTC,
            )
        except ValueError:
            pass  # not a calendar date: decode_time words the error
    try:
        return decode_time(tag, d[s:e]).value
    except TimeEncodingError as exc:
        raise ResponseParseError(f"{where}: {exc}") from None


def _expect(cond: bool, message: str) -> None:
    if not cond:
        raise ResponseParseError(message)


def parse_response(d: bytes) -> ParsedResponse:
    """Walk an OCSPResponse. Raises ResponseParseError on anything not well-formed."""
    try:
        return _parse(d)
    except DerError as exc:  # the strict DER header reader the lint engine uses
        raise ResponseParseError(str(exc)) from None


def _parse(d: bytes) -> ParsedResponse:
    tag, s, e = header(d, 0, len(d))
    _expect(tag == 0x30 and e == len(d), "not exactly one OCSPResponse SEQUENCE")
    top = children(d, s, e)
    _expect(bool(top) and top[0][0] == 0x0A and top[0][2] - top[0][1] == 1, "no responseStatus")
    status = d[top[0][1]]
    if status != 0:
        _expect(len(top) == 1, "an error response carries responseBytes")
        return ParsedResponse(status)
    _expect(len(top) == 2 and top[1][0] == 0xA0, "successful response without responseBytes")
    rb = children(d, top[1][1], top[1][2])
    _expect(len(rb) == 1 and rb[0][0] == 0x30, "responseBytes is not one SEQUENCE")
    rb_parts = children(d, rb[0][1], rb[0][2])
    _expect(
        len(rb_parts) == 2 and rb_parts[0][0] == 0x06 and rb_parts[1][0] == 0x04,
        "responseBytes is not {responseType, response}",
    )
    _expect(
        d[rb_parts[0][1] : rb_parts[0][2]] == OID_OCSP_BASIC_CONTENT,
        "responseType is not id-pkix-ocsp-basic",
    )
    b0, b1 = rb_parts[1][1], rb_parts[1][2]
    btag, bs, be = header(d, b0, b1)
    _expect(btag == 0x30 and be == b1, "BasicOCSPResponse is not one SEQUENCE")
    basic = children(d, bs, be)
    _expect(len(basic) in (3, 4), "BasicOCSPResponse has the wrong number of fields")
    (ttag, ts, te), (atag, as_, ae), (sigtag, ss, se) = basic[:3]
    _expect(ttag == 0x30 and atag == 0x30, "tbsResponseData or signatureAlgorithm malformed")
    _expect(sigtag == 0x03 and se > ss and d[ss] == 0, "signature is not a whole-octet BIT STRING")
    signer = None
    if len(basic) == 4:
        ctag, cs, ce = basic[3]
        _expect(ctag == 0xA0, "certs is not [0] EXPLICIT")
        seq = children(d, cs, ce)
        _expect(len(seq) == 1 and seq[0][0] == 0x30, "certs is not a SEQUENCE OF Certificate")
        certs = children(d, seq[0][1], seq[0][2])
        if certs:
            c_tag, c_s, c_e = certs[0]
            _expect(c_tag == 0x30, "a certificate in certs is not a SEQUENCE")
            signer = d[start_of(d, c_s, c_e) : c_e]
    fields = children(d, ts, te)
    i = 1 if fields and fields[0][0] == 0xA0 else 0  # version: the lints judge it
    _expect(len(fields) >= i + 3, "tbsResponseData has too few fields")
    _expect(fields[i][0] in (0xA1, 0xA2), "responderID is neither byName nor byKey")
    produced_at = _time(d, fields[i + 1], "producedAt")
    rtag, rs, re_ = fields[i + 2]
    _expect(rtag == 0x30, "responses is not a SEQUENCE")
    singles = []
    cut: list[tuple[int, int]] = []  # spans left out of the shape
    for n, (stag, s0, s1) in enumerate(children(d, rs, re_)):
        _expect(stag == 0x30, f"responses[{n}] is not a SEQUENCE")
        single, serial_span = _single(d, s0, s1, n)
        singles.append(single)
        cut.append(serial_span)
    _expect(bool(singles), "responses is empty")
    cut.append((ss + 1, se))
    shape = hashlib.blake2b(digest_size=16)
    pos = 0
    for a, z in cut:
        shape.update(d[pos:a])
        shape.update(b"\x00")  # a separator: moving bytes across a cut changes the shape
        pos = z
    shape.update(d[pos:])
    return ParsedResponse(
        response_status=0,
        singles=tuple(singles),
        produced_at=produced_at,
        tbs=d[start_of(d, ts, te) : te],
        signature_algorithm=d[start_of(d, as_, ae) : ae],
        signature=d[ss + 1 : se],
        signer_certificate=signer,
        shape=shape.digest(),
    )


def _single(d: bytes, s0: int, s1: int, n: int) -> tuple[SingleStatus, tuple[int, int]]:
    where = f"responses[{n}]"
    parts = children(d, s0, s1)
    _expect(len(parts) >= 3, f"{where} has too few fields")
    ctag, cs, ce = parts[0]
    cid = children(d, cs, ce)
    _expect(ctag == 0x30 and len(cid) == 4, f"{where}.certID malformed")
    _expect(
        cid[0][0] == 0x30 and cid[1][0] == 0x04 and cid[2][0] == 0x04 and cid[3][0] == 0x02,
        f"{where}.certID fields have the wrong types",
    )
    serial_content = d[cid[3][1] : cid[3][2]]
    _expect(bool(serial_content), f"{where}.certID serialNumber is empty")
    prefix = d[start_of(d, cid[0][1], cid[0][2]) : start_of(d, cid[3][1], cid[3][2])]
    st, sc, se = parts[1]
    revocation_time = None
    reason = None
    if st == 0x80:
        _expect(sc == se, f"{where} good is not an empty [0]")
        status = "good"
    elif st == 0xA1:
        status = "revoked"
        info = children(d, sc, se)
        _expect(1 <= len(info) <= 2, f"{where} RevokedInfo malformed")
        revocation_time = _time(d, info[0], f"{where}.revocationTime")
        if len(info) == 2:
            _expect(info[1][0] == 0xA0, f"{where} revocationReason is not [0] EXPLICIT")
            etag, es, ee = header(d, info[1][1], info[1][2])
            _expect(etag == 0x0A and ee - es == 1, f"{where} revocationReason malformed")
            reason = d[es]
    elif st == 0x82:
        _expect(sc == se, f"{where} unknown is not an empty [2]")
        status = "unknown"
    else:
        raise ResponseParseError(f"{where}.certStatus has tag 0x{st:02x}")
    this_update = _time(d, parts[2], f"{where}.thisUpdate")
    next_update = None
    for t, c, e in parts[3:]:
        if t == 0xA0:
            inner = header(d, c, e)
            _expect(inner[2] == e, f"{where}.nextUpdate malformed")
            next_update = _time(d, inner, f"{where}.nextUpdate")
        elif t != 0xA1:
            raise ResponseParseError(f"{where} has an unexpected field 0x{t:02x}")
    single = SingleStatus(
        cert_id_prefix=prefix,
        serial=int.from_bytes(serial_content, "big", signed=True),
        serial_content=serial_content,
        status=status,
        revocation_time=revocation_time,
        reason=reason,
        this_update=this_update,
        next_update=next_update,
    )
    return single, (cid[3][1], cid[3][2])
