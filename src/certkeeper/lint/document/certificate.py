"""Certificates as the lints see them: walked once from DER, each extension view
parsed on first use, so the certificate lints never re-parse anything."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

from certkeeper.lint.document.values import (
    CTX0_C,
    CTX3_C,
    GN_DNS,
    GN_IP,
    AlgId,
    Attribute,
    Extension,
    GeneralName,
    Malformed,
    TimeField,
    cached_name,
    decode_bool,
    decode_oid,
    parse_alg,
    parse_extensions,
    parse_general_names,
    parse_time,
    split_signed,
    start_of,
)
from certkeeper.lint.engine import CertType, DocType, Document
from certkeeper.lint.lazy import lazy
from certkeeper.x509.der import DerError, children, header, integer_is_minimal
from certkeeper.x509.oids import (
    ALG_EC,
    ALG_RSA,
    ATTR_CN,
    EKU_OCSP_SIGNING,
    EKU_PRECERT_SIGNING,
    OID_AIA,
    OID_AKI,
    OID_BASIC_CONSTRAINTS,
    OID_CERT_POLICIES,
    OID_CRLDP,
    OID_CT_POISON,
    OID_EKU,
    OID_KEY_USAGE,
    OID_SAN,
    OID_SKI,
)

if TYPE_CHECKING:
    from cryptography import x509


T = TypeVar("T")

# Decoded extension values by OID and encoding. A CA's certificates repeat most of their
# extensions byte for byte (one issuer's AKI, AIA and policies, one profile's keyUsage,
# extKeyUsage and basicConstraints), so each encoding is decoded once; decoding them
# afresh was a fifth of linting a certificate (benchmarks/lint_corpora.py).
_VIEW_CACHE_SIZE = 2048
_VIEWS: dict[str, dict[bytes, Any]] = {}


def ext_view(oid: str) -> Callable[[Callable[[bytes, int, int], T]], lazy[T | None]]:
    """A lazy view of extension `oid`: None when absent, else `parse(value, tag, content
    start)`, which raises Malformed or DerError on a bad encoding. Results are shared
    between documents with the same encoding: treat them as read-only."""

    def wrap(parse: Callable[[bytes, int, int], T]) -> lazy[T | None]:
        cache: dict[bytes, Any] = _VIEWS.setdefault(oid, {})

        def view(doc: CertificateDocument) -> T | None:
            ext = doc.ext.get(oid)
            if ext is None:
                return None
            v = ext.value
            got = cache.get(v)
            if got is None:
                tag, cs, ce = header(v, 0, len(v))
                if ce != len(v):
                    raise Malformed(f"extension {oid} has {len(v) - ce} trailing octets")
                got = parse(v, tag, cs)
                if len(cache) < _VIEW_CACHE_SIZE:
                    cache[v] = got
            return got

        view.__name__ = parse.__name__
        view.__doc__ = parse.__doc__
        return lazy(view)

    return wrap


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
            (ttag, tcs, tce), self.tbs_raw, self.sig_alg, unused, self.signature = split_signed(
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
            self.issuer = cached_name(self.issuer_raw, d, ics, ice)
        except DerError as exc:
            self.structure_errors.append(f"issuer: {exc}")
        try:
            self.subject = cached_name(self.subject_raw, d, jcs, jce)
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

    @ext_view(OID_BASIC_CONSTRAINTS)
    def basic_constraints(v: bytes, tag: int, cs: int) -> BasicConstraints:
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

    @ext_view(OID_KEY_USAGE)
    def key_usage(v: bytes, tag: int, cs: int) -> KeyUsage:
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

    @ext_view(OID_EKU)
    def eku(v: bytes, tag: int, cs: int) -> list[str]:
        if tag != 0x30:
            raise Malformed("extKeyUsage is not a SEQUENCE")
        out = []
        for t, c, e in children(v, cs, len(v)):
            if t != 0x06:
                raise Malformed("extKeyUsage holds a non-OID")
            out.append(decode_oid(v[c:e]))
        return out

    @ext_view(OID_SAN)
    def san(v: bytes, tag: int, cs: int) -> list[GeneralName]:
        if tag != 0x30:
            raise Malformed("subjectAltName is not a SEQUENCE")
        return parse_general_names(v, cs, len(v))

    @ext_view(OID_AIA)
    def aia(v: bytes, tag: int, cs: int) -> list[tuple[str, GeneralName]]:
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

    @ext_view(OID_CRLDP)
    def crldp(v: bytes, tag: int, cs: int) -> list[DistributionPoint]:
        if tag != 0x30:
            raise Malformed("cRLDistributionPoints is not a SEQUENCE")
        return [parse_distribution_point(v, c, e) for _, c, e in children(v, cs, len(v))]

    @ext_view(OID_CERT_POLICIES)
    def policies(v: bytes, tag: int, cs: int) -> list[PolicyInfo]:
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

    @ext_view(OID_AKI)
    def aki(v: bytes, tag: int, cs: int) -> AuthorityKeyId:
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
        """The subject's attributes of one type, in order (shared: do not modify)."""
        return self.subject_by_type.get(oid, _NO_ATTRIBUTES)

    @lazy
    def subject_attrs(self) -> list[Attribute]:
        """Every subject attribute, in order, RDNs flattened."""
        return [a for rdn in self.subject for a in rdn]

    @lazy
    def subject_by_type(self) -> dict[str, list[Attribute]]:
        """Attribute type -> the subject's values of it, built once: a dozen lints ask
        by type, and a scan per question was a measurable part of linting a certificate
        (benchmarks/lint_corpora.py)."""
        out: dict[str, list[Attribute]] = {}
        for rdn in self.subject:
            for a in rdn:
                got = out.get(a.oid)
                if got is None:
                    out[a.oid] = [a]
                else:
                    got.append(a)
        return out

    @lazy
    def cn_texts(self) -> list[str]:
        """Each subject commonName as text (BMPString as UTF-16, else UTF-8, and Latin-1
        when that fails)."""
        out = []
        for a in self.subject_values(ATTR_CN):
            try:
                out.append(a.value.decode("utf-16-be" if a.tag == 0x1E else "utf-8"))
            except UnicodeDecodeError:
                out.append(a.value.decode("latin-1"))
        return out

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


_NO_ATTRIBUTES: list[Attribute] = []

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
