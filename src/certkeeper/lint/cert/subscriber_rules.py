"""Subscriber certificate rules beyond the per-extension lints: the commonName as an exact
copy (BR 7.1.4.3), CA-only extensions, undefined keyUsage bits, AIA uniqueness, SIA
criticality, Onion Domain Names (BR Appendix B) and reserved IP addresses in the CN.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import ipaddress
import re

from certkeeper import br
from certkeeper.lint import names
from certkeeper.lint.cert.common import BR2, CERT, EXT, SUBJ, Out, since
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import LEAF_TYPES, Severity, lint
from certkeeper.x509.oids import (
    ATTR_GIVEN_NAME,
    ATTR_L,
    ATTR_O,
    ATTR_POSTAL_CODE,
    ATTR_ST,
    ATTR_STREET,
    ATTR_SURNAME,
    OID_INHIBIT_ANY_POLICY,
    OID_POLICY_CONSTRAINTS,
    OID_POLICY_MAPPINGS,
    OID_SIA,
)

_CA_ONLY = {
    OID_POLICY_CONSTRAINTS: "policyConstraints",
    OID_POLICY_MAPPINGS: "policyMappings",
    OID_INHIBIT_ANY_POLICY: "inhibitAnyPolicy",
}


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
    out = []
    folded: dict[str, str] | None = None
    for cn in doc.cn_texts:
        if cn in dns:
            continue
        if folded is None:  # IDNA-folding every SAN entry costs; only a mismatch needs it
            folded = {_fold(n): n for n in dns}
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


_ONION_V2 = re.compile(r"[a-z2-7]{16}")


@lint(
    "e_san_dns_onion_invalid",
    Severity.ERROR,
    "BR Appendix B; RFC 7686; ballot 144",
    "An Onion Domain Name must have a valid Version 3 Onion Address as the label left of "
    "'onion' (before ballot SC27: a version 2 or 3 address).",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.ONION_EV_ONLY_FROM,
    revised=br.ONION_V3_FROM,
)
def onion_names(doc: CertificateDocument, ctx: LintContext) -> Out:
    v3_only = since(doc, ctx, br.ONION_V3_FROM)
    where = f"{EXT}.subjectAltName"
    out = []
    for name in doc.dns_names:
        labels = name.lower().split(".")
        if labels[-1] != "onion":
            continue
        if len(labels) < 2:
            out.append((where, f"dNSName {name!r} has no onion address"))
            continue
        problem = onion_v3_problem(labels[-2])
        if not v3_only:
            if problem is not None and not _ONION_V2.fullmatch(labels[-2]):
                out.append((where, f"dNSName {name!r}: not a version 2 or 3 onion address"))
            continue
        if problem is not None:
            out.append((where, f"dNSName {name!r}: {problem}"))
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
    for cn in doc.cn_texts:
        if not names.may_be_ip_literal(cn):
            continue
        try:
            ip = ipaddress.ip_address(cn)
        except ValueError:
            continue
        problem = names.ip_problem(ip.packed)
        if problem is not None:
            out.append((SUBJ, f"commonName: {problem}"))
    return out


_ADDRESS = {
    ATTR_L: "localityName",
    ATTR_ST: "stateOrProvinceName",
    ATTR_STREET: "streetAddress",
    ATTR_POSTAL_CODE: "postalCode",
}


@lint(
    "e_sub_subject_address_without_name",
    Severity.ERROR,
    "BR 7.1.4.2.2 (BR 1.x); BR 7.1.2.7.2-4",
    "A subscriber subject with locality, state, street or postal code must also name the "
    "organization or the individual (organizationName, or givenName and surname).",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.SUBJECT_ADDRESS_NEEDS_NAME_FROM,
)
def address_without_name(doc: CertificateDocument, ctx: LintContext) -> Out:
    if any(doc.subject_values(oid) for oid in (ATTR_O, ATTR_GIVEN_NAME, ATTR_SURNAME)):
        return ()
    return [
        (SUBJ, f"{label} without organizationName, givenName or surname")
        for oid, label in _ADDRESS.items()
        if doc.subject_values(oid)
    ]


_REVERSE_ZONES = (".in-addr.arpa", ".ip6.arpa")


def reverse_zone_address(name: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    """The address a full reverse-zone name (RFC 1035 3.5, RFC 3596 2.5) stands for."""
    lower = name.lower()
    try:
        if lower.endswith(".in-addr.arpa"):
            labels = lower[: -len(".in-addr.arpa")].split(".")
            return ipaddress.IPv4Address(".".join(reversed(labels))) if len(labels) == 4 else None
        if lower.endswith(".ip6.arpa"):
            nibbles = lower[: -len(".ip6.arpa")].split(".")
            if len(nibbles) != 32 or any(len(n) != 1 for n in nibbles):
                return None
            return ipaddress.IPv6Address(int("".join(reversed(nibbles)), 16))
    except ValueError:
        return None
    return None


@lint(
    "e_sub_reverse_zone_name",
    Severity.ERROR,
    "BR 4.2.2; BR 7.1.2.7.12",
    "No domain name may end in an IP Reverse Zone Suffix (in-addr.arpa, ip6.arpa) from "
    "2026-03-15; before that, none may be the reverse-zone name of a Reserved IP Address.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.RESERVED_IP_BANNED_FROM,
    revised=br.IP_REVERSE_ZONE_BANNED_FROM,
)
def reverse_zone(doc: CertificateDocument, ctx: LintContext) -> Out:
    banned = since(doc, ctx, br.IP_REVERSE_ZONE_BANNED_FROM)
    out = []
    for where, name in [(f"{EXT}.subjectAltName", n) for n in doc.dns_names] + [
        (SUBJ, cn) for cn in doc.cn_texts
    ]:
        if not name.lower().rstrip(".").endswith(_REVERSE_ZONES):
            continue
        if banned:
            out.append((where, f"{name!r} ends in an IP Reverse Zone Suffix"))
            continue
        ip = reverse_zone_address(name.rstrip("."))
        problem = None if ip is None else names.ip_problem(ip.packed)
        if problem is not None:
            out.append((where, f"{name!r} is the reverse-zone name of {ip}: {problem}"))
    return out
