"""Subscriber certificate rules beyond the per-extension lints: the commonName as an exact
copy (BR 7.1.4.3), CA-only extensions, undefined keyUsage bits, AIA uniqueness, SIA
criticality, Onion Domain Names (BR Appendix B) and reserved IP addresses in the CN.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress

from certkeeper import br
from certkeeper.lint import names
from certkeeper.lint.cert.common import BR2, CERT, EXT, SUBJ, Out
from certkeeper.lint.context import LintContext
from certkeeper.lint.document import (
    ATTR_CN,
    OID_INHIBIT_ANY_POLICY,
    OID_POLICY_CONSTRAINTS,
    OID_POLICY_MAPPINGS,
    CertificateDocument,
)
from certkeeper.lint.engine import LEAF_TYPES, Severity, lint

OID_SIA = "1.3.6.1.5.5.7.1.11"

_CA_ONLY = {
    OID_POLICY_CONSTRAINTS: "policyConstraints",
    OID_POLICY_MAPPINGS: "policyMappings",
    OID_INHIBIT_ANY_POLICY: "inhibitAnyPolicy",
}


def _cn_texts(doc: CertificateDocument) -> list[str]:
    out = []
    for a in doc.subject_values(ATTR_CN):
        try:
            out.append(a.value.decode("utf-16-be" if a.tag == 0x1E else "utf-8"))
        except UnicodeDecodeError:
            out.append(a.value.decode("latin-1"))
    return out


@lint(
    "e_sub_cn_not_san_copy",
    Severity.ERROR,
    "BR 7.1.4.3",
    "A commonName holding a domain name must be a character-for-character copy of a "
    "dNSName entry: same case, A-labels never converted to Unicode.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.CN_EXACT_COPY_FROM,
)
def cn_exact_copy(doc: CertificateDocument, ctx: LintContext) -> Out:
    dns = doc.dns_names
    exact = set(dns)
    folded = {_fold(n): n for n in dns}
    out = []
    for cn in _cn_texts(doc):
        if cn in exact:
            continue
        san = folded.get(_fold(cn))
        if san is not None:
            out.append((SUBJ, f"commonName {cn!r} differs from dNSName {san!r}"))
    return out


def _fold(name: str) -> str:
    """Case-folded A-label form, so a CN that differs only in case or in U-labels is
    found; a CN matching no SAN entry at all is e_sub_cn_not_in_san's finding."""
    try:
        return name.encode("idna").decode("ascii").lower()
    except UnicodeError:
        return name.lower()


@lint(
    "e_sub_ca_only_extension_present",
    Severity.ERROR,
    "RFC 5280 4.2.1.5; RFC 5280 4.2.1.11; RFC 5280 4.2.1.14; BR 7.1.2.7.6; BR 7.1.2.11.5",
    "policyMappings, policyConstraints and inhibitAnyPolicy constrain paths through a CA; "
    "in a subscriber certificate they are meaningless and must not appear.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=BR2,
)
def ca_only_extensions(doc: CertificateDocument, ctx: LintContext) -> Out:
    return [
        (f"{EXT}.{label}", f"{label} ({oid}) in a subscriber certificate")
        for oid, label in _CA_ONLY.items()
        if oid in doc.ext
    ]


@lint(
    "e_key_usage_undefined_bits",
    Severity.ERROR,
    "RFC 5280 4.2.1.3",
    "keyUsage defines bits 0 (digitalSignature) to 8 (decipherOnly); no later bit may be set.",
    CERT,
)
def key_usage_undefined(doc: CertificateDocument, ctx: LintContext) -> Out:
    ku = doc.safe("key_usage")
    if ku is None:
        return ()
    payload = bytes.fromhex(ku.hex)
    extra = any(payload[2:]) or (len(payload) > 1 and payload[1] & 0x7F)
    if extra:
        return [(f"{EXT}.keyUsage", f"keyUsage bits 0x{ku.hex} set a bit beyond decipherOnly")]
    return ()


@lint(
    "e_aia_duplicate_location",
    Severity.ERROR,
    "BR 7.1.2.7.7; BR 7.1.2.10.3; BR 7.1.2.8.3",
    "AccessDescriptions with the same accessMethod must each name a different location.",
    CERT,
    effective=BR2,
)
def aia_duplicates(doc: CertificateDocument, ctx: LintContext) -> Out:
    seen: set[tuple[str, int, bytes]] = set()
    out = []
    for method, gn in doc.safe("aia") or []:
        key = (method, gn.tag, gn.value)
        if key in seen:
            out.append((f"{EXT}.authorityInformationAccess", f"{method} {gn.text!r} repeated"))
        seen.add(key)
    return out


@lint(
    "e_sia_critical",
    Severity.ERROR,
    "RFC 5280 4.2.2.2",
    "subjectInfoAccess must be marked non-critical.",
    CERT,
)
def sia_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    ext = doc.ext.get(OID_SIA)
    if ext is not None and ext.critical:
        return [(f"{EXT}.subjectInfoAccess", "subjectInfoAccess is marked critical")]
    return ()


def onion_v3_problem(label: str) -> str | None:
    """Why a label is not a valid Tor Version 3 Onion Address (rend-spec-v3 6), or None:
    base32 of PUBKEY (32) | CHECKSUM (2) | VERSION (1), VERSION 3, CHECKSUM the first two
    octets of SHA3-256(".onion checksum" | PUBKEY | VERSION)."""
    if len(label) != 56:
        return f"{len(label)} characters, not the 56 of a version 3 address"
    try:
        raw = base64.b32decode(label.upper())
    except (binascii.Error, ValueError):
        return "not base32"
    pubkey, checksum, version = raw[:32], raw[32:34], raw[34:]
    if version != b"\x03":
        return f"version {version.hex()}, not 03"
    digest = hashlib.sha3_256(b".onion checksum" + pubkey + version).digest()
    if digest[:2] != checksum:
        return "checksum mismatch"
    return None


@lint(
    "e_san_dns_onion_invalid",
    Severity.ERROR,
    "BR Appendix B; RFC 7686",
    "An Onion Domain Name must have a valid Version 3 Onion Address as the label left of 'onion'.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.ONION_V3_FROM,
)
def onion_names(doc: CertificateDocument, ctx: LintContext) -> Out:
    out = []
    for name in doc.dns_names:
        labels = name.lower().split(".")
        if labels[-1] != "onion":
            continue
        if len(labels) < 2:
            out.append((f"{EXT}.subjectAltName", f"dNSName {name!r} has no onion address"))
            continue
        problem = onion_v3_problem(labels[-2])
        if problem is not None:
            out.append((f"{EXT}.subjectAltName", f"dNSName {name!r}: {problem}"))
    return out


@lint(
    "e_sub_cn_reserved_ip",
    Severity.ERROR,
    "BR 7.1.2.7.12; BR 4.2.2; BR 7.1.4.3",
    "A commonName holding an IP address must not hold a Reserved IP Address.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.RESERVED_IP_BANNED_FROM,
)
def cn_reserved_ip(doc: CertificateDocument, ctx: LintContext) -> Out:
    out = []
    for cn in _cn_texts(doc):
        try:
            ip = ipaddress.ip_address(cn)
        except ValueError:
            continue
        problem = names.ip_problem(ip.packed)
        if problem is not None:
            out.append((SUBJ, f"commonName: {problem}"))
    return out
