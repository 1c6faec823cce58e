"""Builders for lint tests: a small PKI, compliant documents, and DER surgery.

Compliant documents come from `cryptography`; defects `cryptography` will not write
(fractional seconds, duplicate extensions, DEFAULT values encoded, ...) are made by
editing the DER tree of a compliant document and re-signing it with the issuer key.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from functools import cache
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import AuthorityInformationAccessOID, ExtendedKeyUsageOID, NameOID

from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import KU_NAMES, CertificateDocument
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.ocsp import OcspResponseDocument
from certkeeper.lint.engine import CertType, Finding
from certkeeper.x509 import der
from certkeeper.x509.der import encode_integer, encode_oid, sequence, tlv

T0 = dt.datetime(2025, 6, 1, 12, 0, 0, tzinfo=dt.UTC)
DER = serialization.Encoding.DER


# --- keys and CA --------------------------------------------------------------------------


@cache
def ec_key(curve: str = "p256", n: int = 0) -> ec.EllipticCurvePrivateKey:
    curves = {
        "p256": ec.SECP256R1(),
        "p384": ec.SECP384R1(),
        "p521": ec.SECP521R1(),
        "k256": ec.SECP256K1(),
    }
    return ec.generate_private_key(curves[curve])


@cache
def rsa_key(bits: int = 2048, exponent: int = 65537) -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(exponent, bits)


def name(cn: str, org: str | None = "Example Trust") -> x509.Name:
    attrs = [x509.NameAttribute(NameOID.COUNTRY_NAME, "US")]
    if org:
        attrs.append(x509.NameAttribute(NameOID.ORGANIZATION_NAME, org))
    attrs.append(x509.NameAttribute(NameOID.COMMON_NAME, cn))
    return x509.Name(attrs)


@dataclass
class Ca:
    key: Any
    cert: x509.Certificate

    @property
    def der(self) -> bytes:
        return self.cert.public_bytes(DER)


@cache
def root() -> Ca:
    key = ec_key("p384", 1)
    subject = name("Example Root R1")
    cert = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(0x5A17_0000_0000_0000_0001)
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2044, 1, 1, tzinfo=dt.UTC) - dt.timedelta(seconds=1))
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .add_extension(
            x509.KeyUsage(False, False, False, False, False, True, True, False, False),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA384())
    )
    return Ca(key, cert)


@cache
def issuing_ca(kind: str = "ec") -> Ca:
    key: Any = ec_key("p256", 2) if kind == "ec" else rsa_key(2048)
    r = root()
    cert = (
        x509.CertificateBuilder()
        .subject_name(name(f"Example Issuing {kind.upper()} CA"))
        .issuer_name(r.cert.subject)
        .public_key(key.public_key())
        .serial_number(0x7E57_0000_0000_0000_0002 + (kind == "rsa"))
        .not_valid_before(dt.datetime(2024, 1, 1, tzinfo=dt.UTC))
        .not_valid_after(dt.datetime(2030, 1, 1, tzinfo=dt.UTC))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, True, True, False, False), critical=True
        )
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(r.key.public_key()), critical=False
        )
        .add_extension(
            x509.CertificatePolicies(
                [x509.PolicyInformation(x509.ObjectIdentifier("2.23.140.1.2.1"), None)]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityInformationAccess(
                [
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.CA_ISSUERS,
                        x509.UniformResourceIdentifier("http://r1.example.com/r1.der"),
                    )
                ]
            ),
            critical=False,
        )
        .add_extension(
            x509.CRLDistributionPoints(
                [
                    x509.DistributionPoint(
                        [x509.UniformResourceIdentifier("http://r1.example.com/r1.crl")],
                        None,
                        None,
                        None,
                    )
                ]
            ),
            critical=False,
        )
        .sign(r.key, hashes.SHA384())
    )
    return Ca(key, cert)


# --- certificates -------------------------------------------------------------------------


def key_usage(*bits: str) -> x509.KeyUsage:
    return x509.KeyUsage(**{f: f in bits for f in KU_NAMES})


@dataclass
class LeafSpec:
    """A compliant DV subscriber certificate; change fields to make it defective."""

    names: Sequence[str] = ("www.example.com", "example.com")
    ips: Sequence[str] = ()
    subject: x509.Name | None = None
    key: Any = None
    issuer: Ca | None = None
    not_before: dt.datetime = T0
    days: float = 90
    serial: int = 0x3F1E_2D3C_4B5A_6978_8796_A5B4_C3D2_E1F0
    ku: x509.KeyUsage | None = field(default_factory=lambda: key_usage("digital_signature"))
    ku_critical: bool = True
    eku: Sequence[x509.ObjectIdentifier] | None = (ExtendedKeyUsageOID.SERVER_AUTH,)
    policies: Sequence[str] | None = ("2.23.140.1.2.1",)
    bc: x509.BasicConstraints | None = field(
        default_factory=lambda: x509.BasicConstraints(False, None)
    )
    bc_critical: bool = True
    aia: bool = True
    ocsp_url: str | None = None
    crl_url: str | None = "http://crl.example.com/1.crl"
    aki: bool = True
    ski: bool = False
    san_critical: bool | None = None
    poison: bool = False
    extra: Sequence[tuple[x509.ExtensionType, bool]] = ()
    hash_alg: Any = field(default_factory=hashes.SHA256)

    def build(self) -> bytes:
        ca = self.issuer or issuing_ca("ec")
        key = self.key or ec_key("p256", 10)
        subject = self.subject if self.subject is not None else x509.Name([])
        b = (
            x509.CertificateBuilder()
            .subject_name(subject)
            .issuer_name(ca.cert.subject)
            .public_key(key.public_key())
            .serial_number(self.serial)
            .not_valid_before(self.not_before)
            .not_valid_after(
                self.not_before + dt.timedelta(days=self.days) - dt.timedelta(seconds=1)
            )
        )
        gns: list[x509.GeneralName] = [x509.DNSName(n) for n in self.names]
        import ipaddress

        gns += [x509.IPAddress(ipaddress.ip_address(i)) for i in self.ips]
        if gns:
            crit = self.san_critical if self.san_critical is not None else len(subject) == 0
            b = b.add_extension(x509.SubjectAlternativeName(gns), critical=crit)
        if self.bc is not None:
            b = b.add_extension(self.bc, critical=self.bc_critical)
        if self.ku is not None:
            b = b.add_extension(self.ku, critical=self.ku_critical)
        if self.eku is not None:
            b = b.add_extension(x509.ExtendedKeyUsage(list(self.eku)), critical=False)
        if self.aki:
            b = b.add_extension(
                x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()),
                critical=False,
            )
        if self.ski:
            b = b.add_extension(
                x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False
            )
        if self.policies is not None:
            b = b.add_extension(
                x509.CertificatePolicies(
                    [x509.PolicyInformation(x509.ObjectIdentifier(p), None) for p in self.policies]
                ),
                critical=False,
            )
        if self.aia:
            descs = [
                x509.AccessDescription(
                    AuthorityInformationAccessOID.CA_ISSUERS,
                    x509.UniformResourceIdentifier("http://ca.example.com/ca.der"),
                )
            ]
            if self.ocsp_url:
                descs.append(
                    x509.AccessDescription(
                        AuthorityInformationAccessOID.OCSP,
                        x509.UniformResourceIdentifier(self.ocsp_url),
                    )
                )
            b = b.add_extension(x509.AuthorityInformationAccess(descs), critical=False)
        if self.crl_url:
            b = b.add_extension(
                x509.CRLDistributionPoints(
                    [
                        x509.DistributionPoint(
                            [x509.UniformResourceIdentifier(self.crl_url)], None, None, None
                        )
                    ]
                ),
                critical=False,
            )
        if self.poison:
            b = b.add_extension(x509.PrecertPoison(), critical=True)
        for ext, crit in self.extra:
            b = b.add_extension(ext, critical=crit)
        return b.sign(ca.key, self.hash_alg).public_bytes(DER)


def leaf(**kw: Any) -> bytes:
    return LeafSpec(**kw).build()


def ocsp_responder_cert(**kw: Any) -> bytes:
    ca = issuing_ca("ec")
    key = kw.pop("key", ec_key("p256", 20))
    b = (
        x509.CertificateBuilder()
        .subject_name(name("Example OCSP Responder"))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(0x4D3C_2B1A_0918_2736_4554_6372)
        .not_valid_before(T0)
        .not_valid_after(T0 + dt.timedelta(days=60))
        .add_extension(
            x509.KeyUsage(True, False, False, False, False, False, False, False, False),
            critical=True,
        )
        .add_extension(
            x509.ExtendedKeyUsage(kw.pop("eku", [ExtendedKeyUsageOID.OCSP_SIGNING])), critical=False
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if kw.pop("nocheck", True):
        b = b.add_extension(x509.OCSPNoCheck(), critical=False)
    for ext, crit in kw.pop("extra", ()):
        b = b.add_extension(ext, critical=crit)
    return b.sign(ca.key, hashes.SHA256()).public_bytes(DER)


# --- a DER tree for surgery ---------------------------------------------------------------


@dataclass
class Node:
    tag: int
    content: bytes = b""
    kids: list[Node] | None = None

    def encode(self) -> bytes:
        if self.kids is not None:
            return tlv(self.tag, b"".join(k.encode() for k in self.kids))
        return tlv(self.tag, self.content)

    def __getitem__(self, i: int) -> Node:
        assert self.kids is not None
        return self.kids[i]


_CONSTRUCTED_PRIMITIVE_WRAPPERS = {0x04}  # OCTET STRINGs that hold DER we may want to edit


def parse(data: bytes, deep_octets: bool = False) -> Node:
    t = der.parse_single(data)
    return _node(t, deep_octets)


def _node(t: der.Tlv, deep: bool) -> Node:
    if t.constructed:
        return Node(t.tag, kids=[_node(k, deep) for k in t.children()])
    return Node(t.tag, t.content)


def tbs_of(cert_der: bytes) -> Node:
    return parse(cert_der)[0]


def extension(tbs: Node, oid: str) -> Node:
    """The Extension SEQUENCE for `oid` inside a TBSCertificate tree."""
    exts = next(k for k in tbs.kids or [] if k.tag == 0xA3)[0]
    want = encode_oid(oid)
    for e in exts.kids or []:
        if e[0].encode() == want:
            return e
    raise KeyError(oid)


def extensions_seq(tbs: Node) -> Node:
    return next(k for k in tbs.kids or [] if k.tag == 0xA3)[0]


def sign_with(key: Any, data: bytes) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        h = {256: hashes.SHA256(), 384: hashes.SHA384(), 521: hashes.SHA512()}[key.curve.key_size]
        return key.sign(data, ec.ECDSA(h))
    from cryptography.hazmat.primitives.asymmetric import padding

    return key.sign(data, padding.PKCS1v15(), hashes.SHA256())


def alg_for(key: Any) -> bytes:
    if isinstance(key, ec.EllipticCurvePrivateKey):
        oid = {256: "1.2.840.10045.4.3.2", 384: "1.2.840.10045.4.3.3", 521: "1.2.840.10045.4.3.4"}[
            key.curve.key_size
        ]
        return sequence(encode_oid(oid))
    return sequence(encode_oid("1.2.840.113549.1.1.11"), tlv(0x05, b""))


def resign(
    cert_der: bytes, edit: Callable[[Node], None], key: Any = None, outer_alg: bytes | None = None
) -> bytes:
    """Edit the TBS tree of a certificate (or CRL), then sign it again with the issuer key."""
    top = parse(cert_der)
    tbs = top[0]
    edit(tbs)
    tbs_der = tbs.encode()
    key = key or issuing_ca("ec").key
    alg = outer_alg if outer_alg is not None else top[1].encode()
    return der.assemble_signed(tbs_der, alg, sign_with(key, tbs_der))


def time_node(text: str, tag: int = 0x17) -> Node:
    return Node(tag, text.encode())


def ext_node(oid: str, value: bytes, critical: bool | None = None) -> Node:
    kids = [Node(0x06, encode_oid(oid)[2:])]
    if critical is not None:
        kids.append(Node(0x01, b"\xff" if critical else b"\x00"))
    kids.append(Node(0x04, value))
    return Node(0x30, kids=kids)


# --- CRLs ---------------------------------------------------------------------------------


def utc(moment: dt.datetime) -> bytes:
    return tlv(0x17, moment.strftime("%y%m%d%H%M%SZ").encode())


def gen(text: str) -> bytes:
    return tlv(0x18, text.encode())


def ext(oid: str, value: bytes, critical: bool = False) -> bytes:
    parts = encode_oid(oid)
    if critical:
        parts += tlv(0x01, b"\xff")
    return sequence(parts, tlv(0x04, value))


def reason_ext(code: int, critical: bool = False) -> bytes:
    return ext("2.5.29.21", tlv(0x0A, bytes([code])), critical)


def crl_entry(serial: int, when: bytes | None = None, exts: Sequence[bytes] = ()) -> bytes:
    body = encode_integer(serial) + (when or utc(T0 - dt.timedelta(days=1)))
    if exts:
        body += sequence(*exts)
    return sequence(body)


def aki_ext(ca: Ca) -> bytes:
    ski = x509.SubjectKeyIdentifier.from_public_key(ca.key.public_key()).digest
    return ext("2.5.29.35", sequence(tlv(0x80, ski)))


def make_crl(
    entries: Sequence[bytes] | None = (),
    this_update: bytes | None = None,
    next_update: bytes | bool | None = True,
    extensions: Sequence[bytes] | None = None,
    version: bytes | None = encode_integer(1),
    ca: Ca | None = None,
    number: int = 42,
    empty_revoked: bool = False,
    outer_alg: bytes | None = None,
) -> bytes:
    """A CRL assembled by hand from pre-encoded parts, signed with the CA's key."""
    ca = ca or issuing_ca("ec")
    tu = this_update or utc(T0)
    if next_update is True:
        nu: bytes = utc(T0 + dt.timedelta(days=7))
    elif next_update is None or next_update is False:
        nu = b""
    else:
        nu = next_update
    if extensions is None:
        extensions = [aki_ext(ca), ext("2.5.29.20", encode_integer(number))]
    alg = alg_for(ca.key)
    revoked = b""
    if entries:
        revoked = sequence(*entries)
    elif empty_revoked:
        revoked = sequence()
    ext_part = tlv(0xA0, sequence(*extensions)) if extensions else b""
    tbs = sequence((version or b""), alg, ca.cert.subject.public_bytes(), tu, nu, revoked, ext_part)
    return der.assemble_signed(tbs, outer_alg or alg, sign_with(ca.key, tbs))


