"""What the CRL monitor remembers of one CRL: its scope, its counters and its entries.

A snapshot is read from the CRL's own bytes (PEM or DER), so the monitor needs nothing
but what a relying party sees. It keeps the issuer name and the issuingDistributionPoint
as their exact encodings, because "same scope" means byte-identical (BR 7.2.2.1), and
the entries as serial -> (revocationDate, reasonCode) so two CRLs compare in one pass.
The state directory stores the raw DER, not a re-encoding: a snapshot re-read next
round is exactly what was fetched.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import re
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import NamedTuple

from certkeeper.errors import InputError
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.values import GN_URI, Malformed, parse_time
from certkeeper.x509.der import DerError, children, header
from certkeeper.x509.oids import OID_AKI, OID_IDP

_REASON_OID = bytes([0x55, 0x1D, 0x15])  # reasonCode, 2.5.29.21, as OID content octets
# crlEntryExtensions holding only a non-critical reasonCode, up to the ENUMERATED's value
_REASON_ONLY = bytes.fromhex("300c300a0603551d1504030a01")
_PEM = re.compile(rb"-----BEGIN X509 CRL-----(.*?)-----END X509 CRL-----", re.DOTALL)


class Entry(NamedTuple):
    """A tuple, not a dataclass: a million of these are built per round."""

    revoked_at: datetime
    reason: int | None  # RFC 5280 CRLReason; None when no reasonCode extension


@dataclass(frozen=True, slots=True)
class CrlSnapshot:
    """One CRL as the monitor compares it. `source` is the path or URL it came from."""

    source: str
    der: bytes
    sha256: str
    tbs_sha256: str  # equal for the same content signed again (ECDSA signatures vary)
    issuer: bytes  # the issuer Name's DER
    aki: bytes | None  # the authorityKeyIdentifier extnValue
    number: int | None
    this_update: datetime
    next_update: datetime | None
    idp: bytes | None  # the issuingDistributionPoint extnValue, as encoded
    idp_uris: tuple[str, ...]
    only_ca: bool
    entries: dict[str, Entry]  # serial as lowercase hex without leading zeros

    @property
    def scope(self) -> str:
        """A short name for messages: the IDP URI, else where the CRL came from."""
        return self.idp_uris[0] if self.idp_uris else self.source


def decode_crl_bytes(data: bytes, source: str) -> bytes:
    """The DER of a CRL given as DER or PEM; anything else is an InputError naming `source`."""
    stripped = data.lstrip()
    if stripped.startswith(b"-----BEGIN"):
        match = _PEM.search(stripped)
        if match is None:
            raise InputError(f"{source}: PEM data holds no X509 CRL block")
        try:
            return base64.b64decode(b"".join(match.group(1).split()), validate=True)
        except binascii.Error:
            raise InputError(f"{source}: the X509 CRL PEM block is not valid base64") from None
    if not data:
        raise InputError(f"{source}: empty file, not a CRL")
    return data


def snapshot(data: bytes, source: str) -> CrlSnapshot:
    """Parse a CRL (PEM or DER) into a snapshot; a CRL that cannot be read raises InputError."""
    der = decode_crl_bytes(data, source)
    doc = CrlDocument(der, name=source)
    if doc.structure_errors or doc.issuer_raw is None or doc.this_update is None:
        problem = doc.structure_errors[0] if doc.structure_errors else "no thisUpdate"
        raise InputError(f"{source}: not a readable CRL: {problem}")
    if doc.this_update.value is None:
        raise InputError(f"{source}: thisUpdate cannot be decoded: {doc.this_update.error}")
    next_update = doc.next_update.value if doc.next_update is not None else None
    try:
        raw_number = doc.crl_number
        idp = doc.idp
    except (Malformed, DerError) as exc:
        raise InputError(f"{source}: {exc}") from None
    number = int.from_bytes(raw_number, "big", signed=True) if raw_number else None
    idp_ext = doc.ext.get(OID_IDP)
    aki_ext = doc.ext.get(OID_AKI)
    uris: tuple[str, ...] = ()
    if idp is not None and idp.full_name:
        uris = tuple(gn.text for gn in idp.full_name if gn.tag == GN_URI)
    return CrlSnapshot(
        source=source,
        der=der,
        sha256=hashlib.sha256(der).hexdigest(),
        tbs_sha256=hashlib.sha256(doc.tbs_raw or b"").hexdigest(),
        issuer=doc.issuer_raw,
        aki=aki_ext.value if aki_ext is not None else None,
        number=number,
        this_update=doc.this_update.value,
        next_update=next_update,
        idp=idp_ext.value if idp_ext is not None else None,
        idp_uris=uris,
        only_ca=bool(idp is not None and idp.only_ca),
        entries=_entries(doc, source),
    )


def _entries(doc: CrlDocument, source: str) -> dict[str, Entry]:
    """serial -> Entry for every revokedCertificates entry; a malformed entry is an error,
    because a monitor that skipped one could report its serial as removed.

    A shard may hold a million entries, so the common shapes (short lengths, a lone
    reasonCode extension) are read inline and revocation times decoded once per value."""
    out: dict[str, Entry] = {}
    span = doc.revoked_span
    if span is None:
        return out
    d = doc.der
    pos, end = span
    times: dict[bytes, datetime] = {}
    days: dict[bytes, datetime | None] = {}
    index = 0
    try:
        while pos < end:
            if d[pos] != 0x30:
                raise InputError(f"{source}: revokedCertificates[{index}] is not a SEQUENCE")
            if d[pos + 1] < 0x80:
                cs = pos + 2
                ce = cs + d[pos + 1]
            else:
                _, cs, ce = header(d, pos, end)
            if ce > end or d[cs] != 0x02:
                raise InputError(f"{source}: revokedCertificates[{index}] has no serial number")
            if d[cs + 1] < 0x80:
                s0 = cs + 2
                s1 = s0 + d[cs + 1]
            else:
                _, s0, s1 = header(d, cs, ce)
            t1 = s1 + 2 + d[s1 + 1]
            if s0 == s1 or t1 > ce or d[s1] not in (0x17, 0x18):
                raise InputError(f"{source}: revokedCertificates[{index}] has no revocationDate")
            raw_time = d[s1:t1]
            revoked_at = times.get(raw_time)
            if revoked_at is None and t1 - s1 == 15 and d[s1] == 0x17 and d[t1 - 1] == 0x5A:
                # UTCTime YYMMDDHHMMSSZ: decode the day once, add the time of day
                revoked_at = _utc_time(d[s1 + 2 : t1 - 1], days)
            if revoked_at is None:
                field = parse_time(d, (d[s1], s1 + 2, t1), f"revokedCertificates[{index}]")
                if field.value is None:
                    raise InputError(
                        f"{source}: revokedCertificates[{index}]: revocationDate cannot be "
                        f"decoded: {field.error}"
                    )
                revoked_at = times[raw_time] = field.value
            reason = None
            if t1 < ce:
                if ce - t1 == 14 and d[t1 : t1 + 13] == _REASON_ONLY:
                    reason = d[t1 + 13]
                else:
                    reason = _reason(d, header(d, t1, ce))
            if d[s0] < 0x80:
                key = d[s0:s1].hex().lstrip("0") or "0"
            else:
                key = "-" + format(-int.from_bytes(d[s0:s1], "big", signed=True), "x")
            out[key] = Entry(revoked_at, reason)
            pos = ce
            index += 1
    except (DerError, IndexError) as exc:
        raise InputError(
            f"{source}: revokedCertificates[{index}] cannot be read: {exc or 'truncated'}"
        ) from None
    return out


def _utc_time(digits: bytes, days: dict[bytes, datetime | None]) -> datetime | None:
    """YYMMDDHHMMSS as a UTC datetime, the date part memoised; None for anything odd
    (the general decoder then says what is wrong)."""
    if not digits.isdigit():
        return None
    day = digits[:6]
    base = days.get(day, _MISSING)
    if base is _MISSING:
        year = int(day[:2])
        try:
            base = datetime(
                year + (1900 if year >= 50 else 2000), int(day[2:4]), int(day[4:6]), tzinfo=UTC
            )
        except ValueError:
            base = None
        days[day] = base
    hours, minutes, seconds = int(digits[6:8]), int(digits[8:10]), int(digits[10:12])
    if base is None or hours > 23 or minutes > 59 or seconds > 59:
        return None
    return base + timedelta(seconds=hours * 3600 + minutes * 60 + seconds)


_MISSING = datetime.min


def _reason(d: bytes, h: tuple[int, int, int]) -> int | None:
    """The reasonCode of an entry's crlEntryExtensions, if any."""
    tag, cs, ce = h
    if tag != 0x30:
        raise DerError("crlEntryExtensions is not a SEQUENCE")
    for _, xs, xe in children(d, cs, ce):
        fields = children(d, xs, xe)
        if not fields or fields[0][0] != 0x06:
            raise DerError("entry extension without an OID")
        if d[fields[0][1] : fields[0][2]] != _REASON_OID:
            continue
        value = fields[-1]
        etag, es, ee = header(d, value[1], value[2])
        if etag != 0x0A or ee - es != 1:
            raise DerError("reasonCode is not a one-octet ENUMERATED")
        return d[es]
    return None
