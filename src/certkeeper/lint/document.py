"""Documents as the lints see them: parsed once from DER, tolerant of bad encodings.

`cryptography` refuses many of the encodings the lints exist to catch (fractional
seconds, non-minimal INTEGERs, duplicate extensions, ...), so each document walks its own
DER once with a small, strict reader and keeps views of every field the lints read.
A problem that stops the walk becomes a structural finding, never an exception; only
input that is recognisably none of certificate / CRL / OCSP response raises InputError.

Field views are plain values computed in `__init__` or cached on first use, so the
forty-odd certificate lints never re-parse anything.
"""

from __future__ import annotations

import base64
import binascii
import functools
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any, NamedTuple

from certkeeper.errors import InputError
from certkeeper.lint.engine import CertType, DocType, Document
from certkeeper.lint.lazy import lazy
from certkeeper.x509.der import DerError, children, header, integer_is_minimal
from certkeeper.x509.der import decode_oid as _decode_oid_uncached
from certkeeper.x509.time import TimeEncodingError, decode_time

if TYPE_CHECKING:
    from cryptography import x509
    from cryptography.x509 import ocsp

# --- OIDs used across the lints ---------------------------------------------------------

OID_BASIC_CONSTRAINTS = "2.5.29.19"
OID_KEY_USAGE = "2.5.29.15"
OID_EKU = "2.5.29.37"
OID_SAN = "2.5.29.17"
OID_IAN = "2.5.29.18"
OID_SKI = "2.5.29.14"
OID_AKI = "2.5.29.35"
OID_CRLDP = "2.5.29.31"
OID_CERT_POLICIES = "2.5.29.32"
OID_NAME_CONSTRAINTS = "2.5.29.30"
OID_POLICY_CONSTRAINTS = "2.5.29.36"
OID_POLICY_MAPPINGS = "2.5.29.33"
OID_INHIBIT_ANY_POLICY = "2.5.29.54"
OID_AIA = "1.3.6.1.5.5.7.1.1"
OID_CT_POISON = "1.3.6.1.4.1.11129.2.4.3"
OID_SCT_LIST = "1.3.6.1.4.1.11129.2.4.2"
OID_OCSP_NOCHECK = "1.3.6.1.5.5.7.48.1.5"
OID_TLS_FEATURE = "1.3.6.1.5.5.7.1.24"
OID_CRL_NUMBER = "2.5.29.20"
OID_DELTA_CRL = "2.5.29.27"
OID_IDP = "2.5.29.28"
OID_FRESHEST_CRL = "2.5.29.46"
OID_REASON_CODE = "2.5.29.21"
OID_INVALIDITY_DATE = "2.5.29.24"
OID_CERTIFICATE_ISSUER = "2.5.29.29"
OID_OCSP_NONCE = "1.3.6.1.5.5.7.48.1.2"
OID_OCSP_BASIC = "1.3.6.1.5.5.7.48.1.1"

EKU_SERVER_AUTH = "1.3.6.1.5.5.7.3.1"
EKU_CLIENT_AUTH = "1.3.6.1.5.5.7.3.2"
EKU_CODE_SIGNING = "1.3.6.1.5.5.7.3.3"
EKU_EMAIL = "1.3.6.1.5.5.7.3.4"
EKU_TIME_STAMPING = "1.3.6.1.5.5.7.3.8"
EKU_OCSP_SIGNING = "1.3.6.1.5.5.7.3.9"
EKU_ANY = "2.5.29.37.0"
EKU_PRECERT_SIGNING = "1.3.6.1.4.1.11129.2.4.4"

AD_OCSP = "1.3.6.1.5.5.7.48.1"
AD_CA_ISSUERS = "1.3.6.1.5.5.7.48.2"

ATTR_CN = "2.5.4.3"
ATTR_SURNAME = "2.5.4.4"
ATTR_SERIAL_NUMBER = "2.5.4.5"
ATTR_C = "2.5.4.6"
ATTR_L = "2.5.4.7"
ATTR_ST = "2.5.4.8"
ATTR_STREET = "2.5.4.9"
ATTR_O = "2.5.4.10"
ATTR_OU = "2.5.4.11"
ATTR_GIVEN_NAME = "2.5.4.42"
ATTR_POSTAL_CODE = "2.5.4.17"
ATTR_BUSINESS_CATEGORY = "2.5.4.15"
ATTR_DC = "0.9.2342.19200300.100.1.25"
ATTR_EMAIL = "1.2.840.113549.1.9.1"
ATTR_JURIS_C = "1.3.6.1.4.1.311.60.2.1.3"
ATTR_JURIS_ST = "1.3.6.1.4.1.311.60.2.1.2"
ATTR_JURIS_L = "1.3.6.1.4.1.311.60.2.1.1"
ATTR_ORG_ID = "2.5.4.97"

ALG_RSA = "1.2.840.113549.1.1.1"
ALG_RSA_PSS = "1.2.840.113549.1.1.10"
ALG_EC = "1.2.840.10045.2.1"
ALG_ED25519 = "1.3.101.112"
ALG_ED448 = "1.3.101.113"
CURVE_P256 = "1.2.840.10045.3.1.7"
CURVE_P384 = "1.3.132.0.34"
CURVE_P521 = "1.3.132.0.35"

POLICY_DV = "2.23.140.1.2.1"
POLICY_OV = "2.23.140.1.2.2"
POLICY_IV = "2.23.140.1.2.3"
POLICY_EV = "2.23.140.1.1"
POLICY_ANY = "2.5.29.32.0"
RESERVED_POLICIES = frozenset({POLICY_DV, POLICY_OV, POLICY_IV, POLICY_EV})

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


# --- small value types ------------------------------------------------------------------


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


def _split_signed(d: bytes, what: str) -> tuple[tuple[int, int, int], bytes, AlgId, int, bytes]:
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