def idp_ext(
    url: str = "http://crl.example.com/1.crl", critical: bool = True, only_user: bool = True
) -> bytes:
    gn = tlv(0x86, url.encode())
    body = tlv(0xA0, tlv(0xA0, gn))
    if only_user:
        body += tlv(0x81, b"\xff")
    return ext("2.5.29.28", sequence(body), critical)


# --- OCSP ---------------------------------------------------------------------------------


def cert_id(
    serial: int = 0x1234_5678_9ABC_DEF0_1122, ca: Ca | None = None, hash_oid: str = "1.3.14.3.2.26"
) -> bytes:
    import hashlib

    ca = ca or issuing_ca("ec")
    doc = CertificateDocument(ca.der)
    hname = {
        "1.3.14.3.2.26": "sha1",
        "2.16.840.1.101.3.4.2.1": "sha256",
        "1.2.840.113549.2.5": "md5",
    }[hash_oid]
    assert doc.subject_raw is not None and doc.public_key is not None
    return sequence(
        sequence(encode_oid(hash_oid), tlv(0x05, b"")),
        tlv(0x04, hashlib.new(hname, doc.subject_raw).digest()),
        tlv(0x04, hashlib.new(hname, doc.public_key).digest()),
        encode_integer(serial),
    )


GOOD = tlv(0x80, b"")


