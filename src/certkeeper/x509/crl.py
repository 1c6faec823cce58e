"""A fast, pure X.509 v2 CRL encoder (RFC 5280 5.1, BR 7.2).

`cryptography`'s CRL builder needs one Python object per revoked certificate and takes
about 14 s for a million entries (`add_revoked_certificate` is quadratic). A CA in the
middle of a mass revocation (seed 000) needs its CRLs in seconds, so here each entry is
encoded once to DER bytes, the entries of a shard are joined once, and the signer signs
the TBSCertList bytes. No database, no clock, no keys: values in, bytes out.

    entry = encode_entry(serial, revoked_at, reason)
    tbs = encode_tbs(issuer, [entry, ...], this_update, next_update, number,
                     signer.spec.algorithm_identifier(), idp_uri=url)
    crl_der = sign_crl(tbs, signer)
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Literal

from certkeeper.x509 import der
from certkeeper.x509.oids import OID_AKI, OID_CRL_NUMBER, OID_IDP, OID_REASON_CODE, OID_SKI
from certkeeper.x509.signer import KeySpec, Signer
from certkeeper.x509.time import encode_time

# RFC 5280 5.3.1 CRLReason values.
UNSPECIFIED = 0
KEY_COMPROMISE = 1
CA_COMPROMISE = 2
AFFILIATION_CHANGED = 3
SUPERSEDED = 4
CESSATION_OF_OPERATION = 5
CERTIFICATE_HOLD = 6
REMOVE_FROM_CRL = 8
PRIVILEGE_WITHDRAWN = 9
AA_COMPROMISE = 10

REASON_NAMES: dict[int, str] = {
    UNSPECIFIED: "unspecified",
    KEY_COMPROMISE: "keyCompromise",
    CA_COMPROMISE: "cACompromise",
    AFFILIATION_CHANGED: "affiliationChanged",
    SUPERSEDED: "superseded",
    CESSATION_OF_OPERATION: "cessationOfOperation",
    CERTIFICATE_HOLD: "certificateHold",
    REMOVE_FROM_CRL: "removeFromCRL",
    PRIVILEGE_WITHDRAWN: "privilegeWithdrawn",
    AA_COMPROMISE: "aACompromise",
}

# BR 7.2.2 "CRLReasons": what a subscriber certificate's entry may carry (unspecified is
# expressed by leaving reasonCode out). CA certificates may also be cACompromise.
SUBSCRIBER_REASONS = frozenset(
    {KEY_COMPROMISE, AFFILIATION_CHANGED, SUPERSEDED, CESSATION_OF_OPERATION, PRIVILEGE_WITHDRAWN}
)
CA_REASONS = SUBSCRIBER_REASONS | {CA_COMPROMISE}

# BR 7.2.2: cRLNumber is an INTEGER >= 0 and < 2**159.
MAX_CRL_NUMBER = 2**159 - 1

# What an IssuingDistributionPoint restricts the CRL to: subscriber ("user")
# certificates, CA certificates, or no restriction.
IdpScope = Literal["user", "ca", "all"]

_BOOL_TRUE = der.tlv(der.BOOLEAN, b"\xff")
_CRL_VERSION_2 = der.encode_integer(1)


class CrlEncodingError(ValueError):
    """A value cannot appear in a CRL we publish; the message says which and why."""


def reason_name(reason: int | None) -> str:
    if reason is None:
        return "unspecified"
    return REASON_NAMES.get(reason, f"reason {reason}")


def _reason_extensions(reason: int) -> bytes:
    """crlEntryExtensions holding one non-critical reasonCode (BR 7.2.2)."""
    ext = der.sequence(
        der.encode_oid(OID_REASON_CODE),
        der.tlv(der.OCTET_STRING, der.tlv(der.ENUMERATED, bytes([reason]))),
    )
    return der.sequence(ext)


# Every reason we may encode, pre-encoded: an entry is then three byte strings joined.
_REASON_EXT: dict[int | None, bytes] = {None: b"", UNSPECIFIED: b""}
_REASON_EXT.update({r: _reason_extensions(r) for r in CA_REASONS})


def check_reason(reason: int | None, *, ca_certificate: bool = False) -> None:
    """Refuse a reason BR 7.2.2 does not allow in an entry (certificateHold never)."""
    if reason is None or reason == UNSPECIFIED:
        return
    allowed = CA_REASONS if ca_certificate else SUBSCRIBER_REASONS
    if reason not in allowed:
        kind = "a CA certificate" if ca_certificate else "a subscriber certificate"
        raise CrlEncodingError(
            f"BR 7.2.2: CRLReason {reason_name(reason)} ({reason}) is not allowed for {kind}"
        )


def serial_content(serial: int | str) -> bytes:
    """The DER INTEGER content octets of a serial given as an int or as the inventory's
    lowercase hex; refuses what RFC 5280 4.1.2.2 does not allow."""
    value = int(serial, 16) if isinstance(serial, str) else serial
    if value <= 0:
        raise CrlEncodingError(f"serial {value:x} is not a positive INTEGER")
    octets = value.to_bytes((value.bit_length() + 8) >> 3, "big")
    if len(octets) > 21:
        # 20 octets of magnitude (plus one sign octet) is the ceiling.
        raise CrlEncodingError(f"serial {value:x} is longer than 20 octets")
    return octets


# Entry headers, SEQUENCE tag + length + INTEGER tag + length, indexed by
# [serial octets][tail octets]. An entry is at most 2+21+17+14 octets, so the short
# length form always fits and the whole table is a few hundred small byte strings.
_HEADS: tuple[tuple[bytes, ...], ...] = tuple(
    tuple(b"\x30" + bytes((2 + n + t,)) + b"\x02" + bytes((n,)) for t in range(32))
    for n in range(22)
)


def _fast_time(moment: datetime) -> bytes:
    """encode_time for the common case (aware UTC, before 2050) without strftime."""
    if moment.tzinfo is UTC and moment.year < 2050:
        return b"\x17\x0d%02d%02d%02d%02d%02d%02dZ" % (
            moment.year % 100,
            moment.month,
            moment.day,
            moment.hour,
            moment.minute,
            moment.second,
        )
    return encode_time(moment)


class EntryEncoder:
    """Encodes revokedCertificates elements, memoising everything after the serial.

    An entry is header + serial octets + (revocationDate, reasonCode). In a mass
    revocation thousands of entries share a second and a reason, so that tail is
    built once; an entry then costs one `bytes.fromhex` and one concatenation. The memo
    is bounded so a long-lived process cannot grow it without limit."""

    MAX_MEMO = 200_000

    def __init__(self) -> None:
        self._memo: dict[tuple[datetime, int | None], bytes] = {}

    def _tail(self, revoked_at: datetime, reason: int | None) -> bytes:
        ext = _REASON_EXT.get(reason)
        if ext is None:
            check_reason(reason, ca_certificate=True)
            raise CrlEncodingError(f"reason {reason} cannot be encoded")
        tail = _fast_time(revoked_at) + ext
        if len(self._memo) >= self.MAX_MEMO:
            self._memo.clear()
        self._memo[(revoked_at, reason)] = tail
        return tail

    def encode(self, serial: int | str, revoked_at: datetime, reason: int | None = None) -> bytes:
        tail = self._memo.get((revoked_at, reason)) or self._tail(revoked_at, reason)
        octets = serial_content(serial)
        return _HEADS[len(octets)][len(tail)] + octets + tail

    def encode_rows(self, rows: Iterable[tuple[str, datetime, int | None]]) -> list[bytes]:
        """Entries for (serial hex, revocation time, reason) rows as the store returns
        them. This is the hot loop: a million rows take well under a second."""
        out: list[bytes] = []
        append = out.append
        memo = self._memo
        heads = _HEADS
        fromhex = bytes.fromhex
        for serial, revoked_at, reason in rows:
            tail = memo.get((revoked_at, reason)) or self._tail(revoked_at, reason)
            if len(serial) & 1 or len(serial) > 40 or serial[0] > "7" or serial[0] == "0":
                octets = serial_content(serial)
            else:
                octets = fromhex(serial)  # even length, top bit clear: already DER content
            append(heads[len(octets)][len(tail)] + octets + tail)
        return out


_DEFAULT_ENCODER = EntryEncoder()


def encode_entry(serial: int | str, revoked_at: datetime, reason: int | None = None) -> bytes:
    """One revokedCertificates element: serial, revocationDate, and a non-critical
    reasonCode entry extension unless the reason is unspecified (BR 7.2.2 omits it)."""
    return _DEFAULT_ENCODER.encode(serial, revoked_at, reason)


def entry_size(serial_octets: int, revoked_at: datetime, reason: int | None) -> int:
    """The encoded length of an entry, without encoding it (capacity planning)."""
    time_len = 15 if revoked_at.astimezone(UTC).year < 2050 else 17
    return 4 + serial_octets + time_len + len(_REASON_EXT.get(reason, b""))


def serial_octets(serial_hex: str) -> int:
    """Content octets of the DER INTEGER for a serial stored as hex (sign octet included)."""
    return (int(serial_hex, 16).bit_length() + 8) >> 3


@dataclass(frozen=True, slots=True)
class CrlIssuer:
    """What a CRL takes from its issuer's certificate: the subject Name exactly as
    encoded there (byte-identical issuer, RFC 5280 5.1.2.3) and the key identifier
    for authorityKeyIdentifier (BR 7.1.2.11.1)."""

    name_der: bytes
    key_id: bytes

    @classmethod
    def from_certificate(cls, cert_der: bytes) -> CrlIssuer:
        tbs, _, _ = der.split_signed(cert_der)
        kids = tbs.children()
        offset = 1 if kids and kids[0].tag == 0xA0 else 0
        # serialNumber, signature, issuer, validity, subject, subjectPublicKeyInfo
        subject = kids[offset + 4]
        spki = kids[offset + 5]
        key_id = _ski_from_extensions(kids[offset + 6 :])
        if key_id is None:
            # RFC 5280 4.2.1.2 method (1): SHA-1 of the subjectPublicKey BIT STRING value.
            bits = spki.child(1).content[1:]
            key_id = hashlib.sha1(bits).digest()
        return cls(subject.raw, key_id)


def _ski_from_extensions(rest: Sequence[der.Tlv]) -> bytes | None:
    for field in rest:
        if field.tag != 0xA3:
            continue
        for ext in field.child(0).children():
            parts = ext.children()
            if der.decode_oid(parts[0].content) == OID_SKI:
                return der.read_tlv(parts[-1].content).content
    return None


def _extension(oid: str, value: bytes, critical: bool = False) -> bytes:
    crit = _BOOL_TRUE if critical else b""
    return der.sequence(der.encode_oid(oid), crit, der.tlv(der.OCTET_STRING, value))


def encode_idp(uri: str, *, scope: IdpScope = "user") -> bytes:
    """IssuingDistributionPoint value: distributionPoint fullName [uri] (BR 7.2.2.1),
    plus onlyContainsUserCerts for a shard of subscriber certificates or
    onlyContainsCACerts for a CRL of CA certificates (which makes it an ARL, so
    BR 4.9.7's twelve months apply to its nextUpdate instead of ten days)."""
    uri_bytes = uri.encode("ascii")
    full_name = der.tlv(0xA0, der.tlv(0x86, uri_bytes))  # fullName [0] { URI [6] }
    parts = [der.tlv(0xA0, full_name)]  # distributionPoint [0]
    if scope == "user":
        parts.append(der.tlv(0x81, b"\xff"))  # onlyContainsUserCerts [1] TRUE
    elif scope == "ca":
        parts.append(der.tlv(0x82, b"\xff"))  # onlyContainsCACerts [2] TRUE
    return der.sequence(*parts)


def crl_extensions(
    issuer: CrlIssuer, number: int, idp_uri: str | None, scope: IdpScope = "user"
) -> bytes:
    """crlExtensions [0]: AKI and cRLNumber non-critical; IDP critical when partitioned."""
    if not 0 <= number <= MAX_CRL_NUMBER:
        raise CrlEncodingError(f"BR 7.2.2: CRL number {number} is not in 0 .. 2**159-1")
    exts = [
        _extension(OID_AKI, der.sequence(der.tlv(0x80, issuer.key_id))),
        _extension(OID_CRL_NUMBER, der.encode_integer(number)),
    ]
    if idp_uri is not None:
        exts.append(_extension(OID_IDP, encode_idp(idp_uri, scope=scope), True))
    return der.tlv(0xA0, der.sequence(*exts))


def _check_window(this_update: datetime, next_update: datetime) -> None:
    for label, moment in (("thisUpdate", this_update), ("nextUpdate", next_update)):
        if moment.tzinfo is None:
            raise CrlEncodingError(f"{label} {moment.isoformat()} has no time zone")
    if next_update.astimezone(UTC) <= this_update.astimezone(UTC):
        raise CrlEncodingError(
            f"nextUpdate {next_update.isoformat()} is not after "
            f"thisUpdate {this_update.isoformat()}"
        )


def encode_tbs(
    issuer: CrlIssuer,
    entries: Sequence[bytes] | bytes,
    this_update: datetime,
    next_update: datetime,
    number: int,
    algorithm_identifier: bytes,
    *,
    idp_uri: str | None = None,
    scope: IdpScope = "user",
) -> bytes:
    """TBSCertList v2 from pre-encoded entries (a list, or already joined bytes).

    revokedCertificates is left out when there are no entries: RFC 5280 5.1.2.6 says
    it is absent, not an empty SEQUENCE."""
    _check_window(this_update, next_update)
    joined = entries if isinstance(entries, bytes) else b"".join(entries)
    revoked = der.tlv(der.SEQUENCE, joined) if joined else b""
    return der.sequence(
        _CRL_VERSION_2,
        algorithm_identifier,
        issuer.name_der,
        encode_time(this_update),
        encode_time(next_update),
        revoked,
        crl_extensions(issuer, number, idp_uri, scope),
    )


def sign_crl(tbs: bytes, signer: Signer) -> bytes:
    """CertificateList: the TBS, the signer's algorithm, and its signature over the TBS."""
    algorithm = signer.spec.algorithm_identifier()
    return der.assemble_signed(tbs, algorithm, signer.sign(tbs))


def max_signature_size(spec: KeySpec) -> int:
    """The longest signatureValue a key of `spec` produces (ECDSA's DER length varies)."""
    name = spec.name
    if spec.is_rsa:
        return int(name[4:]) // 8
    order_octets = {"ecdsa-p256": 32, "ecdsa-p384": 48}.get(name, 66)
    # SEQUENCE { INTEGER r, INTEGER s }, each with a possible sign octet.
    return len(der.sequence(*[der.tlv(der.INTEGER, b"\x01" * (order_octets + 1))] * 2))


@dataclass(frozen=True)
class CrlFraming:
    """A CRL's octets around its entries: enough to size it for any entries length
    from lengths alone. Every header whose length octets grow with the entries (the
    revokedCertificates SEQUENCE, the TBS, the CertificateList) is counted."""

    tbs_content: int  # TBS content octets without the revokedCertificates field
    tail: int  # signatureAlgorithm and signatureValue octets (the longest signature)

    def size(self, entries_length: int) -> int:
        content = self.tbs_content
        if entries_length:
            content += 1 + len(der.encode_length(entries_length)) + entries_length
        body = 1 + len(der.encode_length(content)) + content + self.tail
        return 1 + len(der.encode_length(body)) + body


def crl_framing(
    issuer: CrlIssuer,
    this_update: datetime,
    next_update: datetime,
    number: int,
    algorithm_identifier: bytes,
    signature_size: int,
    *,
    idp_uri: str | None = None,
    scope: IdpScope = "user",
) -> CrlFraming:
    """The framing of the CRL these fields make, from lengths alone (no million-entry
    join to find out what fits)."""
    base = encode_tbs(
        issuer,
        b"",
        this_update,
        next_update,
        number,
        algorithm_identifier,
        idp_uri=idp_uri,
        scope=scope,
    )
    bits = 1 + signature_size
    tail = len(algorithm_identifier) + 1 + len(der.encode_length(bits)) + bits
    return CrlFraming(len(der.parse_single(base).content), tail)


def build_crl(
    issuer: CrlIssuer,
    revoked: Iterable[tuple[int, datetime, int | None]],
    this_update: datetime,
    next_update: datetime,
    number: int,
    signer: Signer,
    *,
    idp_uri: str | None = None,
    scope: IdpScope = "user",
) -> bytes:
    """Convenience: encode (serial, revocation time, reason) triples and sign."""
    entries = [encode_entry(s, t, r) for s, t, r in revoked]
    tbs = encode_tbs(
        issuer,
        entries,
        this_update,
        next_update,
        number,
        signer.spec.algorithm_identifier(),
        idp_uri=idp_uri,
        scope=scope,
    )
    return sign_crl(tbs, signer)
