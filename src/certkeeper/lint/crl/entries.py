"""One pass over a CRL's revokedCertificates, checking every entry as it goes.

A shard can hold millions of entries, so this walks the DER directly, inlines the
header arithmetic for the common shapes (short lengths, 13-octet UTCTime, a lone
reasonCode extension) and falls back to the general reader only for the unusual.
Problems are bucketed by kind with a few examples each; the CRL lints read the buckets.
"""

from __future__ import annotations

from datetime import UTC, datetime

from certkeeper.lint.cert.common import time_problems
from certkeeper.lint.document.crl import CrlDocument, CrlEntryScan
from certkeeper.lint.document.values import parse_extensions, parse_time
from certkeeper.x509.der import DerError, header
from certkeeper.x509.oids import OID_CERTIFICATE_ISSUER, OID_INVALIDITY_DATE, OID_REASON_CODE

# BR 7.2.2: reasons allowed in a CRL entry (cACompromise only for CA certificates).
ALLOWED_REASONS = frozenset({1, 3, 4, 5, 9})
ALLOWED_REASONS_ARL = ALLOWED_REASONS | {2}
REASON_NAMES = {
    0: "unspecified",
    1: "keyCompromise",
    2: "cACompromise",
    3: "affiliationChanged",
    4: "superseded",
    5: "cessationOfOperation",
    6: "certificateHold",
    8: "removeFromCRL",
    9: "privilegeWithdrawn",
    10: "aACompromise",
}
KNOWN_ENTRY_EXTENSIONS = frozenset({OID_REASON_CODE, OID_INVALIDITY_DATE, OID_CERTIFICATE_ISSUER})

# Extensions ::= SEQUENCE { Extension { OID 2.5.29.21, OCTET STRING { ENUMERATED x } } }
_REASON_ONLY = bytes.fromhex("300c300a0603551d150403 0a01".replace(" ", ""))
_ENTRY = "tbsCertList.revokedCertificates"

_DAYS_IN_MONTH = (0, 31, 29, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31)


def _key_of(value: datetime) -> bytes:
    return value.astimezone(UTC).strftime("%Y%m%d%H%M%S").encode()


def _plausible(digits: bytes) -> bool:
    """YYYYMMDDHHMMSS digits form a real date and time (leap days checked separately)."""
    month = (digits[4] - 48) * 10 + digits[5] - 48
    day = (digits[6] - 48) * 10 + digits[7] - 48
    if not 1 <= month <= 12 or not 1 <= day <= _DAYS_IN_MONTH[month]:
        return False
    if digits[8:10] > b"23" or digits[10:12] > b"59" or digits[12:14] > b"59":
        return False
    if month == 2 and day == 29:
        year = int(digits[:4])
        return year % 4 == 0 and (year % 100 != 0 or year % 400 == 0)
    return True


def scan_entries(doc: CrlDocument) -> CrlEntryScan:
    scan = CrlEntryScan()
    span = doc.revoked_span
    if span is None:
        return scan
    d = doc.der
    pos, end = span
    tu = doc.this_update
    this_key = _key_of(tu.value) if tu is not None and tu.value is not None else None
    allowed = ALLOWED_REASONS_ARL if doc.is_arl else ALLOWED_REASONS
    seen: set[bytes] = set()
    seen_add = seen.add
    checked_dates: dict[bytes, bool] = {}
    count = 0
    add = scan.add
    reason_only = _REASON_ONLY
    while pos < end:
        index = count
        count += 1
        # -- the entry SEQUENCE
        try:
            if d[pos] == 0x30 and d[pos + 1] < 0x80:
                cs = pos + 2
                ce = cs + d[pos + 1]
                if ce > end:
                    raise DerError(f"entry at offset {pos} runs past the list")
            else:
                tag, cs, ce = header(d, pos, end)
                if tag != 0x30:
                    raise DerError(f"entry at offset {pos} is not a SEQUENCE")
            # -- serial
            if d[cs] == 0x02 and d[cs + 1] < 0x80:
                s0 = cs + 2
                s1 = s0 + d[cs + 1]
            else:
                tag, s0, s1 = header(d, cs, ce)
                if tag != 0x02:
                    raise DerError(f"entry at offset {pos} does not start with an INTEGER")
            if s1 > ce or s0 == s1:
                raise DerError(f"entry at offset {pos} has a bad serial number")
            serial = d[s0:s1]
            b0 = serial[0]
            if b0 == 0 or b0 & 0x80 or s1 - s0 > 20:
                _serial_problems(scan, index, serial)
            if serial in seen:
                add(
                    "duplicate_serial",
                    f"{_ENTRY}[{index}]",
                    f"serial 0x{serial.hex()} is listed twice",
                )
            else:
                seen_add(serial)
            # -- revocationDate
            ttag = d[s1]
            tlen = d[s1 + 1]
            t0 = s1 + 2
            t1 = t0 + tlen
            if t1 > ce:
                raise DerError(f"entry at offset {pos}: revocationDate runs past the entry")
            content = d[t0:t1]
            key = None
            if ttag == 0x17 and tlen == 13 and content[12] == 0x5A and content[:12].isdigit():
                key = (b"19" if content[0] >= 0x35 else b"20") + content[:12]
            elif ttag == 0x18 and tlen == 15 and content[14] == 0x5A and content[:14].isdigit():
                key = content[:14]
                if key < b"2050":
                    _time_problem(scan, d, (ttag, t0, t1), index)
            else:
                key = _time_problem(scan, d, (ttag, t0, t1), index)
            if key is not None:
                ok = checked_dates.get(key)
                if ok is None:
                    ok = _plausible(key)
                    checked_dates[key] = ok
                if not ok:
                    add(
                        "time_invalid",
                        f"{_ENTRY}[{index}].revocationDate",
                        f"revocationDate {content!r} is not a valid date",
                    )
                elif this_key is not None and key > this_key:
                    add(
                        "revocation_after_this_update",
                        f"{_ENTRY}[{index}].revocationDate",
                        f"serial 0x{serial.hex()} revoked at "
                        f"{content.decode('latin-1')}, after thisUpdate",
                    )
            # -- crlEntryExtensions
            if t1 < ce:
                if ce - t1 == 14 and d[t1 : t1 + 13] == reason_only:
                    reason = d[t1 + 13]
                    if reason not in allowed:
                        _reason_problem(scan, index, reason, doc.is_arl)
                else:
                    _entry_extensions(scan, d, t1, ce, index, allowed, doc.is_arl)
        except (DerError, IndexError) as exc:
            add(
                "entry_malformed",
                f"{_ENTRY}[{index}]",
                str(exc) if isinstance(exc, DerError) else f"entry at offset {pos} is truncated",
            )
            break
        pos = ce
    scan.count = count
    return scan