def revoked(when: bytes, reason: int | None = None) -> bytes:
    body = when
    if reason is not None:
        body += tlv(0xA0, tlv(0x0A, bytes([reason])))
    return tlv(0xA1, body)


def single(
    status: bytes = GOOD,
    this_update: bytes | None = None,
    next_update: bytes | bool | None = True,
    cid: bytes | None = None,
    exts: Sequence[bytes] = (),
) -> bytes:
    tu = this_update or gen("20250601120000Z")
    body = (cid or cert_id()) + status + tu
    if next_update is True:
        body += tlv(0xA0, gen("20250605120000Z"))
    elif next_update:
        body += tlv(0xA0, next_update)
    if exts:
        body += tlv(0xA1, sequence(*exts))
    return sequence(body)


def key_hash(cert_der: bytes) -> bytes:
    import hashlib

    doc = CertificateDocument(cert_der)
    assert doc.public_key is not None
    return hashlib.sha1(doc.public_key).digest()


def make_ocsp(
    responses: Sequence[bytes] | None = None,
    produced_at: bytes | None = None,
    signer_key: Any = None,
    signer_cert: bytes | None = None,
    responder_id: bytes | None = None,
    version: bytes = b"",
    status: int = 0,
    response_type: str = "1.3.6.1.5.5.7.48.1.1",
    alg: bytes | None = None,
    response_exts: Sequence[bytes] = (),
) -> bytes:
    """An OCSP response assembled by hand; signed by the CA unless a responder is given."""
    if status != 0:
        return sequence(tlv(0x0A, bytes([status])))
    ca = issuing_ca("ec")
    key = signer_key or ca.key
    signer_der = signer_cert or ca.der
    rid = responder_id or tlv(0xA2, tlv(0x04, key_hash(signer_der)))
    body = (
        version
        + rid
        + (produced_at or gen("20250601120000Z"))
        + sequence(*(responses if responses is not None else [single()]))
    )
    if response_exts:
        body += tlv(0xA1, sequence(*response_exts))
    tbs = sequence(body)
    alg_der = alg or alg_for(key)
    basic_parts = [tbs, alg_der, der.encode_bit_string(sign_with(key, tbs))]
    if signer_cert is not None:
        basic_parts.append(tlv(0xA0, sequence(signer_cert)))
    basic = sequence(*basic_parts)
    return sequence(
        tlv(0x0A, bytes([status])), tlv(0xA0, sequence(encode_oid(response_type), tlv(0x04, basic)))
    )


# --- running lints ------------------------------------------------------------------------


def ids(findings: Sequence[Finding]) -> set[str]:
    return {f.lint_id for f in findings}


def lint_cert(
    data: bytes, cert_type: CertType | None = None, ctx: LintContext | None = None
) -> set[str]:
    return ids(run_lints(CertificateDocument(data, cert_type), ctx or LintContext()))


def lint_crl(data: bytes, ctx: LintContext | None = None) -> set[str]:
    return ids(run_lints(CrlDocument(data), ctx or LintContext()))


def lint_ocsp(data: bytes, ctx: LintContext | None = None) -> set[str]:
    return ids(run_lints(OcspResponseDocument(data), ctx or LintContext()))


def errors(found: set[str]) -> set[str]:
    return {i for i in found if i.startswith(("e_", "f_"))}
