"""Serial numbers: CSPRNG output, positive, fixed length, assigned before any signing.

A serial is 16 octets of DER content: the top bit is clear (so it is positive without
a padding octet) and the next bit is set (so it is always exactly 16 octets), leaving
126 bits from `secrets` (BR 7.1: at least 64 bits of CSPRNG output; at most 20 octets).
"""

from __future__ import annotations

import secrets

SERIAL_BITS = 126


def new_serial() -> int:
    return secrets.randbits(SERIAL_BITS) | (1 << SERIAL_BITS)


def serial_hex(serial: int) -> str:
    """The inventory's form of a serial: lowercase hex, no leading zeros."""
    return format(serial, "x")


def shard_for(serial: int, shard_count: int) -> int:
    """The CRL shard of a serial: a stable function of the serial and the shard count.

    Serials are uniformly random, so shards fill evenly; the shard is recorded with the
    serial at assignment, so changing the shard count later moves no existing entry."""
    return serial % shard_count
