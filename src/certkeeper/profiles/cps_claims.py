"""What a CPS states about a certificate profile, what a profile or certificate does, and
where the two disagree.

Seed 000: a CPS said keyEncipherment was absent from RSA subscriber certificates while
every one of them asserted it. The CPS text and the issued certificates had drifted apart
with nobody comparing them. Here both sides are reduced to the same small vocabulary:

* `ProfileClaims`: what one CPS profile description states (extension presence and
  criticality, key usage bits, EKU, policies, key types, maximum validity);
* `Facts`: what a profile produces, or what one issued certificate contains;
* `contradictions(claims, facts)`: every claim the facts break, each with stable wording,
  so one line can carry the profile's verdict and the certificate counts.

Names follow RFC 5280 spelling (keyEncipherment, extKeyUsage); the parser also accepts
the spaced forms ("Key Encipherment") and OIDs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from enum import StrEnum

from certkeeper.profiles.schema import EKU_OIDS, Profile
from certkeeper.x509.oids import (
    EKU_ANY,
    EKU_CLIENT_AUTH,
    EKU_CODE_SIGNING,
    EKU_EMAIL,
    EKU_OCSP_SIGNING,
    EKU_SERVER_AUTH,
    EKU_TIME_STAMPING,
    OID_AIA,
    OID_AKI,
    OID_BASIC_CONSTRAINTS,
    OID_CERT_POLICIES,
    OID_CRLDP,
    OID_CT_POISON,
    OID_EKU,
    OID_INHIBIT_ANY_POLICY,
    OID_KEY_USAGE,
    OID_NAME_CONSTRAINTS,
    OID_OCSP_NOCHECK,
    OID_PKUP,
    OID_POLICY_CONSTRAINTS,
    OID_QC_STATEMENTS,
    OID_SAN,
    OID_SCT_LIST,
    OID_SDA,
    OID_SKI,
    OID_TLS_FEATURE,
)


class Presence(StrEnum):
    """RFC 2119 presence as BR 7.1.2.7 tables use it."""

    MUST = "MUST"
    SHOULD = "SHOULD"
    MAY = "MAY"
    NOT_RECOMMENDED = "NOT RECOMMENDED"
    MUST_NOT = "MUST NOT"


# (OID, RFC 5280 / common name, extra aliases). Aliases are compared after `normalize`.
EXTENSIONS: tuple[tuple[str, str, tuple[str, ...]], ...] = (
    (OID_AIA, "authorityInformationAccess", ("aia", "authorityinfoaccess")),
    (OID_AKI, "authorityKeyIdentifier", ("aki",)),
    (OID_CERT_POLICIES, "certificatePolicies", ("policies", "certificatepolicy")),
    (OID_EKU, "extKeyUsage", ("extendedkeyusage", "eku")),
    (OID_SAN, "subjectAltName", ("subjectalternativename", "subjectalternativenames", "san")),
    (OID_KEY_USAGE, "keyUsage", ("ku",)),
    (OID_BASIC_CONSTRAINTS, "basicConstraints", ()),
    (OID_CRLDP, "cRLDistributionPoints", ("crldistributionpoint", "crldp")),
    (OID_SKI, "subjectKeyIdentifier", ("ski",)),
    (
        OID_SCT_LIST,
        "signedCertificateTimestampList",
        ("sctlist", "embeddedscts", "scts", "certificatetransparencysctlist", "ctsctlist"),
    ),
    (OID_CT_POISON, "precertificatePoison", ("ctpoison", "poison")),
    (OID_TLS_FEATURE, "tlsFeature", ("tlsfeatures", "mustStaple")),
    (OID_NAME_CONSTRAINTS, "nameConstraints", ()),
    (OID_POLICY_CONSTRAINTS, "policyConstraints", ()),
    (OID_INHIBIT_ANY_POLICY, "inhibitAnyPolicy", ()),
    (OID_PKUP, "privateKeyUsagePeriod", ()),
    (OID_SDA, "subjectDirectoryAttributes", ()),
    (OID_QC_STATEMENTS, "qcStatements", ()),
    (OID_OCSP_NOCHECK, "ocspNoCheck", ("idpkixocspnocheck",)),
)
EXTENSION_NAMES = {oid: name for oid, name, _ in EXTENSIONS}
OTHER = "other"  # the "any other extension" row
OTHER_NAMES = ("anyotherextension", "anyotherextensions", "otherextensions", "other")

# RFC 5280 4.2.1.3 bit order; profile names (schema.KEY_USAGE_BITS) map onto the first three.
KEY_USAGE_BITS = (
    "digitalSignature",
    "nonRepudiation",
    "keyEncipherment",
    "dataEncipherment",
    "keyAgreement",
    "keyCertSign",
    "cRLSign",
    "encipherOnly",
    "decipherOnly",
)
_KU_ALIASES = {"contentcommitment": "nonRepudiation", "crlsign": "cRLSign"}
PROFILE_KU = {
    "digital_signature": "digitalSignature",
    "key_encipherment": "keyEncipherment",
    "key_agreement": "keyAgreement",
}

EKU_NAMES = {
    EKU_SERVER_AUTH: "id-kp-serverAuth",
    EKU_CLIENT_AUTH: "id-kp-clientAuth",
    EKU_CODE_SIGNING: "id-kp-codeSigning",
    EKU_EMAIL: "id-kp-emailProtection",
    EKU_TIME_STAMPING: "id-kp-timeStamping",
    EKU_OCSP_SIGNING: "id-kp-OCSPSigning",
    EKU_ANY: "anyExtendedKeyUsage",
}
_EKU_ALIASES = {
    "serverauth": EKU_SERVER_AUTH,
    "serverauthentication": EKU_SERVER_AUTH,
    "tlswebserverauthentication": EKU_SERVER_AUTH,
    "clientauth": EKU_CLIENT_AUTH,
    "clientauthentication": EKU_CLIENT_AUTH,
    "tlswebclientauthentication": EKU_CLIENT_AUTH,
    "codesigning": EKU_CODE_SIGNING,
    "emailprotection": EKU_EMAIL,
    "timestamping": EKU_TIME_STAMPING,
    "ocspsigning": EKU_OCSP_SIGNING,
    "anyextendedkeyusage": EKU_ANY,
}

ALGORITHMS = ("RSA", "ECDSA")
KEY_TYPES = ("rsa-2048", "rsa-3072", "rsa-4096", "ecdsa-p256", "ecdsa-p384")

# A dotted OID not inside a longer number ("RFC 5280 4.2.1.4" holds no OID "2.1.4").
_OID = re.compile(r"(?<![\d.])[0-2](?:\.(?:0|[1-9][0-9]*))+(?!\.?\d)")


def normalize(text: str) -> str:
    """Lowercase letters and digits only: "Key Encipherment", "`keyEncipherment`" and
    "key_encipherment" are all "keyencipherment"."""
    return re.sub(r"[^a-z0-9]", "", text.lower())


_EXT_BY_NAME: dict[str, str] = {}
for _oid, _name, _aliases in EXTENSIONS:
    for _alias in (_name, *_aliases):
        _EXT_BY_NAME[normalize(_alias)] = _oid
_KU_BY_NAME = {normalize(b): b for b in KEY_USAGE_BITS} | _KU_ALIASES


def extension_oid(text: str) -> str | None:
    """The OID an extension cell names (by OID or name), OTHER, or None if unknown."""
    match = _OID.search(text)
    if match is not None:
        return match.group(0)
    key = normalize(re.sub(r"\(.*?\)", "", text)) or normalize(text)
    if key in OTHER_NAMES:
        return OTHER
    if key.startswith("id") and key[2:] in _EXT_BY_NAME:
        key = key[2:]
    if key.startswith("idce") and key[4:] in _EXT_BY_NAME:
        key = key[4:]
    return _EXT_BY_NAME.get(key)


def key_usage_bit(text: str) -> str | None:
    return _KU_BY_NAME.get(normalize(re.sub(r"\(.*?\)", "", text)))


def eku_oids(text: str) -> frozenset[str]:
    """Every EKU an (EKU row's) description names, by OID or name."""
    found = {m.group(0) for m in _OID.finditer(text) if m.group(0) in EKU_NAMES}
    flat = normalize(text)
    for phrase, oid in _EKU_ALIASES.items():
        if phrase in flat:
            found.add(oid)
    return frozenset(found)


def policy_oids(text: str) -> frozenset[str]:
    return frozenset(m.group(0) for m in _OID.finditer(text))


def key_types(text: str) -> frozenset[str]:
    """The subscriber key types a "Subject public key" description names."""
    low = text.lower()
    out: set[str] = set()
    sizes = ("2048", "3072", "4096")
    for size in sizes:
        if re.search(rf"rsa[^|]*?\b{size}\b|\b{size}[- ]?bit rsa", low) or f"rsa-{size}" in low:
            out.add(f"rsa-{size}")
    if out and re.search(r"at least|minimum|or (?:larger|greater|more|longer)|≥|>=", low):
        smallest = min(int(kt[4:]) for kt in out)
        out |= {f"rsa-{size}" for size in sizes if int(size) >= smallest}
    if re.search(r"p-?256|secp256r1|prime256v1|nist p-256", low):
        out.add("ecdsa-p256")
    if re.search(r"p-?384|secp384r1", low):
        out.add("ecdsa-p384")
    return frozenset(out)


# -- claims and facts -----------------------------------------------------------------------


@dataclass(frozen=True)
class ExtensionClaim:
    presence: Presence | None
    critical: bool | None


@dataclass
class ProfileClaims:
    """What one CPS profile description states. `section` and `line` place it for messages."""

    profile_id: str
    algorithm: str | None  # RSA | ECDSA | None when the CPS does not say
    version: int | None = None
    key_types: frozenset[str] | None = None
    validity_days: int | None = None
    extensions: dict[str, ExtensionClaim] = field(default_factory=dict)  # OID or OTHER
    key_usage: dict[str, Presence] = field(default_factory=dict)  # RFC 5280 bit name
    eku: frozenset[str] | None = None
    policies: frozenset[str] | None = None
    section: str = field(default="", compare=False)
    line: int = field(default=0, compare=False)

    @property
    def label(self) -> str:
        alg = f" {self.algorithm}" if self.algorithm else ""
        return f'CPS {self.section} "{self.profile_id}"{alg}'


@dataclass(frozen=True)
class Facts:
    """What a profile produces or a certificate contains; hashable, so identical
    certificates can be counted once."""

    extensions: frozenset[tuple[str, bool]]  # (OID, critical)
    key_usage: frozenset[str]
    eku: frozenset[str]
    policies: frozenset[str]
    key_types: frozenset[str]  # a profile: those it allows; a certificate: its own
    validity_seconds: int
    optional: frozenset[str] = frozenset()  # OIDs a profile may or may not produce

    def critical(self, oid: str) -> bool | None:
        for o, c in self.extensions:
            if o == oid:
                return c
        return None


def profile_extensions(profile: Profile) -> list[tuple[str, bool]]:
    """(OID, critical) of every extension issuance adds for this profile, in
    `issuance.tbs.extensions` order. SAN is critical exactly when the subject is empty."""
    out = [
        (OID_AIA, False),
        (OID_AKI, False),
        (OID_CERT_POLICIES, False),
        (OID_EKU, profile.extended_key_usage.critical),
        (OID_SAN, profile.common_name == "absent"),
        (OID_KEY_USAGE, profile.key_usage.critical),
    ]
    if profile.basic_constraints.include:
        out.append((OID_BASIC_CONSTRAINTS, profile.basic_constraints.critical))
    if profile.crl_distribution_point:
        out.append((OID_CRLDP, False))
    if profile.subject_key_identifier:
        out.append((OID_SKI, False))
    return out


SCT_LIST = OID_SCT_LIST


def facts_from_profile(profile: Profile) -> Facts:
    return Facts(
        extensions=frozenset(profile_extensions(profile)),
        key_usage=frozenset(PROFILE_KU[b] for b in profile.key_usage.bits),
        eku=frozenset(EKU_OIDS[u] for u in profile.extended_key_usage.usages),
        policies=frozenset(profile.policies),
        key_types=frozenset(profile.subscriber_key_types),
        validity_seconds=profile.validity_days * 86400,
        optional=frozenset({SCT_LIST}),  # present when the precertificate was logged
    )


def algorithm_of(profile: Profile) -> str:
    return "RSA" if profile.key_algorithm == "rsa" else "ECDSA"


def claims_from_profile(profile: Profile, section: str = "§7.1.2.7") -> ProfileClaims:
    """The claims a CPS rendered from this profile makes (what `profiles.cps` writes)."""
    present = dict(profile_extensions(profile))
    extensions: dict[str, ExtensionClaim] = {}
    for oid, _name, _ in EXTENSIONS[:10]:
        if oid in present:
            extensions[oid] = ExtensionClaim(Presence.MUST, present[oid])
        elif oid == SCT_LIST:
            extensions[oid] = ExtensionClaim(Presence.MAY, False)
        else:
            extensions[oid] = ExtensionClaim(Presence.MUST_NOT, None)
    extensions[OTHER] = ExtensionClaim(Presence.MUST_NOT, None)
    bits = {PROFILE_KU[b] for b in profile.key_usage.bits}
    return ProfileClaims(
        profile_id=profile.id,
        algorithm=algorithm_of(profile),
        version=profile.version or None,
        key_types=frozenset(profile.subscriber_key_types),
        validity_days=profile.validity_days,
        extensions=extensions,
        key_usage={b: Presence.MUST if b in bits else Presence.MUST_NOT for b in KEY_USAGE_BITS},
        eku=frozenset(EKU_OIDS[u] for u in profile.extended_key_usage.usages),
        policies=frozenset(profile.policies),
        section=section,
    )


# -- contradictions -------------------------------------------------------------------------


@dataclass(frozen=True)
class Contradiction:
    """One broken claim. `key` groups the same contradiction across certificates; the
    verbs complete "profile X vN ..." and "N certificates ... ".."""

    key: tuple[str, ...]
    claim: str  # e.g. "keyEncipherment stated absent"
    profile_verb: str  # e.g. "includes it"
    certificate_verb: str  # e.g. "assert it"


def _names(oids: frozenset[str], table: dict[str, str]) -> str:
    return ", ".join(sorted(table.get(o, o) for o in oids)) or "none"


def contradictions(claims: ProfileClaims, facts: Facts) -> list[Contradiction]:
    """Every claim in `claims` that `facts` break, in a stable order."""
    out: list[Contradiction] = []
    present = {oid for oid, _ in facts.extensions}
    listed = set(claims.extensions)
    for oid, claim in sorted(claims.extensions.items()):
        name = EXTENSION_NAMES.get(oid, oid)
        if oid == OTHER:
            if claim.presence is Presence.MUST_NOT:
                extra = present - listed - {OID_CT_POISON}
                for o in sorted(extra):
                    n = EXTENSION_NAMES.get(o, o)
                    out.append(
                        Contradiction(
                            ("other", o),
                            f"no extension beyond those listed; {n} is not listed",
                            f"includes {n}",
                            f"contain {n}",
                        )
                    )
            continue
        if oid in facts.optional and oid not in present:
            continue
        if claim.presence is Presence.MUST and oid not in present:
            out.append(
                Contradiction(
                    ("ext", oid, "present"), f"{name} stated present", "omits it", "lack it"
                )
            )
        elif claim.presence is Presence.MUST_NOT and oid in present:
            out.append(
                Contradiction(
                    ("ext", oid, "absent"), f"{name} stated absent", "includes it", "contain it"
                )
            )
        critical = facts.critical(oid)
        if claim.critical is not None and critical is not None and critical != claim.critical:
            said = "critical" if claim.critical else "non-critical"
            got = "critical" if critical else "non-critical"
            out.append(
                Contradiction(
                    ("crit", oid, said),
                    f"{name} stated {said}",
                    f"marks it {got}",
                    f"mark it {got}",
                )
            )
    for bit in KEY_USAGE_BITS:
        presence = claims.key_usage.get(bit)
        if presence is Presence.MUST and bit not in facts.key_usage:
            out.append(
                Contradiction(
                    ("ku", bit, "present"), f"{bit} stated present", "omits it", "lack it"
                )
            )
        elif presence is Presence.MUST_NOT and bit in facts.key_usage:
            out.append(
                Contradiction(
                    ("ku", bit, "absent"), f"{bit} stated absent", "includes it", "assert it"
                )
            )
    if claims.eku is not None and facts.eku != claims.eku:
        got = _names(facts.eku, EKU_NAMES)
        out.append(
            Contradiction(
                ("eku", got),
                f"extKeyUsage stated {_names(claims.eku, EKU_NAMES)}",
                f"has {got}",
                f"have {got}",
            )
        )
    if claims.policies is not None and facts.policies != claims.policies:
        got = _names(facts.policies, {})
        out.append(
            Contradiction(
                ("policies", got),
                f"certificatePolicies stated {_names(claims.policies, {})}",
                f"has {got}",
                f"have {got}",
            )
        )
    if claims.key_types is not None:
        extra_types = facts.key_types - claims.key_types
        if extra_types:
            got = ", ".join(sorted(extra_types))
            out.append(
                Contradiction(
                    ("keys", got),
                    f"key types stated {', '.join(sorted(claims.key_types)) or 'none'}",
                    f"allows {got}",
                    f"have {got} keys",
                )
            )
    if claims.validity_days is not None and facts.validity_seconds > claims.validity_days * 86400:
        days = facts.validity_seconds / 86400
        shown = f"{days:g}" if days == int(days) else f"{days:.2f}"
        out.append(
            Contradiction(
                ("validity", str(claims.validity_days)),
                f"validity stated at most {claims.validity_days} days",
                f"gives {shown} days",
                "are valid longer",
            )
        )
    return out
