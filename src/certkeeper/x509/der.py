"""Minimal DER reader and writer.

`cryptography` refuses to parse many malformed encodings and cannot express others
(fractional seconds, non-minimal lengths), so the lints and the signing path need to see
the bytes themselves. This module is pure: bytes in, values out.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

# Universal tags (class universal, with the constructed bit where DER always sets it).
BOOLEAN = 0x01
INTEGER = 0x02
BIT_STRING = 0x03
OCTET_STRING = 0x04
NULL = 0x05
OID = 0x06
ENUMERATED = 0x0A
UTF8_STRING = 0x0C
PRINTABLE_STRING = 0x13
IA5_STRING = 0x16
UTC_TIME = 0x17
GENERALIZED_TIME = 0x18
SEQUENCE = 0x30
SET = 0x31


class DerError(ValueError):
    """A DER structure is malformed; the message names the offset and the problem."""


@dataclass(frozen=True, slots=True)
class Tlv:
    """One decoded element: its tag, and where its header and contents sit in `data`."""

    tag: int
    data: bytes
    start: int  # offset of the tag byte
    content_start: int
    end: int  # offset just past the contents

    @property
    def content(self) -> bytes:
        return self.data[self.content_start : self.end]

    @property
    def raw(self) -> bytes:
        """The whole element, header included."""
        return self.data[self.start : self.end]

    @property
    def constructed(self) -> bool:
        return bool(self.tag & 0x20)

    def children(self) -> list[Tlv]:
        """The elements inside a constructed element."""
        return list(iter_tlvs(self.data, self.content_start, self.end))

    def child(self, index: int) -> Tlv:
        kids = self.children()
        if index >= len(kids):
            raise DerError(
                f"element at offset {self.start} has {len(kids)} children, wanted #{index}"
            )
        return kids[index]


def header(data: bytes, pos: int, end: int) -> tuple[int, int, int]:
    """(tag, content_start, content_end) of the element at `pos`; strict DER lengths.

    A tuple instead of an object: this runs tens of times per certificate and once per
    CRL entry, and object creation is what would make it slow."""
    if pos + 2 > end:
        raise DerError(f"truncated element at offset {pos}")
    tag = data[pos]
    if tag & 0x1F == 0x1F:
        raise DerError(f"high-tag-number form at offset {pos}")
    first = data[pos + 1]
    if first < 0x80:
        cs = pos + 2
        ce = cs + first
    elif first == 0x81:
        if pos + 3 > end:
            raise DerError(f"truncated length at offset {pos}")
        length = data[pos + 2]
        if length < 0x80:
            raise DerError(f"non-minimal length encoding at offset {pos}")
        cs = pos + 3
        ce = cs + length
    elif first == 0x80:
        raise DerError(f"indefinite length at offset {pos} is not DER")
    else:
        count = first & 0x7F
        if count > 4 or pos + 2 + count > end:
            raise DerError(f"bad length of {count} octets at offset {pos}")
        if data[pos + 2] == 0:
            raise DerError(f"non-minimal length encoding at offset {pos}")
        length = int.from_bytes(data[pos + 2 : pos + 2 + count], "big")
        if length < 0x100:
            raise DerError(f"non-minimal length encoding at offset {pos}")
        cs = pos + 2 + count
        ce = cs + length
    if ce > end:
        raise DerError(f"element at offset {pos} runs {ce - end} octets past its container")
    return tag, cs, ce


def children(data: bytes, start: int, end: int) -> list[tuple[int, int, int]]:
    """Headers of the consecutive elements between start and end."""
    out: list[tuple[int, int, int]] = []
    append = out.append
    pos = start
    while pos < end:
        if pos + 1 < end and data[pos + 1] < 0x80 and data[pos] & 0x1F != 0x1F:
            cs = pos + 2
            ce = cs + data[pos + 1]
            if ce > end:
                raise DerError(f"element at offset {pos} runs {ce - end} octets past its container")
            append((data[pos], cs, ce))
        else:
            h = header(data, pos, end)
            append(h)
            ce = h[2]
        pos = ce
    return out


def expect(data: bytes, pos: int, end: int, tag: int, what: str) -> tuple[int, int, int]:
    h = header(data, pos, end)
    if h[0] != tag:
        raise DerError(f"{what}: expected tag 0x{tag:02x}, found 0x{h[0]:02x} at offset {pos}")
    return h


def read_tlv(data: bytes, offset: int = 0, limit: int | None = None) -> Tlv:
    """Decode the element that starts at `offset`, checking DER length rules."""
    tag, content_start, end = header(data, offset, len(data) if limit is None else limit)
    return Tlv(tag, data, offset, content_start, end)


def iter_tlvs(data: bytes, start: int = 0, end: int | None = None) -> Iterator[Tlv]:
    """Walk consecutive elements between `start` and `end`."""
    stop = len(data) if end is None else end
    pos = start
    while pos < stop:
        tlv = read_tlv(data, pos, stop)
        yield tlv
        pos = tlv.end


def parse_single(data: bytes) -> Tlv:
    """Decode `data` as exactly one element, with nothing trailing."""
    tlv = read_tlv(data, 0)
    if tlv.end != len(data):
        raise DerError(f"{len(data) - tlv.end} trailing octets after the top-level element")
    return tlv


def encode_length(length: int) -> bytes:
    if length < 0x80:
        return bytes([length])
    body = length.to_bytes((length.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, content: bytes) -> bytes:
    """Encode one element."""
    return bytes([tag]) + encode_length(len(content)) + content


def encode_integer(value: int) -> bytes:
    """DER INTEGER in two's complement, minimal length."""
    magnitude = value if value >= 0 else ~value  # -128 needs 7 bits plus the sign: 1 octet
    length = magnitude.bit_length() // 8 + 1
    return tlv(INTEGER, value.to_bytes(length, "big", signed=True))


