"""RFC 5280 rules for extensions the BR profiles leave to it: empty SEQUENCEs, the
issuerAltName's entries, the policy-processing extensions of CA certificates, and
extensions that must never be critical.

These documents are rare in TLS, which is why they go unnoticed: a relying party's path
validation reads each of them, and a malformed one can change what a path accepts.
"""

from __future__ import annotations

import ipaddress
import re
from functools import lru_cache

from certkeeper.lint.cert.common import CERT, EXT, Out
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.values import (
    GN_DNS,
    GN_IP,
    GN_RFC822,
    GN_URI,
    decode_oid,
    parse_general_names,
)
from certkeeper.lint.engine import Severity, lint
from certkeeper.x509.der import DerError, children, header
from certkeeper.x509.oids import (
    OID_CERT_POLICIES,
    OID_CRLDP,
    OID_FRESHEST_CRL,
    OID_IAN,
    OID_INHIBIT_ANY_POLICY,
    OID_POLICY_CONSTRAINTS,
    OID_POLICY_MAPPINGS,
    OID_SDA,
    OID_SIA,
    POLICY_ANY,
)

# SEQUENCE SIZE (1..MAX) extensions not covered by a lint of their own (subjectAltName,
# extKeyUsage and authorityInformationAccess are).
_NON_EMPTY = {
    OID_CERT_POLICIES: "certificatePolicies",
    OID_POLICY_MAPPINGS: "policyMappings",
    OID_IAN: "issuerAltName",
    OID_SDA: "subjectDirectoryAttributes",
    OID_CRLDP: "cRLDistributionPoints",
    OID_FRESHEST_CRL: "freshestCRL",
    OID_SIA: "subjectInfoAccess",
}
_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS = re.compile(rf"{_LABEL}(?:\.{_LABEL})*")
_MAILBOX = re.compile(rf"[^@\s]+@{_LABEL}(?:\.{_LABEL})+")
_URI = re.compile(r"([A-Za-z][A-Za-z0-9+.-]*):(.+)", re.DOTALL)


def _sequence(doc: CertificateDocument, oid: str) -> tuple[bytes, list[tuple[int, int, int]]]:
    """An extension's value and the elements of its outer SEQUENCE; DerError if not one."""
    v = doc.ext[oid].value
    tag, cs, ce = header(v, 0, len(v))
    if tag != 0x30 or ce != len(v):
        raise DerError("the value is not one SEQUENCE")
    return v, children(v, cs, ce)


@lint(
    "e_extension_empty_sequence",
    Severity.ERROR,
    "RFC 5280 4.2.1.4; 4.2.1.5; 4.2.1.7; 4.2.1.8; 4.2.1.13; 4.2.1.15; 4.2.2.2",
    "certificatePolicies (and each policyQualifiers), policyMappings, issuerAltName, "
    "subjectDirectoryAttributes, cRLDistributionPoints, freshestCRL and subjectInfoAccess "
    "hold at least one element.",
    CERT,
)
def empty_sequence(doc: CertificateDocument, ctx: LintContext) -> Out:
    out = []
    ext = doc.ext
    for oid, name in _NON_EMPTY.items():
        if oid in ext and _is_empty_sequence(ext[oid].value):
            out.append((f"{EXT}.{name}", f"{name} is an empty SEQUENCE"))
    if OID_CERT_POLICIES in ext:
        out += [
            (f"{EXT}.certificatePolicies", f"PolicyInformation {i} has empty policyQualifiers")
            for i in _empty_policy_qualifiers(ext[OID_CERT_POLICIES].value)
        ]
    return out


# The two checks below depend on an extension's encoding alone, and a CA's certificates
# repeat their encodings: each is judged once (benchmarks/lint_corpora.py).


@lru_cache(maxsize=2048)
def _is_empty_sequence(value: bytes) -> bool:
    """An empty SEQUENCE; False also for what is not one SEQUENCE (the extension's own
    lint or the structure lints report that)."""
    tag, cs, ce = _outer(value)
    return tag == 0x30 and cs == ce == len(value)


@lru_cache(maxsize=2048)
def _empty_policy_qualifiers(value: bytes) -> tuple[int, ...]:
    """Indexes of the PolicyInformation whose policyQualifiers, SEQUENCE SIZE (1..MAX)
    when present, is empty."""
    tag, cs, ce = _outer(value)
    if tag != 0x30 or ce != len(value):
        return ()
    try:
        parts = [children(value, c, e) for t, c, e in children(value, cs, ce) if t == 0x30]
    except DerError:
        return ()
    return tuple(
        i
        for i, fields in enumerate(parts)
        if len(fields) > 1 and fields[1][0] == 0x30 and fields[1][1] == fields[1][2]
    )


def _outer(value: bytes) -> tuple[int, int, int]:
    try:
        return header(value, 0, len(value))
    except DerError:
        return -1, 0, 0


def general_name_problem(tag: int, value: bytes) -> str | None:
    """What RFC 5280 4.2.1.6 (applied to issuerAltName by 4.2.1.7) rejects in an entry."""
    if tag not in (GN_DNS, GN_RFC822, GN_URI):
        return None if value else "an empty GeneralName"
    try:
        text = value.decode("ascii")
    except UnicodeDecodeError:
        return "a non-IA5String value"
    kind = {GN_DNS: "dNSName", GN_RFC822: "rfc822Name", GN_URI: "URI"}[tag]
    if not text.strip():
        return f"an empty or blank {kind}"
    if tag == GN_DNS and not _DNS.fullmatch(text):
        return f"dNSName {text!r} is not in preferred name syntax"
    if tag == GN_RFC822 and not _MAILBOX.fullmatch(text):
        return f"rfc822Name {text!r} is not a mailbox"
    if tag == GN_URI:
        return _uri_problem(text)
    return None


