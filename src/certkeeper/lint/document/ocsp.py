"""OCSP responses (RFC 6960) as the lints see them, walked once from DER."""

from __future__ import annotations

import functools
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.values import (
    CTX0_C,
    CTX1_C,
    CTX2_C,
    AlgId,
    Extension,
    Malformed,
    TimeField,
    decode_oid,
    parse_alg,
    parse_extensions,
    parse_time,
    start_of,
)
from certkeeper.lint.engine import DocType, Document
from certkeeper.lint.lazy import lazy
from certkeeper.x509.der import DerError, children, header
from certkeeper.x509.oids import OID_OCSP_BASIC

if TYPE_CHECKING:
    from cryptography.x509 import ocsp


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


@functools.lru_cache(maxsize=64)
def _signer_document(der: bytes) -> CertificateDocument:
    """Responders embed the same certificate in every response: parse it once (it cost
    about a millisecond per response, the bulk of linting a pre-signed response)."""
    return CertificateDocument(der)
