"""The TLS presentation language pieces RFC 6962 uses (RFC 5246 4): big-endian integers
and length-prefixed opaque vectors. Pure; a malformed input raises `TlsDecodeError`."""

from __future__ import annotations


class TlsDecodeError(ValueError):
    """Bytes that do not follow the TLS structure they claim to be."""


def uint(value: int, size: int) -> bytes:
    if not 0 <= value < 1 << (8 * size):
        raise ValueError(f"{value} does not fit in {size} octets")
    return value.to_bytes(size, "big")


def vector(data: bytes, length_size: int) -> bytes:
    """opaque data<0..2^(8*length_size)-1>."""
    return uint(len(data), length_size) + data


class Reader:
    """Reads a TLS structure front to back; `done()` insists nothing is left over."""

    def __init__(self, data: bytes, what: str) -> None:
        self.data = data
        self.pos = 0
        self.what = what

    def take(self, n: int) -> bytes:
        if n < 0 or self.pos + n > len(self.data):
            raise TlsDecodeError(
                f"{self.what}: truncated (needs {n} octets at offset {self.pos}, "
                f"{len(self.data) - self.pos} left)"
            )
        out = self.data[self.pos : self.pos + n]
        self.pos += n
        return out

    def uint(self, size: int) -> int:
        return int.from_bytes(self.take(size), "big")

    def vector(self, length_size: int) -> bytes:
        return self.take(self.uint(length_size))

    def remaining(self) -> int:
        return len(self.data) - self.pos

    def done(self) -> None:
        if self.pos != len(self.data):
            raise TlsDecodeError(f"{self.what}: {len(self.data) - self.pos} trailing octets")