def _uri_problem(text: str) -> str | None:
    m = _URI.fullmatch(text)
    if m is None:
        return f"URI {text!r} has no scheme or nothing after it"
    rest = m.group(2)
    if not rest.startswith("//"):
        return None
    host = rest[2:].split("/", 1)[0].split("?", 1)[0].rsplit("@", 1)[-1]
    if host.startswith("["):
        return None if "]" in host else f"URI {text!r} has an unterminated IPv6 literal"
    host = host.split(":", 1)[0]
    try:
        ipaddress.ip_address(host)
        return None
    except ValueError:
        pass
    if host.startswith("*.") and _DNS.fullmatch(host[2:]) and "." in host[2:]:
        return None
    if not (_DNS.fullmatch(host) and "." in host):
        return f"URI {text!r} names host {host!r}, neither a fully qualified domain nor an IP"
    return None


@lint(
    "e_issuer_alt_name_invalid",
    Severity.ERROR,
    "RFC 5280 4.2.1.7; 4.2.1.6",
    "issuerAltName entries follow the subjectAltName rules: none empty, dNSName and "
    "URI hosts in preferred name syntax, rfc822Name a mailbox, URIs absolute.",
    CERT,
)
def issuer_alt_name(doc: CertificateDocument, ctx: LintContext) -> Out:
    if OID_IAN not in doc.ext:
        return ()
    where = f"{EXT}.issuerAltName"
    try:
        v = doc.ext[OID_IAN].value
        tag, cs, ce = header(v, 0, len(v))
        names = parse_general_names(v, cs, ce) if tag == 0x30 else None
    except DerError as exc:
        return [(where, f"cannot decode issuerAltName: {exc}")]
    if names is None:
        return [(where, "issuerAltName is not a SEQUENCE")]
    problems = (general_name_problem(n.tag, n.value) for n in names)
    return [(where, f"issuerAltName holds {p}") for p in problems if p]


@lint(
    "e_san_entry_invalid",
    Severity.ERROR,
    "RFC 5280 4.2.1.6",
    "subjectAltName entries other than dNSName and iPAddress (which have lints of their "
    "own) must not be empty; an rfc822Name is a mailbox, a URI absolute with a host.",
    CERT,
)
def san_entries(doc: CertificateDocument, ctx: LintContext) -> Out:
    names = doc.safe("san") or []
    problems = (general_name_problem(n.tag, n.value) for n in names if n.tag not in (GN_DNS, GN_IP))
    return [(f"{EXT}.subjectAltName", f"subjectAltName holds {p}") for p in problems if p]


@lint(
    "e_policy_extension_invalid",
    Severity.ERROR,
    "RFC 5280 4.2.1.5; 4.2.1.11; 4.2.1.14",
    "policyConstraints must be critical and name requireExplicitPolicy or "
    "inhibitPolicyMapping; inhibitAnyPolicy must be critical; policyMappings must not map "
    "to or from anyPolicy.",
    CERT,
)
def policy_extensions(doc: CertificateDocument, ctx: LintContext) -> Out:
    out: list[tuple[str, str]] = []
    for oid, name in (
        (OID_POLICY_CONSTRAINTS, "policyConstraints"),
        (OID_INHIBIT_ANY_POLICY, "inhibitAnyPolicy"),
    ):
        ext = doc.ext.get(oid)
        if ext is not None and not ext.critical:
            out.append((f"{EXT}.{name}", f"{name} is not marked critical"))
    try:
        if OID_POLICY_CONSTRAINTS in doc.ext and not _sequence(doc, OID_POLICY_CONSTRAINTS)[1]:
            out.append((f"{EXT}.policyConstraints", "policyConstraints is an empty SEQUENCE"))
        if OID_POLICY_MAPPINGS in doc.ext:
            v, pairs = _sequence(doc, OID_POLICY_MAPPINGS)
            for _, pcs, pce in pairs:
                oids = [decode_oid(v[c:e]) for t, c, e in children(v, pcs, pce) if t == 0x06]
                if POLICY_ANY in oids:
                    out.append(
                        (f"{EXT}.policyMappings", "policyMappings maps to or from anyPolicy")
                    )
    except DerError as exc:
        out.append((EXT, f"cannot decode a policy extension: {exc}"))
    return out


@lint(
    "e_extension_critical_not_allowed",
    Severity.ERROR,
    "RFC 5280 4.2.1.8; 4.2.1.15",
    "subjectDirectoryAttributes and freshestCRL must be marked non-critical.",
    CERT,
)
def must_not_be_critical(doc: CertificateDocument, ctx: LintContext) -> Out:
    return [
        (f"{EXT}.{name}", f"{name} is marked critical")
        for oid, name in (
            (OID_SDA, "subjectDirectoryAttributes"),
            (OID_FRESHEST_CRL, "freshestCRL"),
        )
        if oid in doc.ext and doc.ext[oid].critical
    ]