def parse_alg(data: bytes, h: tuple[int, int, int], what: str) -> AlgId:
    tag, cs, ce = h
    if tag != 0x30:
        raise DerError(f"{what}: AlgorithmIdentifier is not a SEQUENCE")
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
    return AlgId(oid, params, data[start_of(data, cs, ce) : ce])


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


def _cached_name(raw: bytes, data: bytes, cs: int, ce: int) -> list[list[Attribute]]:
    """Issuer names repeat across every certificate a CA signs: parse each once.

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


# --- certificates -----------------------------------------------------------------------


class CertificateDocument(Document):
    """An X.509 certificate or precertificate, walked once from its DER."""

    doc_type = DocType.CERTIFICATE

    def __init__(self, der: bytes, cert_type: CertType | None = None, name: str = "") -> None:
        self.der = bytes(der)
        self.name = name
        self._forced_type = cert_type
        self.structure_errors: list[str] = []
        self.memo: dict[str, Any] = {}  # per-document results lints share
        self.tbs_raw: bytes | None = None
        self.sig_alg: AlgId | None = None
        self.tbs_sig_alg: AlgId | None = None
        self.signature: bytes | None = None
        self.signature_unused_bits = 0
        self.version: int | None = None  # None: the field is absent (v1)
        self.version_default_encoded = False
        self.serial: bytes | None = None  # INTEGER content octets
        self.issuer_raw: bytes | None = None
        self.subject_raw: bytes | None = None
        self.issuer: list[list[Attribute]] = []
        self.subject: list[list[Attribute]] = []
        self.not_before: TimeField | None = None
        self.not_after: TimeField | None = None
        self.spki_raw: bytes | None = None
        self.spki_alg: AlgId | None = None
        self.public_key: bytes | None = None
        self.public_key_unused_bits = 0
        self.issuer_unique_id = False
        self.subject_unique_id = False
        self.extensions_present = False
        self.extensions: list[Extension] = []
        self.ext: dict[str, Extension] = {}
        self._parse()

    @classmethod
    def from_der(cls, der: bytes, cert_type: CertType | None = None) -> CertificateDocument:
        return cls(der, cert_type)

    def _parse(self) -> None:
        d = self.der
        try:
            (ttag, tcs, tce), self.tbs_raw, self.sig_alg, unused, self.signature = _split_signed(
                d, "certificate"
            )
            self.signature_unused_bits = unused
            if ttag != 0x30:
                raise DerError("tbsCertificate is not a SEQUENCE")
            self._parse_tbs(d, tcs, tce)
        except (DerError, Malformed) as exc:
            self.structure_errors.append(str(exc))
        except IndexError:
            self.structure_errors.append("truncated element")

    def _parse_tbs(self, d: bytes, cs: int, ce: int) -> None:
        parts = children(d, cs, ce)
        i = 0
        if parts and parts[0][0] == CTX0_C:
            _, vcs, vce = parts[0]
            vtag, ics, ice = header(d, vcs, vce)
            if vtag != 0x02:
                raise DerError("version is not an INTEGER")
            self.version = int.from_bytes(d[ics:ice], "big", signed=True)
            self.version_default_encoded = self.version == 0
            i = 1
        if len(parts) < i + 6:
            raise DerError("tbsCertificate has too few fields")
        stag, scs, sce = parts[i]
        if stag != 0x02:
            raise DerError("serialNumber is not an INTEGER")
        self.serial = d[scs:sce]
        self.tbs_sig_alg = parse_alg(d, parts[i + 1], "tbsCertificate.signature")
        itag, ics, ice = parts[i + 2]
        if itag != 0x30:
            raise DerError("issuer is not a SEQUENCE")
        self.issuer_raw = d[start_of(d, ics, ice) : ice]
        vtag, vcs, vce = parts[i + 3]
        if vtag != 0x30:
            raise DerError("validity is not a SEQUENCE")
        times = children(d, vcs, vce)
        if len(times) != 2:
            raise DerError("validity does not hold exactly two times")
        self.not_before = parse_time(d, times[0], "tbsCertificate.validity.notBefore")
        self.not_after = parse_time(d, times[1], "tbsCertificate.validity.notAfter")
        jtag, jcs, jce = parts[i + 4]
        if jtag != 0x30:
            raise DerError("subject is not a SEQUENCE")
        self.subject_raw = d[start_of(d, jcs, jce) : jce]
        ktag, kcs, kce = parts[i + 5]
        if ktag != 0x30:
            raise DerError("subjectPublicKeyInfo is not a SEQUENCE")
        self.spki_raw = d[start_of(d, kcs, kce) : kce]
        kparts = children(d, kcs, kce)
        if len(kparts) != 2 or kparts[1][0] != 0x03 or kparts[1][1] == kparts[1][2]:
            raise DerError("subjectPublicKeyInfo is not {algorithm, BIT STRING}")
        self.spki_alg = parse_alg(d, kparts[0], "subjectPublicKeyInfo.algorithm")
        self.public_key_unused_bits = d[kparts[1][1]]
        self.public_key = d[kparts[1][1] + 1 : kparts[1][2]]
        for tag, ecs, ece in parts[i + 6 :]:
            if tag in (0x81, 0xA1):
                self.issuer_unique_id = True
            elif tag in (0x82, 0xA2):
                self.subject_unique_id = True
            elif tag == CTX3_C:
                self.extensions_present = True
                xtag, xcs, xce = header(d, ecs, ece)
                if xtag != 0x30 or xce != ece:
                    raise DerError("extensions [3] does not hold one SEQUENCE")
                self.extensions, problems = parse_extensions(d, xcs, xce, "extensions")
                self.structure_errors.extend(problems)
                for ext in self.extensions:
                    self.ext.setdefault(ext.oid, ext)
            else:
                raise DerError(f"unexpected field with tag 0x{tag:02x} in tbsCertificate")
        # Names last: a bad name must not hide the fields after it.
        try:
            self.issuer = _cached_name(self.issuer_raw, d, ics, ice)
        except DerError as exc:
            self.structure_errors.append(f"issuer: {exc}")
        try:
            self.subject = parse_name(d, jcs, jce)
        except DerError as exc:
            self.structure_errors.append(f"subject: {exc}")

    # -- what the engine asks for ---------------------------------------------------------

    @lazy
    def detected_type(self) -> CertType:
        """root: self-issued CA; precertificate signing CA (a CA whose EKU holds the RFC
        6962 purpose); subordinate CA; precertificate (CT poison); OCSP
        responder (EKU id-kp-OCSPSigning); anything else is a subscriber certificate.

        An extension too malformed to decode counts as absent here: the type must be
        decidable for every input, and the extension lints report the malformation."""
        try:
            bc = self.basic_constraints
        except (DerError, Malformed):
            bc = None
        if bc is not None and bc.ca:
            if self.subject_raw is not None and self.subject_raw == self.issuer_raw:
                return CertType.ROOT
            try:
                ca_eku = self.eku
            except (DerError, Malformed):
                ca_eku = None
            if ca_eku is not None and EKU_PRECERT_SIGNING in ca_eku:
                return CertType.PRECERT_SIGNING_CA
            return CertType.SUBORDINATE_CA
        if OID_CT_POISON in self.ext:
            return CertType.PRECERTIFICATE
        try:
            eku = self.eku
        except (DerError, Malformed):
            eku = None
        if eku is not None and EKU_OCSP_SIGNING in eku:
            return CertType.OCSP_RESPONDER
        return CertType.SUBSCRIBER

    @property
    def cert_type(self) -> CertType:
        return self._forced_type if self._forced_type is not None else self.detected_type

    @property
    def reference_time(self) -> datetime | None:
        return self.not_before.value if self.not_before is not None else None

    @lazy
    def crypto(self) -> x509.Certificate | None:
        """The `cryptography` view, when it accepts the encoding."""
        from cryptography import x509

        try:
            return x509.load_der_x509_certificate(self.der)
        except Exception:
            return None

    # -- extension views (each parsed on first use) -------------------------------------

    def _ext_view(self, oid: str) -> tuple[bytes, int, int] | None:
        ext = self.ext.get(oid)
        if ext is None:
            return None
        v = ext.value
        tag, cs, ce = header(v, 0, len(v))
        if ce != len(v):
            raise Malformed(f"extension {oid} has {len(v) - ce} trailing octets")
        return v, tag, cs

    @lazy
    def ext_errors(self) -> dict[str, str]:
        """Extension OID -> why its value could not be decoded (forces every view)."""
        errors: dict[str, str] = {}
        for oid, attr in _EXT_VIEWS.items():
            if oid in self.ext:
                try:
                    getattr(self, attr)
                except (DerError, Malformed, ValueError) as exc:
                    errors[oid] = str(exc)
        return errors

    def safe(self, attr: str) -> Any:
        """An extension view, or None when it is absent or cannot be decoded."""
        try:
            return getattr(self, attr)
        except (DerError, Malformed, ValueError):
            return None

    @lazy
    def basic_constraints(self) -> BasicConstraints | None:
        got = self._ext_view(OID_BASIC_CONSTRAINTS)
        if got is None:
            return None
        v, tag, cs = got
        if tag != 0x30:
            raise Malformed("basicConstraints is not a SEQUENCE")
        ca = False
        ca_encoded_false = False
        pathlen: int | None = None
        for t, c, e in children(v, cs, len(v)):
            if t == 0x01:
                ca = decode_bool(v[c:e], "basicConstraints cA")
                ca_encoded_false = not ca
            elif t == 0x02:
                if not integer_is_minimal(v[c:e]):
                    raise Malformed("basicConstraints pathLenConstraint is not minimal DER")
                pathlen = int.from_bytes(v[c:e], "big", signed=True)
            else:
                raise Malformed(f"basicConstraints has an unexpected element 0x{t:02x}")
        return BasicConstraints(ca, pathlen, ca_encoded_false)

    @lazy
    def key_usage(self) -> KeyUsage | None:
        got = self._ext_view(OID_KEY_USAGE)
        if got is None:
            return None
        v, tag, cs = got
        if tag != 0x03 or len(v) <= cs:
            raise Malformed("keyUsage is not a BIT STRING")
        unused = v[cs]
        payload = v[cs + 1 :]
        bits: set[str] = set()
        for i, name in enumerate(KU_NAMES):
            byte = i // 8
            if byte < len(payload) and payload[byte] & (0x80 >> (i % 8)):
                bits.add(name)
        der_ok = True
        if unused > 7 or (not payload and unused):
            der_ok = False
        elif payload:
            last = payload[-1]
            if last & ((1 << unused) - 1):
                der_ok = False  # unused bits must be zero
            elif last == 0 or not (last >> unused) & 1:
                der_ok = False  # DER: no trailing zero bits in a named bit list
        return KeyUsage(frozenset(bits), der_ok, payload.hex())

    @lazy
    def eku(self) -> list[str] | None:
        got = self._ext_view(OID_EKU)
        if got is None:
            return None
        v, tag, cs = got
        if tag != 0x30:
            raise Malformed("extKeyUsage is not a SEQUENCE")
        out = []
        for t, c, e in children(v, cs, len(v)):
            if t != 0x06:
                raise Malformed("extKeyUsage holds a non-OID")
            out.append(decode_oid(v[c:e]))
        return out

    @lazy
    def san(self) -> list[GeneralName] | None:
        got = self._ext_view(OID_SAN)
        if got is None:
            return None
        v, tag, cs = got
        if tag != 0x30:
            raise Malformed("subjectAltName is not a SEQUENCE")
        return parse_general_names(v, cs, len(v))

    @lazy
    def aia(self) -> list[tuple[str, GeneralName]] | None:
        got = self._ext_view(OID_AIA)
        if got is None:
            return None
        v, tag, cs = got
        if tag != 0x30:
            raise Malformed("authorityInformationAccess is not a SEQUENCE")
        out = []
        for t, c, e in children(v, cs, len(v)):
            parts = children(v, c, e)
            if t != 0x30 or len(parts) != 2 or parts[0][0] != 0x06:
                raise Malformed("an AccessDescription is not {OID, GeneralName}")
            method = decode_oid(v[parts[0][1] : parts[0][2]])
            gt, gc, ge = parts[1]
            if gt & 0xC0 != 0x80:
                raise Malformed("an accessLocation is not a GeneralName")
            out.append((method, GeneralName(gt & 0x1F, v[gc:ge])))
        return out

    @lazy
    def crldp(self) -> list[DistributionPoint] | None:
        got = self._ext_view(OID_CRLDP)
        if got is None:
            return None
        v, tag, cs = got
        if tag != 0x30:
            raise Malformed("cRLDistributionPoints is not a SEQUENCE")
        return [parse_distribution_point(v, c, e) for _, c, e in children(v, cs, len(v))]

    @lazy
    def policies(self) -> list[PolicyInfo] | None:
        got = self._ext_view(OID_CERT_POLICIES)
        if got is None:
            return None
        v, tag, cs = got
        if tag != 0x30:
            raise Malformed("certificatePolicies is not a SEQUENCE")
        out = []
        for t, c, e in children(v, cs, len(v)):
            parts = children(v, c, e)
            if t != 0x30 or not parts or parts[0][0] != 0x06 or len(parts) > 2:
                raise Malformed("a PolicyInformation is not {OID, [qualifiers]}")
            oid = decode_oid(v[parts[0][1] : parts[0][2]])
            qualifiers: list[tuple[str, int, bytes]] = []
            if len(parts) == 2:
                for qt, qc, qe in children(v, parts[1][1], parts[1][2]):
                    qparts = children(v, qc, qe)
                    if qt != 0x30 or len(qparts) != 2 or qparts[0][0] != 0x06:
                        raise Malformed("a PolicyQualifierInfo is not {OID, qualifier}")
                    qoid = decode_oid(v[qparts[0][1] : qparts[0][2]])
                    qualifiers.append((qoid, qparts[1][0], v[qparts[1][1] : qparts[1][2]]))
            out.append(PolicyInfo(oid, tuple(qualifiers)))
        return out

    @lazy
    def aki(self) -> AuthorityKeyId | None:
        got = self._ext_view(OID_AKI)
        if got is None:
            return None
        v, tag, cs = got
        return parse_aki(v, tag, cs)

    @lazy
    def ski(self) -> bytes | None:
        got = self._ext_view(OID_SKI)
        if got is None:
            return None
        v, tag, cs = got
        if tag != 0x04:
            raise Malformed("subjectKeyIdentifier is not an OCTET STRING")
        return v[cs:]

    # -- key views ----------------------------------------------------------------------

    @lazy
    def rsa_key(self) -> tuple[int, int] | None:
        """(modulus, exponent) of an RSA key, parsed from the BIT STRING."""
        if self.spki_alg is None or self.spki_alg.oid != ALG_RSA or self.public_key is None:
            return None
        k = self.public_key
        tag, cs, ce = header(k, 0, len(k))
        if tag != 0x30 or ce != len(k):
            raise Malformed("RSAPublicKey is not a SEQUENCE")
        parts = children(k, cs, ce)
        if len(parts) != 2 or parts[0][0] != 0x02 or parts[1][0] != 0x02:
            raise Malformed("RSAPublicKey is not {modulus, publicExponent}")
        n = k[parts[0][1] : parts[0][2]]
        e = k[parts[1][1] : parts[1][2]]
        if not integer_is_minimal(n) or not integer_is_minimal(e):
            raise Malformed("RSAPublicKey integers are not minimal DER")
        return int.from_bytes(n, "big", signed=True), int.from_bytes(e, "big", signed=True)

    @lazy
    def ec_curve(self) -> str | None:
        alg = self.spki_alg
        if alg is None or alg.oid != ALG_EC or alg.params is None:
            return None
        p = alg.params
        if len(p) < 2 or p[0] != 0x06:
            return None
        _tag, cs, ce = header(p, 0, len(p))
        return decode_oid(p[cs:ce])

    # -- names --------------------------------------------------------------------------

    def subject_values(self, oid: str) -> list[Attribute]:
        return [a for rdn in self.subject for a in rdn if a.oid == oid]

    @lazy
    def dns_names(self) -> list[str]:
        san = self.safe("san") or []
        return [g.text for g in san if g.tag == GN_DNS]

    @lazy
    def ip_addresses(self) -> list[bytes]:
        san = self.safe("san") or []
        return [g.value for g in san if g.tag == GN_IP]

    @lazy
    def policy_oids(self) -> list[str]:
        return [p.oid for p in (self.safe("policies") or [])]


KU_NAMES = (
    "digital_signature",
    "content_commitment",
    "key_encipherment",
    "data_encipherment",
    "key_agreement",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)

_EXT_VIEWS = {
    OID_BASIC_CONSTRAINTS: "basic_constraints",
    OID_KEY_USAGE: "key_usage",
    OID_EKU: "eku",
    OID_SAN: "san",
    OID_AIA: "aia",
    OID_CRLDP: "crldp",
    OID_CERT_POLICIES: "policies",
    OID_AKI: "aki",
    OID_SKI: "ski",
}


@dataclass(frozen=True, slots=True)
class BasicConstraints:
    ca: bool
    path_length: int | None
    ca_encoded_false: bool


@dataclass(frozen=True, slots=True)
class KeyUsage:
    bits: frozenset[str]
    der_ok: bool
    hex: str


@dataclass(frozen=True, slots=True)
class PolicyInfo:
    oid: str
    qualifiers: tuple[tuple[str, int, bytes], ...]  # (qualifier OID, tag, content)


@dataclass(frozen=True, slots=True)
class AuthorityKeyId:
    key_id: bytes | None
    has_issuer: bool
    has_serial: bool


@dataclass(frozen=True, slots=True)
class DistributionPoint:
    full_name: tuple[GeneralName, ...] | None
    relative_name: bool
    reasons: bool
    crl_issuer: bool


def parse_aki(v: bytes, tag: int, cs: int) -> AuthorityKeyId:
    if tag != 0x30:
        raise Malformed("authorityKeyIdentifier is not a SEQUENCE")
    key_id = None
    has_issuer = has_serial = False
    for t, c, e in children(v, cs, len(v)):
        if t == 0x80:
            key_id = v[c:e]
        elif t == 0xA1:
            has_issuer = True
        elif t == 0x82:
            has_serial = True
        else:
            raise Malformed(f"authorityKeyIdentifier has an unexpected element 0x{t:02x}")
    return AuthorityKeyId(key_id, has_issuer, has_serial)


def parse_distribution_point(v: bytes, cs: int, ce: int) -> DistributionPoint:
    full: tuple[GeneralName, ...] | None = None
    relative = reasons = issuer = False
    for t, c, e in children(v, cs, ce):
        if t == 0xA0:
            nt, nc, ne = header(v, c, e)
            if nt == 0xA0:
                full = tuple(parse_general_names(v, nc, ne))
            elif nt == 0xA1:
                relative = True
            else:
                raise Malformed("distributionPoint name is neither fullName nor relative")
        elif t == 0x81:
            reasons = True
        elif t == 0xA2:
            issuer = True
        else:
            raise Malformed(f"a DistributionPoint has an unexpected element 0x{t:02x}")
    return DistributionPoint(full, relative, reasons, issuer)


# --- CRLs -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IssuingDistributionPoint:
    full_name: tuple[GeneralName, ...] | None
    relative_name: bool
    only_user: bool
    only_ca: bool
    only_some_reasons: bool
    indirect: bool
    only_attribute: bool
    defaults_encoded: bool  # a DEFAULT FALSE boolean written out


class CrlDocument(Document):
    """An X.509 CRL. The revoked list is walked lazily, once, by `entries_scan`."""

    doc_type = DocType.CRL

    def __init__(self, der: bytes, name: str = "") -> None:
        self.der = bytes(der)
        self.name = name
        self.structure_errors: list[str] = []
        self.memo: dict[str, Any] = {}  # per-document results lints share
        self.tbs_raw: bytes | None = None
        self.sig_alg: AlgId | None = None
        self.tbs_sig_alg: AlgId | None = None
        self.signature: bytes | None = None
        self.version: int | None = None
        self.issuer_raw: bytes | None = None
        self.issuer: list[list[Attribute]] = []
        self.this_update: TimeField | None = None
        self.next_update: TimeField | None = None
        self.revoked_span: tuple[int, int] | None = None  # content span in der
        self.revoked_empty_sequence = False
        self.extensions_present = False
        self.extensions: list[Extension] = []
        self.ext: dict[str, Extension] = {}
        self._parse()

    @classmethod
    def from_der(cls, der: bytes) -> CrlDocument:
        return cls(der)

    def _parse(self) -> None:
        d = self.der
        try:
            (ttag, tcs, tce), self.tbs_raw, self.sig_alg, _, self.signature = _split_signed(
                d, "CRL"
            )
            if ttag != 0x30:
                raise DerError("tbsCertList is not a SEQUENCE")
            self._parse_tbs(d, tcs, tce)
        except (DerError, Malformed) as exc:
            self.structure_errors.append(str(exc))
        except IndexError:
            self.structure_errors.append("truncated element")

    def _parse_tbs(self, d: bytes, cs: int, ce: int) -> None:
        # Walk the top level only: the revoked list may be a gigabyte.
        pos = cs
        h = header(d, pos, ce)
        if h[0] == 0x02:
            self.version = int.from_bytes(d[h[1] : h[2]], "big", signed=True)
            pos = h[2]
            h = header(d, pos, ce)
        self.tbs_sig_alg = parse_alg(d, h, "tbsCertList.signature")
        pos = h[2]
        itag, ics, ice = header(d, pos, ce)
        if itag != 0x30:
            raise DerError("issuer is not a SEQUENCE")
        self.issuer_raw = d[pos:ice]
        self.issuer = parse_name(d, ics, ice)
        pos = ice
        h = header(d, pos, ce)
        if h[0] not in (0x17, 0x18):
            raise DerError("thisUpdate is not a time")
        self.this_update = parse_time(d, h, "tbsCertList.thisUpdate")
        pos = h[2]
        while pos < ce:
            tag, c, e = header(d, pos, ce)
            if tag in (0x17, 0x18) and self.next_update is None and self.revoked_span is None:
                self.next_update = parse_time(d, (tag, c, e), "tbsCertList.nextUpdate")
            elif tag == 0x30 and self.revoked_span is None and not self.extensions_present:
                self.revoked_span = (c, e)
                self.revoked_empty_sequence = c == e
            elif tag == CTX0_C and not self.extensions_present:
                self.extensions_present = True
                xtag, xcs, xce = header(d, c, e)
                if xtag != 0x30 or xce != e:
                    raise DerError("crlExtensions [0] does not hold one SEQUENCE")
                self.extensions, problems = parse_extensions(d, xcs, xce, "crlExtensions")
                self.structure_errors.extend(problems)
                for ext in self.extensions:
                    self.ext.setdefault(ext.oid, ext)
            else:
                raise DerError(f"unexpected field with tag 0x{tag:02x} in tbsCertList")
            pos = e

    @property
    def reference_time(self) -> datetime | None:
        return self.this_update.value if self.this_update is not None else None

    @lazy
    def crypto(self) -> x509.CertificateRevocationList | None:
        from cryptography import x509

        try:
            return x509.load_der_x509_crl(self.der)
        except Exception:
            return None

    @lazy
    def crl_number(self) -> bytes | None:
        """The CRL number INTEGER's content octets."""
        ext = self.ext.get(OID_CRL_NUMBER)
        if ext is None:
            return None
        v = ext.value
        tag, cs, ce = header(v, 0, len(v))
        if tag != 0x02 or ce != len(v):
            raise Malformed("cRLNumber is not an INTEGER")
        return v[cs:ce]

    @lazy
    def aki(self) -> AuthorityKeyId | None:
        ext = self.ext.get(OID_AKI)
        if ext is None:
            return None
        v = ext.value
        tag, cs, _ce = header(v, 0, len(v))
        return parse_aki(v, tag, cs)

    @lazy
    def idp(self) -> IssuingDistributionPoint | None:
        ext = self.ext.get(OID_IDP)
        if ext is None:
            return None
        v = ext.value
        tag, cs, ce = header(v, 0, len(v))
        if tag != 0x30 or ce != len(v):
            raise Malformed("issuingDistributionPoint is not a SEQUENCE")
        full: tuple[GeneralName, ...] | None = None
        relative = False
        flags = {0x81: False, 0x82: False, 0x84: False, 0x85: False}
        some_reasons = False
        defaults = False
        for t, c, e in children(v, cs, ce):
            if t == 0xA0:
                nt, nc, ne = header(v, c, e)
                if nt == 0xA0:
                    full = tuple(parse_general_names(v, nc, ne))
                elif nt == 0xA1:
                    relative = True
                else:
                    raise Malformed("IDP distributionPoint is neither fullName nor relative")
            elif t in flags:
                value = decode_bool(v[c:e], "issuingDistributionPoint flag")
                flags[t] = value
                defaults = defaults or not value
            elif t == 0x83:
                some_reasons = True
            else:
                raise Malformed(f"issuingDistributionPoint has an unexpected element 0x{t:02x}")
        return IssuingDistributionPoint(
            full,
            relative,
            flags[0x81],
            flags[0x82],
            some_reasons,
            flags[0x84],
            flags[0x85],
            defaults,
        )

    @lazy
    def is_arl(self) -> bool:
        try:
            idp = self.idp
        except (DerError, Malformed):
            return False
        return idp is not None and idp.only_ca

    @lazy
    def entries_scan(self) -> CrlEntryScan:
        from certkeeper.lint.crl.entries import scan_entries

        return scan_entries(self)