def _serial_problems(scan: CrlEntryScan, index: int, serial: bytes) -> None:
    where = f"{_ENTRY}[{index}].userCertificate"
    if serial[0] & 0x80:
        scan.add("serial_not_positive", where, f"serial 0x{serial.hex()} is negative")
    elif not any(serial):
        scan.add("serial_not_positive", where, "serial is zero")
    elif len(serial) > 1 and serial[0] == 0 and serial[1] < 0x80:
        scan.add("serial_not_minimal", where, f"serial 0x{serial.hex()} is not minimally encoded")
    if len(serial) > 20:
        scan.add("serial_too_long", where, f"serial is {len(serial)} octets (at most 20)")


def _time_problem(
    scan: CrlEntryScan, d: bytes, h: tuple[int, int, int], index: int
) -> bytes | None:
    """The slow path for an unusual revocationDate: classify every problem it has."""
    tf = parse_time(d, h, f"{_ENTRY}[{index}].revocationDate")
    for kind, message in time_problems(tf):
        scan.add(f"time_{kind}", tf.location, message)
    return None if tf.value is None else _key_of(tf.value)


def _reason_problem(scan: CrlEntryScan, index: int, reason: int, is_arl: bool) -> None:
    where = f"{_ENTRY}[{index}].crlEntryExtensions.reasonCode"
    name = REASON_NAMES.get(reason, "undefined")
    if reason == 0:
        scan.add(
            "reason_unspecified", where, "reasonCode unspecified (0) is encoded; omit the extension"
        )
    elif reason == 6:
        scan.add("reason_hold", where, "reasonCode certificateHold (6) is not allowed")
    else:
        kind = "CA" if is_arl else "subscriber"
        scan.add(
            "reason_not_allowed",
            where,
            f"reasonCode {name} ({reason}) is not allowed for {kind} certificates",
        )


def _entry_extensions(
    scan: CrlEntryScan,
    d: bytes,
    start: int,
    end: int,
    index: int,
    allowed: frozenset[int],
    is_arl: bool,
) -> None:
    where = f"{_ENTRY}[{index}].crlEntryExtensions"
    tag, cs, ce = header(d, start, end)
    if tag != 0x30 or ce != end:
        raise DerError(f"entry {index}: crlEntryExtensions is not one SEQUENCE")
    if cs == ce:
        scan.add("entry_extensions_empty", where, "crlEntryExtensions is present but empty")
        return
    exts, problems = parse_extensions(d, cs, ce, where)
    for problem in problems:
        scan.add("entry_malformed", where, problem)
    seen: set[str] = set()
    for ext in exts:
        if ext.oid in seen:
            scan.add("entry_extension_duplicate", where, f"extension {ext.oid} appears twice")
        seen.add(ext.oid)
        if ext.critical_encoded_false:
            scan.add(
                "entry_extension_false_encoded",
                where,
                f"extension {ext.oid} encodes critical FALSE",
            )
        if ext.oid == OID_REASON_CODE:
            if ext.critical:
                scan.add("reason_critical", f"{where}.reasonCode", "reasonCode is marked critical")
            v = ext.value
            if len(v) != 3 or v[0] != 0x0A or v[1] != 1:
                scan.add(
                    "reason_malformed",
                    f"{where}.reasonCode",
                    f"reasonCode value {v.hex()} is not a one-octet ENUMERATED",
                )
                continue
            if v[2] not in allowed:
                _reason_problem(scan, index, v[2], is_arl)
        elif ext.oid == OID_INVALIDITY_DATE:
            v = ext.value
            try:
                h = header(v, 0, len(v))
            except DerError as exc:
                scan.add("entry_malformed", f"{where}.invalidityDate", str(exc))
                continue
            tf = parse_time(v, h, f"{where}.invalidityDate")
            for kind, message in time_problems(tf, generalized_only=True):
                scan.add(f"time_{kind}", tf.location, message)
        elif ext.critical and ext.oid not in KNOWN_ENTRY_EXTENSIONS:
            scan.add(
                "entry_extension_unknown_critical",
                where,
                f"unrecognised extension {ext.oid} is critical",
            )
        if ext.oid == OID_CERTIFICATE_ISSUER:
            scan.add(
                "entry_certificate_issuer", where, "certificateIssuer (indirect CRL) is present"
            )
