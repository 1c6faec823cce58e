"""The small value types of a parsed document and the DER walkers that fill them.

`cryptography` refuses many of the encodings the lints exist to catch (fractional
seconds, non-minimal INTEGERs, duplicate extensions, ...), so each document walks its own
DER once with the small, strict readers here; a problem that stops the walk becomes a
structural finding, never an exception.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import NamedTuple

from certkeeper.x509.der import DerError, children, header
from certkeeper.x509.der import decode_oid as _decode_oid_uncached
from certkeeper.x509.time import TimeEncodingError, decode_time

# Context-specific tags.
CTX0_C = 0xA0
CTX1_C = 0xA1
CTX2_C = 0xA2
CTX3_C = 0xA3


_OID_CACHE: dict[bytes, str] = {}


def decode_oid(content: bytes) -> str:
    """OID content octets -> dotted string, memoised: the same few dozen OIDs recur."""
    got = _OID_CACHE.get(content)
    if got is None:
        got = _decode_oid_uncached(content)
        if len(_OID_CACHE) < 10_000:
            _OID_CACHE[content] = got
    return got


class Malformed(Exception):
    """Parsing a field failed; the message names the field and the problem."""


def decode_bool(content: bytes, what: str) -> bool:
    """DER BOOLEAN: one octet, 0x00 or 0xFF."""
    if content == b"\xff":
        return True
    if content == b"\x00":
        return False
    raise Malformed(f"{what} BOOLEAN {content.hex()} is not DER (must be 00 or ff)")


class AlgId(NamedTuple):
    """An AlgorithmIdentifier: OID, raw parameters (None when absent) and raw encoding."""

    oid: str
    params: bytes | None
    raw: bytes


class TimeField(NamedTuple):
    """A time as encoded: tag, content octets, decoded value and RFC 5280 departures."""

    location: str
    tag: int
    content: bytes
    value: datetime | None
    problems: tuple[str, ...]
    error: str | None

    @property
    def text(self) -> str:
        return self.content.decode("latin-1")


class Extension(NamedTuple):
    oid: str
    critical: bool
    critical_encoded_false: bool  # DEFAULT FALSE written out: a DER violation
    value: bytes  # the extnValue OCTET STRING contents


class Attribute(NamedTuple):
    oid: str
    tag: int  # the string type's tag
    value: bytes


class GeneralName(NamedTuple):
    tag: int  # context number 0..8
    value: bytes  # content octets (for directoryName: the Name's encoding)

    @property
    def text(self) -> str:
        return self.value.decode("latin-1")


GN_OTHER = 0
GN_RFC822 = 1
GN_DNS = 2
GN_X400 = 3
GN_DIRECTORY = 4
GN_EDI = 5
GN_URI = 6
GN_IP = 7
GN_RID = 8


def parse_time(data: bytes, h: tuple[int, int, int], location: str) -> TimeField:
    tag, cs, ce = h
    content = data[cs:ce]
    # Fast path for the only forms RFC 5280 allows: YYMMDDHHMMSSZ and YYYYMMDDHHMMSSZ.
    n = ce - cs
    if ((n == 13 and tag == 0x17) or (n == 15 and tag == 0x18)) and content[-1] == 0x5A:
        digits = content[:-1]
        if digits.isdigit():
            if n == 13:
                year = int(digits[0:2])
                year += 1900 if year >= 50 else 2000
                rest = 2
            else:
                year = int(digits[0:4])
                rest = 4
            try:
                value = datetime(
                    year,
                    int(digits[rest : rest + 2]),
                    int(digits[rest + 2 : rest + 4]),
                    int(digits[rest + 4 : rest + 6]),
                    int(digits[rest + 6 : rest + 8]),
                    int(digits[rest + 8 : rest + 10]),
                    tzinfo=UTC,
                )
            except ValueError:
                pass
            else:
                return TimeField(location, tag, content, value, (), None)
    try:
        decoded = decode_time(tag, content)
    except TimeEncodingError as exc:
        return TimeField(location, tag, content, None, (), str(exc))
    return TimeField(location, tag, content, decoded.value, decoded.problems, None)


def split_signed(d: bytes, what: str) -> tuple[tuple[int, int, int], bytes, AlgId, int, bytes]:
    """Certificates and CRLs share the outer shape SEQUENCE { tbs, signatureAlgorithm,
    signatureValue BIT STRING }: (tbs header, tbs bytes, algorithm, unused bits, signature)."""
    tag, cs, ce = header(d, 0, len(d))
    if tag != 0x30:
        raise DerError(f"a {what} is a SEQUENCE")
    if ce != len(d):
        raise DerError(f"{len(d) - ce} octets trail the {what}")
    parts = children(d, cs, ce)
    if len(parts) != 3:
        raise DerError(f"a {what} has 3 elements, this one has {len(parts)}")
    (ttag, tcs, tce), alg_h, (stag, scs, sce) = parts
    tbs_raw = d[start_of(d, tcs, tce) : tce]
    sig_alg = parse_alg(d, alg_h, "signatureAlgorithm")
    if stag != 0x03 or sce == scs:
        raise DerError("signatureValue is not a BIT STRING")
    return (ttag, tcs, tce), tbs_raw, sig_alg, d[scs], d[scs + 1 : sce]


_ALG_CACHE: dict[bytes, AlgId] = {}


def parse_alg(data: bytes, h: tuple[int, int, int], what: str) -> AlgId:
    """An AlgorithmIdentifier; the few encodings in use are parsed once each."""
    tag, cs, ce = h
    if tag != 0x30:
        raise DerError(f"{what}: AlgorithmIdentifier is not a SEQUENCE")
    raw = data[start_of(data, cs, ce) : ce]
    got = _ALG_CACHE.get(raw)
    if got is None:
        got = _parse_alg(data, cs, ce, what, raw)
        if len(_ALG_CACHE) < 256:
            _ALG_CACHE[raw] = got
    return got


def _parse_alg(data: bytes, cs: int, ce: int, what: str, raw: bytes) -> AlgId:
    kids = children(data, cs, ce)
    if not kids or kids[0][0] != 0x06:
        raise DerError(f"{what}: AlgorithmIdentifier has no OID")
    if len(kids) > 2:
        raise DerError(f"{what}: AlgorithmIdentifier has {len(kids)} elements")
    oid = decode_oid(data[kids[0][1] : kids[0][2]])
    params = None
    if len(kids) == 2:
        _, pcs, pce = kids[1]
        params = data[start_of(data, pcs, pce) : pce]
    return AlgId(oid, params, raw)


def start_of(data: bytes, cs: int, ce: int) -> int:
    """Tag offset of an element from its content span: DER lengths are minimal, so the
    header size follows from the content length alone."""
    length = ce - cs
    size = 2 if length < 0x80 else 2 + (length.bit_length() + 7) // 8
    return cs - size


def parse_extensions(
    data: bytes, cs: int, ce: int, where: str
) -> tuple[list[Extension], list[str]]:
    """Extensions ::= SEQUENCE OF Extension; returns them plus any structure problems."""
    exts: list[Extension] = []
    problems: list[str] = []
    for etag, ecs, ece in children(data, cs, ce):
        if etag != 0x30:
            problems.append(f"{where}: an extension is not a SEQUENCE")
            continue
        # Fast path: short OID, optional BOOLEAN TRUE, OCTET STRING running to the end.
        if ece - ecs > 4 and data[ecs] == 0x06 and data[ecs + 1] < 0x80:
            pos = ecs + 2 + data[ecs + 1]
            critical = False
            if pos + 2 < ece and data[pos] == 0x01 and data[pos + 1] == 1 and data[pos + 2] == 0xFF:
                critical = True
                pos += 3
            if pos < ece and data[pos] == 0x04:
                try:
                    _vtag, vcs, vce = header(data, pos, ece)
                except DerError:
                    vce = -1
                if vce == ece:
                    exts.append(
                        Extension(
                            decode_oid(data[ecs + 2 : ecs + 2 + data[ecs + 1]]),
                            critical,
                            False,
                            data[vcs:vce],
                        )
                    )
                    continue
        parts = children(data, ecs, ece)
        if len(parts) not in (2, 3) or parts[0][0] != 0x06 or parts[-1][0] != 0x04:
            problems.append(f"{where}: an extension is not {{OID, [BOOLEAN], OCTET STRING}}")
            continue
        oid = decode_oid(data[parts[0][1] : parts[0][2]])
        critical = False
        encoded_false = False
        if len(parts) == 3:
            if parts[1][0] != 0x01:
                problems.append(f"{where}: extension {oid} critical flag is not a BOOLEAN")
                continue
            try:
                critical = decode_bool(data[parts[1][1] : parts[1][2]], f"extension {oid} critical")
            except Malformed as exc:
                problems.append(f"{where}: {exc}")
                critical = data[parts[1][1] : parts[1][2]] != b"\x00"
            encoded_false = not critical
        exts.append(Extension(oid, critical, encoded_false, data[parts[-1][1] : parts[-1][2]]))
    return exts, problems


def parse_name(data: bytes, cs: int, ce: int) -> list[list[Attribute]]:
    """Name ::= SEQUENCE OF RelativeDistinguishedName (SET OF AttributeTypeAndValue)."""
    rdns: list[list[Attribute]] = []
    for rtag, rcs, rce in children(data, cs, ce):
        if rtag != 0x31:
            raise DerError("a RelativeDistinguishedName is not a SET")
        rdn: list[Attribute] = []
        for atag, acs, ace in children(data, rcs, rce):
            if atag != 0x30:
                raise DerError("an AttributeTypeAndValue is not a SEQUENCE")
            parts = children(data, acs, ace)
            if len(parts) != 2 or parts[0][0] != 0x06:
                raise DerError("an AttributeTypeAndValue is not {OID, value}")
            rdn.append(
                Attribute(
                    decode_oid(data[parts[0][1] : parts[0][2]]),
                    parts[1][0],
                    data[parts[1][1] : parts[1][2]],
                )
            )
        rdns.append(rdn)
    return rdns


_NAME_CACHE: dict[bytes, list[list[Attribute]]] = {}


def cached_name(raw: bytes, data: bytes, cs: int, ce: int) -> list[list[Attribute]]:
    """Names repeat: a CA's in every certificate it signs, a subscriber's in its
    precertificate, its certificate and their renewals. Parse each once.

    Callers must treat the result as read-only (it is shared)."""
    got = _NAME_CACHE.get(raw)
    if got is None:
        got = parse_name(data, cs, ce)
        if len(_NAME_CACHE) < 1024:
            _NAME_CACHE[raw] = got
    return got


def parse_general_names(data: bytes, cs: int, ce: int) -> list[GeneralName]:
    names: list[GeneralName] = []
    for tag, gcs, gce in children(data, cs, ce):
        if tag & 0xC0 != 0x80:
            raise DerError(f"GeneralName with non-context tag 0x{tag:02x}")
        number = tag & 0x1F
        names.append(GeneralName(number, data[gcs:gce]))
    return names