class CrlEntryScan:
    """What one pass over the revoked list found; filled in by crl.entries.scan_entries."""

    def __init__(self) -> None:
        self.count = 0
        self.problems: dict[str, list[tuple[str, str]]] = {}
        self.totals: dict[str, int] = {}

    def add(self, key: str, location: str, message: str, cap: int = 20) -> None:
        """Record a problem; keep the first `cap` examples and count the rest."""
        self.totals[key] = self.totals.get(key, 0) + 1
        bucket = self.problems.setdefault(key, [])
        if len(bucket) < cap:
            bucket.append((location, message))

    def findings(self, key: str) -> list[tuple[str, str]]:
        found = list(self.problems.get(key, []))
        extra = self.totals.get(key, 0) - len(found)
        if extra > 0:
            found.append(("tbsCertList.revokedCertificates", f"... and {extra} more entries"))
        return found


# --- OCSP -------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SingleResponse:
    index: int
    hash_alg: AlgId
    issuer_name_hash: bytes
    issuer_key_hash: bytes
    serial: bytes
    status: str  # good | revoked | unknown
    status_tag: int
    revocation_time: TimeField | None
    revocation_reason: int | None
    revocation_reason_present: bool
    this_update: TimeField
    next_update: TimeField | None
    extensions: tuple[Extension, ...]


