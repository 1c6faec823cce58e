"""CA certificate profiles (BR 7.1.2.1-7.1.2.6, 7.1.2.10): policies, naming, EKU,
name constraints, and the RFC 6962 Precertificate Signing CA (BR 7.1.2.4).

A CA certificate is the root of everything it signs, so these rules are checked for
roots, TLS subordinate CAs and precertificate signing CAs alike where the BR apply them
to all, and per profile where they differ.
"""

from __future__ import annotations

import re
from functools import lru_cache

from certkeeper import br
from certkeeper.lint.cert.common import BR2, CERT, EXT, SUBJ, Out, since
from certkeeper.lint.cert.extensions import reserved_policy
from certkeeper.lint.cert.subscriber_rules import onion_v3_problem
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.values import (
    GN_DIRECTORY,
    GN_DNS,
    GN_IP,
    GN_OTHER,
    GN_RFC822,
    GN_URI,
    Malformed,
)
from certkeeper.lint.engine import CA_TYPES, CertType, Severity, lint
from certkeeper.x509.der import DerError, children, header
from certkeeper.x509.oids import (
    ATTR_C,
    ATTR_CN,
    ATTR_O,
    ATTR_OU,
    EKU_ANY,
    EKU_CLIENT_AUTH,
    EKU_CODE_SIGNING,
    EKU_EMAIL,
    EKU_OCSP_SIGNING,
    EKU_PRECERT_SIGNING,
    EKU_SERVER_AUTH,
    EKU_TIME_STAMPING,
    OID_CERT_POLICIES,
    OID_CRLDP,
    OID_EKU,
    OID_NAME_CONSTRAINTS,
    OID_SAN,
    POLICY_ANY,
)

NON_ROOT_CA = frozenset({CertType.SUBORDINATE_CA, CertType.PRECERT_SIGNING_CA})

_GN_TYPE_NAMES = {
    0: "otherName",
    1: "rfc822Name",
    2: "dNSName",
    3: "x400Address",
    4: "directoryName",
    5: "ediPartyName",
    6: "uniformResourceIdentifier",
    7: "iPAddress",
    8: "registeredID",
}


# --- certificate policies (BR 7.1.2.10.5) --------------------------------------------


@lint(
    "e_ca_any_policy_not_alone",
    Severity.ERROR,
    "BR 7.1.2.10.5",
    "When a CA certificate asserts anyPolicy it must be the only PolicyInformation.",
    CERT,
    cert_types=CA_TYPES,
    effective=BR2,
)
def any_policy_alone(doc: CertificateDocument, ctx: LintContext) -> Out:
    oids = doc.policy_oids
    if POLICY_ANY in oids and len(oids) > 1:
        others = ", ".join(o for o in oids if o != POLICY_ANY)
        return [(f"{EXT}.certificatePolicies", f"anyPolicy appears together with {others}")]
    return ()


@lint(
    "e_ca_reserved_policy_count",
    Severity.ERROR,
    "BR 7.1.2.10.5; BR 7.1.6.1",
    "A policy-restricted CA certificate (no anyPolicy) must contain exactly one CA/B Forum "
    "reserved policy OID.",
    CERT,
    cert_types=CA_TYPES,
    effective=BR2,
    tls_only=True,
)
def ca_reserved_policy(doc: CertificateDocument, ctx: LintContext) -> Out:
    if POLICY_ANY in doc.policy_oids:
        return ()
    return reserved_policy(doc, ctx)  # the same count the subscriber rule makes


@lint(
    "n_ca_any_policy_requires_affiliate",
    Severity.NOTICE,
    "BR 7.1.2.10.5",
    "anyPolicy in a subordinate CA certificate is allowed only when the subordinate CA is "
    "an Affiliate of the issuing CA; a linter cannot verify that.",
    CERT,
    cert_types=NON_ROOT_CA,
    effective=BR2,
)
def any_policy_affiliate(doc: CertificateDocument, ctx: LintContext) -> Out:
    if POLICY_ANY in doc.policy_oids:
        return [(f"{EXT}.certificatePolicies", "anyPolicy asserted: the CA must be an Affiliate")]
    return ()


# --- subject (BR 7.1.2.10.2) ---------------------------------------------------------


