"""X.509 time encoding: UTCTime and GeneralizedTime, strictly as RFC 5280 4.1.2.5 asks.

Every datetime certkeeper encodes is timezone-aware UTC truncated to whole seconds
(seed 001: fractional seconds in OCSP times broke relying parties). The decoders accept
anything syntactically recognisable and report what is wrong with it, so a linter can
say *why* an encoding is bad instead of failing to parse it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from certkeeper.x509.der import GENERALIZED_TIME, UTC_TIME, tlv

_UTC_RE = re.compile(rb"^(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})(\d{2})?(Z|[+-]\d{4})?$")
_GEN_RE = re.compile(rb"^(\d{4})(\d{2})(\d{2})(\d{2})(\d{2})?(\d{2})?([.,]\d+)?(Z|[+-]\d{4})?$")


class TimeEncodingError(ValueError):
    """A time value cannot be decoded at all."""


@dataclass(frozen=True, slots=True)
class DecodedTime:
    """A decoded time and every way its encoding departs from RFC 5280."""

    value: datetime
    tag: int
    raw: bytes
    problems: tuple[str, ...]


def truncate(moment: datetime) -> datetime:
    """UTC, whole seconds: the only form certkeeper ever encodes."""
    if moment.tzinfo is None:
        raise ValueError("naive datetime: certkeeper needs timezone-aware times")
    return moment.astimezone(UTC).replace(microsecond=0)


def encode_time(moment: datetime) -> bytes:
    """RFC 5280 4.1.2.5: UTCTime through 2049, GeneralizedTime from 2050."""
    m = truncate(moment)
    if m.year < 2050:
        return tlv(UTC_TIME, m.strftime("%y%m%d%H%M%SZ").encode())
    return encode_generalized_time(m)


def encode_generalized_time(moment: datetime) -> bytes:
    """GeneralizedTime YYYYMMDDHHMMSSZ, never with fractional seconds."""
    m = truncate(moment)
    return tlv(GENERALIZED_TIME, f"{m.year:04d}{m.strftime('%m%d%H%M%S')}Z".encode())


def decode_time(tag: int, content: bytes) -> DecodedTime:
    """Decode UTCTime or GeneralizedTime contents, listing each RFC 5280 departure."""
    if tag == UTC_TIME:
        return _decode_utc(content)
    if tag == GENERALIZED_TIME:
        return _decode_generalized(content)
    raise TimeEncodingError(f"tag 0x{tag:02x} is neither UTCTime nor GeneralizedTime")


def _decode_utc(content: bytes) -> DecodedTime:
    match = _UTC_RE.match(content)
    if not match:
        raise TimeEncodingError(f"UTCTime {content!r} is not YYMMDDHHMM[SS](Z|+-hhmm)")
    yy, mo, dd, hh, mi, ss, zone = match.groups()
    problems: list[str] = []
    if ss is None:
        problems.append(f"UTCTime {content.decode()} has no seconds")
    if zone != b"Z":
        problems.append(f"UTCTime {content.decode()} does not end in Z")
    year = int(yy)
    year += 1900 if year >= 50 else 2000
    value = _build(year, mo, dd, hh, mi, ss, zone, content)
    return DecodedTime(value, UTC_TIME, content, tuple(problems))


def _decode_generalized(content: bytes) -> DecodedTime:
    match = _GEN_RE.match(content)
    if not match:
        raise TimeEncodingError(
            f"GeneralizedTime {content!r} is not YYYYMMDDHH[MM[SS]][.f](Z|+-hhmm)"
        )
    yyyy, mo, dd, hh, mi, ss, frac, zone = match.groups()
    problems: list[str] = []
    text = content.decode()
    if mi is None or ss is None:
        problems.append(f"GeneralizedTime {text} has no minutes or seconds")
    if frac is not None:
        problems.append(f"GeneralizedTime {text} has fractional seconds")
    if zone != b"Z":
        problems.append(f"GeneralizedTime {text} does not end in Z")
    value = _build(int(yyyy), mo, dd, hh, mi, ss, zone, content)
    if frac is not None:
        digits = frac[1:].decode()
        value = value.replace(microsecond=int((digits + "000000")[:6]))
    return DecodedTime(value, GENERALIZED_TIME, content, tuple(problems))


def _build(
    year: int,
    mo: bytes,
    dd: bytes,
    hh: bytes,
    mi: bytes | None,
    ss: bytes | None,
    zone: bytes | None,
    content: bytes,
) -> datetime:
    try:
        value = datetime(
            year, int(mo), int(dd), int(hh), int(mi or b"0"), int(ss or b"0"), tzinfo=UTC
        )
    except ValueError as exc:
        raise TimeEncodingError(f"time {content!r} is not a calendar date: {exc}") from None
    if zone and zone != b"Z":
        sign = 1 if zone[:1] == b"+" else -1
        offset_minutes = int(zone[1:3]) * 60 + int(zone[3:5])
        value -= sign * timedelta(minutes=offset_minutes)
    return value