OCSP_STATUS_NAMES = {
    0: "successful",
    1: "malformedRequest",
    2: "internalError",
    3: "tryLater",
    5: "sigRequired",
    6: "unauthorized",
}


class OcspResponseDocument(Document):
    """An OCSP response (RFC 6960), walked once from its DER."""

    doc_type = DocType.OCSP_RESPONSE

    def __init__(self, der: bytes, name: str = "") -> None:
        self.der = bytes(der)
        self.name = name
        self.structure_errors: list[str] = []
        self.memo: dict[str, Any] = {}  # per-document results lints share
        self.response_status: int | None = None
        self.response_type: str | None = None
        self.basic_raw: bytes | None = None
        self.tbs_raw: bytes | None = None
        self.sig_alg: AlgId | None = None
        self.signature: bytes | None = None
        self.version: int | None = None
        self.responder_by_name: bytes | None = None  # the Name's full encoding
        self.responder_key_hash: bytes | None = None
        self.produced_at: TimeField | None = None
        self.responses: list[SingleResponse] = []
        self.extensions: list[Extension] = []
        self.certs: list[bytes] = []
        self._parse()

    @classmethod
    def from_der(cls, der: bytes) -> OcspResponseDocument:
        return cls(der)

    def _parse(self) -> None:
        d = self.der
        try:
            tag, cs, ce = header(d, 0, len(d))
            if tag != 0x30:
                raise DerError("an OCSPResponse is a SEQUENCE")
            if ce != len(d):
                raise DerError(f"{len(d) - ce} octets trail the OCSP response")
            parts = children(d, cs, ce)
            if not parts or parts[0][0] != 0x0A:
                raise DerError("responseStatus is not an ENUMERATED")
            self.response_status = int.from_bytes(d[parts[0][1] : parts[0][2]], "big")
            if len(parts) == 1:
                return
            rtag, rcs, rce = parts[1]
            if rtag != CTX0_C or len(parts) > 2:
                raise DerError("responseBytes is not [0] EXPLICIT")
            btag, bcs, bce = header(d, rcs, rce)
            bparts = children(d, bcs, bce)
            if btag != 0x30 or len(bparts) != 2 or bparts[0][0] != 0x06 or bparts[1][0] != 0x04:
                raise DerError("responseBytes is not {responseType, response}")
            self.response_type = decode_oid(d[bparts[0][1] : bparts[0][2]])
            if self.response_type != OID_OCSP_BASIC:
                return
            self.basic_raw = d[bparts[1][1] : bparts[1][2]]
            self._parse_basic(self.basic_raw)
        except (DerError, Malformed) as exc:
            self.structure_errors.append(str(exc))
        except IndexError:
            self.structure_errors.append("truncated element")

    def _parse_basic(self, b: bytes) -> None:
        tag, cs, ce = header(b, 0, len(b))
        if tag != 0x30 or ce != len(b):
            raise DerError("BasicOCSPResponse is not one SEQUENCE")
        parts = children(b, cs, ce)
        if len(parts) not in (3, 4):
            raise DerError(f"BasicOCSPResponse has {len(parts)} elements")
        (ttag, tcs, tce), alg_h, (stag, scs, sce) = parts[:3]
        self.tbs_raw = b[start_of(b, tcs, tce) : tce]
        self.sig_alg = parse_alg(b, alg_h, "signatureAlgorithm")
        if stag != 0x03 or sce == scs:
            raise DerError("signature is not a BIT STRING")
        self.signature = b[scs + 1 : sce]
        if len(parts) == 4:
            ctag, ccs, cce = parts[3]
            if ctag != CTX0_C:
                raise DerError("certs is not [0] EXPLICIT")
            seq_tag, qcs, qce = header(b, ccs, cce)
            if seq_tag != 0x30:
                raise DerError("certs is not a SEQUENCE OF Certificate")
            for _, c, e in children(b, qcs, qce):
                self.certs.append(b[start_of(b, c, e) : e])
        if ttag != 0x30:
            raise DerError("tbsResponseData is not a SEQUENCE")
        fields = children(b, tcs, tce)
        i = 0
        if fields and fields[0][0] == CTX0_C:
            _vt, vc, ve = header(b, fields[0][1], fields[0][2])
            self.version = int.from_bytes(b[vc:ve], "big", signed=True)
            i = 1
        if len(fields) < i + 3:
            raise DerError("tbsResponseData has too few fields")
        rtag, rcs, rce = fields[i]
        if rtag == CTX1_C:
            _nt, _nc, ne = header(b, rcs, rce)
            self.responder_by_name = b[rcs:ne]
        elif rtag == CTX2_C:
            kt, kc, ke = header(b, rcs, rce)
            if kt != 0x04:
                raise DerError("responderID byKey is not an OCTET STRING")
            self.responder_key_hash = b[kc:ke]
        else:
            raise DerError(f"responderID has unexpected tag 0x{rtag:02x}")
        self.produced_at = parse_time(b, fields[i + 1], "tbsResponseData.producedAt")
        stag2, scs2, sce2 = fields[i + 2]
        if stag2 != 0x30:
            raise DerError("responses is not a SEQUENCE")
        for n, (_, c, e) in enumerate(children(b, scs2, sce2)):
            self.responses.append(self._parse_single(b, n, c, e))
        for t, c, e in fields[i + 3 :]:
            if t != CTX1_C:
                raise DerError(f"unexpected field with tag 0x{t:02x} in tbsResponseData")
            _xt, xc, xe = header(b, c, e)
            self.extensions, problems = parse_extensions(b, xc, xe, "responseExtensions")
            self.structure_errors.extend(problems)

    def _parse_single(self, b: bytes, n: int, cs: int, ce: int) -> SingleResponse:
        where = f"responses[{n}]"
        parts = children(b, cs, ce)
        if len(parts) < 3:
            raise DerError(f"{where} has too few fields")
        ctag, ccs, cce = parts[0]
        cid = children(b, ccs, cce)
        if ctag != 0x30 or len(cid) != 4:
            raise DerError(f"{where}.certID is not {{hashAlgorithm, nameHash, keyHash, serial}}")
        hash_alg = parse_alg(b, cid[0], f"{where}.certID.hashAlgorithm")
        name_hash = b[cid[1][1] : cid[1][2]]
        key_hash = b[cid[2][1] : cid[2][2]]
        serial = b[cid[3][1] : cid[3][2]]
        st, sc, se = parts[1]
        revocation_time = None
        reason = None
        reason_present = False
        if st == 0x80:
            status = "good"
        elif st == 0xA1:
            status = "revoked"
            rparts = children(b, sc, se)
            if not rparts:
                raise DerError(f"{where}.certStatus revoked has no revocationTime")
            revocation_time = parse_time(b, rparts[0], f"{where}.certStatus.revocationTime")
            if len(rparts) > 1:
                reason_present = True
                et, ec, ee = header(b, rparts[1][1], rparts[1][2])
                if et != 0x0A:
                    raise DerError(f"{where} revocationReason is not an ENUMERATED")
                reason = int.from_bytes(b[ec:ee], "big", signed=True)
        elif st == 0x82:
            status = "unknown"
        else:
            raise DerError(f"{where}.certStatus has unexpected tag 0x{st:02x}")
        this_update = parse_time(b, parts[2], f"{where}.thisUpdate")
        next_update = None
        exts: list[Extension] = []
        for t, c, e in parts[3:]:
            if t == CTX0_C:
                inner = header(b, c, e)
                next_update = parse_time(b, inner, f"{where}.nextUpdate")
            elif t == CTX1_C:
                _xt, xc, xe = header(b, c, e)
                got, problems = parse_extensions(b, xc, xe, f"{where}.singleExtensions")
                exts = got
                self.structure_errors.extend(problems)
            else:
                raise DerError(f"{where} has an unexpected field 0x{t:02x}")
        return SingleResponse(
            n,
            hash_alg,
            name_hash,
            key_hash,
            serial,
            status,
            st,
            revocation_time,
            reason,
            reason_present,
            this_update,
            next_update,
            tuple(exts),
        )

    @property
    def reference_time(self) -> datetime | None:
        return self.produced_at.value if self.produced_at is not None else None

    @lazy
    def crypto(self) -> ocsp.OCSPResponse | None:
        from cryptography.x509 import ocsp

        try:
            return ocsp.load_der_ocsp_response(self.der)
        except Exception:
            return None

    @lazy
    def signer_docs(self) -> list[CertificateDocument]:
        return [_signer_document(bytes(c)) for c in self.certs]

    @property
    def all_times(self) -> list[TimeField]:
        times: list[TimeField] = []
        if self.produced_at is not None:
            times.append(self.produced_at)
        for r in self.responses:
            times.append(r.this_update)
            if r.next_update is not None:
                times.append(r.next_update)
            if r.revocation_time is not None:
                times.append(r.revocation_time)
        return times