@lint(
    "e_ca_subject_required_missing",
    Severity.ERROR,
    "BR 7.1.2.10.2; BR 1.x 7.1.4.3.1; ballot 199",
    "A CA certificate's subject must hold countryName and organizationName (BR 1.0) and "
    "commonName (ballot 199, from 2017-06-08).",
    CERT,
    cert_types=CA_TYPES,
    effective=br.BR_1_0,
    revised=br.CA_COMMON_NAME_REQUIRED_FROM,
)
def ca_subject_required(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.subject_raw is None or doc.structure_errors:
        return ()
    required = [(ATTR_C, "countryName"), (ATTR_O, "organizationName")]
    if since(doc, ctx, br.CA_COMMON_NAME_REQUIRED_FROM):
        required.append((ATTR_CN, "commonName"))
    missing = [label for oid, label in required if not doc.subject_values(oid)]
    if missing:
        return [(SUBJ, f"subject lacks {', '.join(missing)}")]
    return ()


@lint(
    "e_ca_subject_ou_present",
    Severity.ERROR,
    "BR 7.1.2.10.2",
    "organizationalUnitName must not appear in Root or TLS Subordinate CA certificates.",
    CERT,
    cert_types=(CertType.ROOT, CertType.SUBORDINATE_CA),
    effective=BR2,
    tls_only=True,
)
def ca_subject_ou(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _ou_findings(doc)


@lint(
    "w_ca_subject_ou_present",
    Severity.WARNING,
    "BR 7.1.2.10.2",
    "organizationalUnitName SHOULD NOT appear in other CA certificates (precertificate "
    "signing CAs).",
    CERT,
    cert_types=(CertType.PRECERT_SIGNING_CA,),
    effective=BR2,
)
def precert_ca_subject_ou(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _ou_findings(doc)


def _ou_findings(doc: CertificateDocument) -> list[tuple[str, str]]:
    return [
        (SUBJ, f"organizationalUnitName {a.value.decode('latin-1')!r} present")
        for a in doc.subject_values(ATTR_OU)
    ]


# --- extended key usage (BR 7.1.2.10.6, 7.1.2.4.2) -----------------------------------

_CA_EKU_NAMED = frozenset(
    {
        EKU_SERVER_AUTH,
        EKU_CLIENT_AUTH,
        EKU_CODE_SIGNING,
        EKU_EMAIL,
        EKU_TIME_STAMPING,
        EKU_OCSP_SIGNING,
        EKU_ANY,
        EKU_PRECERT_SIGNING,
    }
)


@lint(
    "w_sub_ca_eku_not_recommended",
    Severity.WARNING,
    "BR 7.1.2.10.6",
    "Purposes other than those BR 7.1.2.10.6 names are NOT RECOMMENDED in a TLS subordinate "
    "CA's extKeyUsage.",
    CERT,
    cert_types=(CertType.SUBORDINATE_CA,),
    effective=BR2,
    tls_only=True,
)
def sub_ca_eku_other(doc: CertificateDocument, ctx: LintContext) -> Out:
    return [
        (f"{EXT}.extKeyUsage", f"extKeyUsage includes {oid}")
        for oid in doc.safe("eku") or []
        if oid not in _CA_EKU_NAMED
    ]


@lint(
    "e_precert_ca_eku_invalid",
    Severity.ERROR,
    "BR 7.1.2.4.2; RFC 6962 3.1",
    "A Precertificate Signing CA's extKeyUsage must be present and hold exactly the "
    "Precertificate Signing Certificate purpose (1.3.6.1.4.1.11129.2.4.4).",
    CERT,
    cert_types=(CertType.PRECERT_SIGNING_CA,),
)
def precert_ca_eku(doc: CertificateDocument, ctx: LintContext) -> Out:
    where = f"{EXT}.extKeyUsage"
    eku = doc.safe("eku")
    if eku is None:
        if OID_EKU in doc.ext:
            return ()  # undecodable: e_cert_extension_value_malformed reports it
        return [(where, "extKeyUsage is absent")]
    out = []
    if EKU_PRECERT_SIGNING not in eku:
        out.append((where, "the Precertificate Signing Certificate purpose is absent"))
    out.extend((where, f"extKeyUsage includes {oid}") for oid in eku if oid != EKU_PRECERT_SIGNING)
    return out


# --- precertificate signing CA (BR 7.1.2.4) ------------------------------------------


@lint(
    "e_precert_ca_extension_missing",
    Severity.ERROR,
    "BR 7.1.2.4.1",
    "A Precertificate Signing CA certificate must include certificatePolicies and "
    "cRLDistributionPoints.",
    CERT,
    cert_types=(CertType.PRECERT_SIGNING_CA,),
    effective=BR2,
)
def precert_ca_extensions(doc: CertificateDocument, ctx: LintContext) -> Out:
    if not doc.extensions_present and doc.structure_errors:
        return ()
    return [
        (f"{EXT}.{label}", f"{label} is absent")
        for oid, label in (
            (OID_CERT_POLICIES, "certificatePolicies"),
            (OID_CRLDP, "cRLDistributionPoints"),
        )
        if oid not in doc.ext
    ]


@lint(
    "e_precert_signing_ca_retired",
    Severity.ERROR,
    "BR 7.1.2.4",
    "From 2026-03-15 the Precertificate Signing CA profile must not be used.",
    CERT,
    cert_types=(CertType.PRECERT_SIGNING_CA,),
    effective=br.PRECERT_SIGNING_CA_RETIRED,
)
def precert_ca_retired(doc: CertificateDocument, ctx: LintContext) -> Out:
    return [("tbsCertificate", "a Precertificate Signing CA issued on or after 2026-03-15")]


# --- subjectAltName (BR 7.1.2.11.5) --------------------------------------------------


@lint(
    "w_ca_san_present",
    Severity.WARNING,
    "BR 7.1.2.1.2; BR 7.1.2.6.1; BR 7.1.2.11.5",
    "subjectAltName is not part of any CA certificate profile: NOT RECOMMENDED.",
    CERT,
    cert_types=CA_TYPES,
    effective=BR2,
)
def ca_san(doc: CertificateDocument, ctx: LintContext) -> Out:
    if OID_SAN in doc.ext:
        return [(f"{EXT}.subjectAltName", "a CA certificate carries subjectAltName")]
    return ()


# --- name constraints (RFC 5280 4.2.1.10, BR 7.1.2.10.8) -----------------------------


def _subtrees(doc: CertificateDocument) -> list[tuple[str, int, bytes, list[str]]]:
    """(permitted|excluded, base GeneralName tag, base content, problems) per subtree;
    walked once per document for the three name-constraint lints."""
    got = doc.memo.get("name_constraints")
    if got is None:
        try:
            got = _walk_subtrees(doc)
        except (DerError, Malformed, IndexError) as exc:
            got = exc
        doc.memo["name_constraints"] = got
    if isinstance(got, Exception):
        raise got
    return got


def _walk_subtrees(doc: CertificateDocument) -> list[tuple[str, int, bytes, list[str]]]:
    ext = doc.ext.get(OID_NAME_CONSTRAINTS)
    if ext is None:
        return []
    v = ext.value
    tag, cs, ce = header(v, 0, len(v))
    if tag != 0x30 or ce != len(v):
        raise Malformed("nameConstraints is not one SEQUENCE")
    out: list[tuple[str, int, bytes, list[str]]] = []
    parts = children(v, cs, ce)
    if not parts:
        return [("", -1, b"", ["nameConstraints is an empty SEQUENCE"])]
    for ptag, pcs, pce in parts:
        if ptag not in (0xA0, 0xA1):
            raise Malformed(f"nameConstraints has an unexpected element 0x{ptag:02x}")
        kind = "permitted" if ptag == 0xA0 else "excluded"
        subtrees = children(v, pcs, pce)
        if not subtrees:
            out.append((kind, -1, b"", [f"{kind}Subtrees is empty"]))
        for stag, scs, sce in subtrees:
            fields = children(v, scs, sce)
            if stag != 0x30 or not fields:
                raise Malformed(f"a {kind} GeneralSubtree is not a SEQUENCE")
            btag, bcs, bce = fields[0]
            problems = []
            for ftag, fcs, fce in fields[1:]:
                if ftag == 0x80:
                    if v[fcs:fce] in (b"", b"\x00"):
                        problems.append("minimum 0 is the DEFAULT and must not be encoded")
                    else:
                        problems.append("minimum must be zero")
                elif ftag == 0x81:
                    problems.append("maximum must be absent")
            out.append((kind, btag & 0x1F, v[bcs:bce], problems))
    return out


# RFC 5280 4.2.1.10: a URI constraint names the host part, as a fully qualified domain
# name, which may start with a period to mean any host below the domain.
_URI_HOST_CONSTRAINT = re.compile(r"\.?[A-Za-z0-9-]+(\.[A-Za-z0-9-]+)+")


@lint(
    "e_name_constraints_invalid",
    Severity.ERROR,
    "RFC 5280 4.2.1.10; BR 7.1.2.10.8",
    "nameConstraints must hold permitted or excluded subtrees, none empty, without minimum "
    "or maximum, iPAddress bases of 8 or 32 octets (address and mask), dNSName bases in "
    "preferred name syntax and URI bases that are fully qualified domain names; judged in "
    "any certificate that carries it.",
    CERT,
)
def name_constraints_invalid(doc: CertificateDocument, ctx: LintContext) -> Out:
    where = f"{EXT}.nameConstraints"
    try:
        subtrees = _subtrees(doc)
    except (DerError, Malformed, IndexError) as exc:
        return [(where, f"cannot decode nameConstraints: {exc}")]
    out: list[tuple[str, str]] = []
    for kind, gn, value, problems in subtrees:
        if problems:
            out.extend((where, f"{kind}: {p}" if kind else p) for p in problems)
        if gn == GN_IP and len(value) not in (8, 32):
            out.append((where, f"{kind} iPAddress base is {len(value)} octets, not 8 or 32"))
        if gn == GN_URI and not _URI_HOST_CONSTRAINT.fullmatch(value.decode("latin-1")):
            out.append((where, f"{kind} URI base {value!r} is not a fully qualified domain name"))
        if gn == GN_DNS and value:
            out += [(where, f"{kind} {p}") for p in _dns_base_problems(value.decode("latin-1"))]
    return out


@lru_cache(maxsize=1024)
def _dns_base_problems(name: str) -> tuple[str, ...]:
    """RFC 5280 4.2.1.10: a dNSName constraint is a domain name in preferred name syntax
    (no leading period, no wildcard); an onion name, a valid version 3 address."""
    if not _DNS_CONSTRAINT.fullmatch(name):
        return (f"dNSName base {name!r} is not in preferred name syntax",)
    labels = name.lower().split(".")
    if labels[-1] == "onion" and len(labels) > 1 and onion_v3_problem(labels[-2]) is not None:
        return (f"dNSName base {name!r} is not a valid version 3 onion name",)
    return ()


_DNS_LABEL = r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,61}[A-Za-z0-9])?"
_DNS_CONSTRAINT = re.compile(rf"{_DNS_LABEL}(?:\.{_DNS_LABEL})*")


def _constrains_all(subtrees: list[tuple[str, int, bytes, list[str]]]) -> list[str]:
    """BR 7.1.2.5.2: the name types a technically constrained TLS CA leaves open."""
    permitted = [(gn, v) for kind, gn, v, _ in subtrees if kind == "permitted"]
    excluded = [(gn, v) for kind, gn, v, _ in subtrees if kind == "excluded"]
    missing = []
    if not any(gn == GN_DNS for gn, _ in permitted) and (GN_DNS, b"") not in excluded:
        missing.append("dNSName (no permitted subtree, no zero-length exclusion)")
    for size, label in ((8, "IPv4"), (32, "IPv6")):
        if (
            not any(gn == GN_IP and len(v) == size for gn, v in permitted)
            and (
                GN_IP,
                bytes(size),
            )
            not in excluded
        ):
            missing.append(f"{label} iPAddress (no permitted range, {label} not all excluded)")
    if not any(gn == GN_DIRECTORY for gn, _ in permitted):
        missing.append("directoryName (no permitted subtree)")
    return missing


@lint(
    "e_constrained_ca_name_constraints_incomplete",
    Severity.ERROR,
    "BR 7.1.2.5.2",
    "A TLS subordinate CA's nameConstraints must permit or wholly exclude dNSName, IPv4 and "
    "IPv6 iPAddress, and permit at least one directoryName, to make it technically "
    "constrained.",
    CERT,
    cert_types=(CertType.SUBORDINATE_CA,),
    effective=BR2,
    tls_only=True,
)
def constrained_ca_incomplete(doc: CertificateDocument, ctx: LintContext) -> Out:
    if OID_NAME_CONSTRAINTS not in doc.ext:
        return ()
    try:
        subtrees = _subtrees(doc)
    except (DerError, Malformed, IndexError):
        return ()  # e_name_constraints_invalid reports it
    where = f"{EXT}.nameConstraints"
    return [(where, f"leaves {m} unconstrained") for m in _constrains_all(subtrees)]


@lint(
    "w_ca_name_constraints_base_not_recommended",
    Severity.WARNING,
    "BR 7.1.2.10.8",
    "Name constraint bases other than dNSName, iPAddress and directoryName are NOT "
    "RECOMMENDED, and so is a directoryName in excludedSubtrees.",
    CERT,
    cert_types=CA_TYPES,
    effective=BR2,
)
def name_constraints_bases(doc: CertificateDocument, ctx: LintContext) -> Out:
    where = f"{EXT}.nameConstraints"
    try:
        subtrees = _subtrees(doc)
    except (DerError, Malformed, IndexError):
        return ()  # e_name_constraints_invalid reports it
    out: list[tuple[str, str]] = []
    for kind, gn, _value, _problems in subtrees:
        if gn < 0:
            continue
        if gn in (GN_OTHER, GN_RFC822) or gn not in (GN_DNS, GN_IP, GN_DIRECTORY):
            out.append((where, f"{kind} subtree of type {_GN_TYPE_NAMES.get(gn, gn)}"))
        elif gn == GN_DIRECTORY and kind == "excluded":
            out.append((where, "excluded subtree of type directoryName"))
    return out