def decode_integer(content: bytes) -> int:
    if not content:
        raise DerError("INTEGER with no content octets")
    return int.from_bytes(content, "big", signed=True)


def integer_is_minimal(content: bytes) -> bool:
    """True when an INTEGER's content has no redundant leading 0x00 or 0xFF octet."""
    if len(content) < 2:
        return len(content) == 1
    if content[0] == 0x00 and content[1] < 0x80:
        return False
    return not (content[0] == 0xFF and content[1] >= 0x80)


def encode_oid(dotted: str) -> bytes:
    parts = [int(p) for p in dotted.split(".")]
    if len(parts) < 2:
        raise ValueError(f"OID {dotted!r} needs at least two arcs")
    arcs = [parts[0] * 40 + parts[1], *parts[2:]]
    body = bytearray()
    for arc in arcs:
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body.extend(reversed(chunk))
    return tlv(OID, bytes(body))


def decode_oid(content: bytes) -> str:
    if not content:
        raise DerError("OBJECT IDENTIFIER with no content octets")
    arcs: list[int] = []
    value = 0
    for i, octet in enumerate(content):
        if value == 0 and octet == 0x80:
            raise DerError(f"non-minimal OBJECT IDENTIFIER arc at octet {i}")
        value = (value << 7) | (octet & 0x7F)
        if not octet & 0x80:
            arcs.append(value)
            value = 0
    if content[-1] & 0x80:
        raise DerError("OBJECT IDENTIFIER ends inside an arc")
    first = arcs[0]
    head = [0, first] if first < 40 else [1, first - 40] if first < 80 else [2, first - 80]
    return ".".join(str(a) for a in [*head, *arcs[1:]])


def encode_bit_string(payload: bytes, unused_bits: int = 0) -> bytes:
    return tlv(BIT_STRING, bytes([unused_bits]) + payload)


def sequence(*parts: bytes) -> bytes:
    return tlv(SEQUENCE, b"".join(parts))


def assemble_signed(tbs: bytes, algorithm_identifier: bytes, signature: bytes) -> bytes:
    """Certificate, CertificateList and BasicOCSPResponse share this shape:
    SEQUENCE { tbs, signatureAlgorithm, signature BIT STRING }."""
    return sequence(tbs, algorithm_identifier, encode_bit_string(signature))


def split_signed(der: bytes) -> tuple[Tlv, Tlv, Tlv]:
    """Split a signed structure into (tbs, signatureAlgorithm, signatureValue)."""
    outer = parse_single(der)
    if outer.tag != SEQUENCE:
        raise DerError(f"expected a SEQUENCE at the top level, found tag 0x{outer.tag:02x}")
    kids = outer.children()
    if len(kids) != 3:
        raise DerError(f"a signed structure has 3 elements, this one has {len(kids)}")
    return kids[0], kids[1], kids[2]