# --- loading ----------------------------------------------------------------------------

_PEM_RE = re.compile(rb"-----BEGIN ([A-Z0-9 ]+)-----(.*?)-----END \1-----", re.DOTALL)
_PEM_TYPES = {
    b"CERTIFICATE": DocType.CERTIFICATE,
    b"X509 CERTIFICATE": DocType.CERTIFICATE,
    b"TRUSTED CERTIFICATE": DocType.CERTIFICATE,
    b"X509 CRL": DocType.CRL,
    b"OCSP RESPONSE": DocType.OCSP_RESPONSE,
}


def _lenient_header(der: bytes, pos: int, end: int) -> tuple[int, int, int] | None:
    """Like header(), but a length that runs past `end` is clipped: truncated files must
    still be recognised so their damage is reported as a finding."""
    if pos + 2 > end:
        return None
    first = der[pos + 1]
    if first < 0x80:
        cs, length = pos + 2, first
    else:
        count = first & 0x7F
        if count == 0 or count > 4 or pos + 2 + count > end:
            return None
        cs, length = pos + 2 + count, int.from_bytes(der[pos + 2 : pos + 2 + count], "big")
    return der[pos], cs, min(cs + length, end)


def _sniff(der: bytes) -> DocType | None:
    """Guess the document type from the shape of the outer SEQUENCE, tolerantly."""
    outer = _lenient_header(der, 0, len(der))
    if outer is None or outer[0] != 0x30:
        return None
    first = _lenient_header(der, outer[1], outer[2])
    if first is None:
        return None
    if first[0] == 0x0A:
        return DocType.OCSP_RESPONSE
    if first[0] != 0x30:
        return None
    inner = _lenient_header(der, first[1], first[2])
    if inner is None:
        return None
    # tbsCertificate starts with [0] version or the serial INTEGER followed by an
    # AlgorithmIdentifier; tbsCertList starts with INTEGER version 1 or the AlgId, then a
    # Name, then a time.
    if inner[0] == CTX0_C:
        return DocType.CERTIFICATE
    if inner[0] == 0x30:
        return DocType.CRL
    if inner[0] != 0x02:
        return None
    tags: list[int] = []
    pos = first[1]
    while pos < first[2] and len(tags) < 4:
        h = _lenient_header(der, pos, first[2])
        if h is None:
            break
        tags.append(h[0])
        pos = h[2]
    if len(tags) >= 4 and tags[1] == 0x30 and tags[2] == 0x30 and tags[3] in (0x17, 0x18):
        return DocType.CRL
    return DocType.CERTIFICATE


