"""CRLs as the lints see them: the top level walked once from DER; the revoked list,
which may be a gigabyte, walked lazily and once by `entries_scan`."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from certkeeper.lint.document.certificate import AuthorityKeyId, parse_aki
from certkeeper.lint.document.values import (
    CTX0_C,
    AlgId,
    Attribute,
    Extension,
    GeneralName,
    Malformed,
    TimeField,
    decode_bool,
    parse_alg,
    parse_extensions,
    parse_general_names,
    parse_name,
    parse_time,
    split_signed,
)
from certkeeper.lint.engine import DocType, Document
from certkeeper.lint.lazy import lazy
from certkeeper.x509.der import DerError, children, header
from certkeeper.x509.oids import OID_AKI, OID_CRL_NUMBER, OID_IDP

if TYPE_CHECKING:
    from cryptography import x509


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
            (ttag, tcs, tce), self.tbs_raw, self.sig_alg, _, self.signature = split_signed(d, "CRL")
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