def _decode_text(data: bytes) -> tuple[bytes, DocType | None]:
    text = data.strip()
    match = _PEM_RE.search(text)
    if match:
        label = match.group(1)
        body = b"".join(match.group(2).split())
        try:
            der = base64.b64decode(body, validate=True)
        except (binascii.Error, ValueError):
            raise InputError(f"PEM block {label.decode()} does not hold valid base64") from None
        return der, _PEM_TYPES.get(label)
    if text.startswith(b"-----BEGIN"):
        raise InputError("PEM header without a matching END line")
    try:
        der = base64.b64decode(b"".join(text.split()), validate=True)
    except (binascii.Error, ValueError):
        raise InputError(
            "input is not a certificate, CRL or OCSP response (not DER, PEM or base64)"
        ) from None
    return der, None


def load_document(data: bytes, name: str = "") -> Document:
    """Detect PEM / DER / base64 and certificate / CRL / OCSP response; parse once.

    Raises InputError only when the input is none of these; a recognisable but malformed
    document comes back with its problems in `structure_errors`."""
    if not data:
        raise InputError(f"{name or 'input'} is empty")
    label_type: DocType | None = None
    der = bytes(data)
    if der[:1] != b"\x30":
        der, label_type = _decode_text(der)
    doc_type = label_type or _sniff(der)
    if doc_type is None:
        raise InputError(f"{name or 'input'} is not a certificate, CRL or OCSP response")
    doc: Document
    if doc_type is DocType.CERTIFICATE:
        doc = CertificateDocument(der, name=name)
    elif doc_type is DocType.CRL:
        doc = CrlDocument(der, name=name)
    else:
        doc = OcspResponseDocument(der, name=name)
    return doc


__all__ = [
    "AlgId",
    "Attribute",
    "CertificateDocument",
    "CrlDocument",
    "Extension",
    "GeneralName",
    "OcspResponseDocument",
    "TimeField",
    "load_document",
]


@functools.lru_cache(maxsize=64)
def _signer_document(der: bytes) -> CertificateDocument:
    """Responders embed the same certificate in every response: parse it once (it cost
    about a millisecond per response, the bulk of linting a pre-signed response)."""
    return CertificateDocument(der)
