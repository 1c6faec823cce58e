"""Certificate profiles as data: the TOML schema, and the BR rules a profile must obey.

A profile is refused when it is loaded if it could produce a certificate the Baseline
Requirements forbid (seed 004: non-critical basicConstraints; seed 000: keyEncipherment
where the CPS said there was none). The same object drives issuance and the CPS text,
so the two cannot drift apart.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import date
from typing import Any

from certkeeper import br
from certkeeper.errors import ProfileError
from certkeeper.tomlcheck import (
    TomlProblem,
    check_keys,
    get,
    get_choice,
    get_str_list,
    get_table,
    parse_toml,
)
from certkeeper.x509.oids import EKU_CLIENT_AUTH, EKU_SERVER_AUTH, RESERVED_POLICIES

RSA_KEY_TYPES = ("rsa-2048", "rsa-3072", "rsa-4096")
ECDSA_KEY_TYPES = ("ecdsa-p256", "ecdsa-p384")
ISSUER_KEY_TYPES = ("ecdsa-p256", "ecdsa-p384", "rsa-2048", "rsa-3072", "rsa-4096")

# Key usage bits a subscriber profile may name (BR 7.1.2.7.11); all others MUST NOT be set.
KEY_USAGE_BITS = ("digital_signature", "key_encipherment", "key_agreement")
# Extended key usages a TLS subscriber profile may name (BR 7.1.2.7.10).
EKU_OIDS = {"server_auth": EKU_SERVER_AUTH, "client_auth": EKU_CLIENT_AUTH}

_TOP_KEYS = (
    "id",
    "description",
    "certificate_type",
    "validation",
    "issuer_key_type",
    "subscriber_key_types",
    "validity_days",
    "backdate_seconds",
    "subject",
    "extensions",
)
_EXTENSIONS = (
    "basic_constraints",
    "key_usage",
    "extended_key_usage",
    "certificate_policies",
    "authority_information_access",
    "crl_distribution_points",
    "subject_key_identifier",
    "subject_alt_name",
)


@dataclass(frozen=True)
class BasicConstraints:
    include: bool
    critical: bool


@dataclass(frozen=True)
class KeyUsage:
    critical: bool
    bits: tuple[str, ...]  # names from KEY_USAGE_BITS that are asserted


@dataclass(frozen=True)
class ExtendedKeyUsage:
    critical: bool
    usages: tuple[str, ...]  # names from EKU_OIDS

    @property
    def oids(self) -> tuple[str, ...]:
        return tuple(EKU_OIDS[u] for u in self.usages)


@dataclass(frozen=True)
class SubjectAltName:
    max_names: int
    allow_wildcards: bool
    # iPAddress entries (RFC 8738 identifiers, BR 3.2.2.5); off in the built-in profiles
    allow_ip_addresses: bool = False


@dataclass(frozen=True)
class Profile:
    """One version of one certificate profile, validated."""

    id: str
    version: int  # 0 until the inventory assigns one
    description: str
    certificate_type: str
    validation: str
    issuer_key_type: str
    subscriber_key_types: tuple[str, ...]
    validity_days: int
    backdate_seconds: int
    common_name: str  # "absent" | "first_san"
    basic_constraints: BasicConstraints
    key_usage: KeyUsage
    extended_key_usage: ExtendedKeyUsage
    eku_critical: bool
    policies: tuple[str, ...]
    aia_ca_issuers: bool
    aia_ocsp: bool
    crl_distribution_point: bool
    subject_key_identifier: bool
    san: SubjectAltName
    source: str
    source_sha256: str

    @property
    def key_algorithm(self) -> str:
        return "rsa" if self.subscriber_key_types[0].startswith("rsa") else "ecdsa"

    @property
    def label(self) -> str:
        return f"{self.id} v{self.version}"


def parse_profile(
    source: str, where: str, version: int = 0, today: date | None = None, historic: bool = False
) -> Profile:
    """Parse and validate a profile's TOML text; every problem is one ProfileError line.

    `today` (the caller's clock: the core reads none) bounds validity_days by the BR
    6.3.2 maximum in force that day; issuance checks again against the certificate's own
    notBefore. `historic` reads an old, stored version without holding it to limits that
    came into force after it, and needs no `today`."""
    if today is None and not historic:
        raise TypeError("parse_profile needs today unless historic")
    try:
        return _parse(parse_toml(source, where), source, where, version, today, historic)
    except TomlProblem as exc:
        raise ProfileError(str(exc)) from None


def _parse(
    doc: dict[str, Any],
    source: str,
    where: str,
    version: int,
    today: date | None,
    historic: bool,
) -> Profile:
    check_keys(doc, _TOP_KEYS, where)
    pid = get(doc, "id", str, where)
    if not pid or not all(c.isalnum() or c in "-_" for c in pid) or len(pid) > 64:
        raise TomlProblem(f"{where}: id {pid!r} must be 1-64 letters, digits, '-' or '_'")
    ctype = get_choice(doc, "certificate_type", ("subscriber",), where)
    validation = get_choice(doc, "validation", ("dv",), where)
    issuer_kt = get_choice(doc, "issuer_key_type", ISSUER_KEY_TYPES, where)
    sub_kts = get_str_list(doc, "subscriber_key_types", where)
    if not sub_kts:
        raise TomlProblem(f"{where}.subscriber_key_types: must name at least one key type")
    for kt in sub_kts:
        if kt not in RSA_KEY_TYPES + ECDSA_KEY_TYPES:
            raise TomlProblem(
                f"{where}.subscriber_key_types: {kt!r} is not allowed "
                f"(BR 6.1.5: {', '.join(RSA_KEY_TYPES + ECDSA_KEY_TYPES)})"
            )
    families = {kt.split("-")[0] for kt in sub_kts}
    if len(families) > 1:
        raise TomlProblem(
            f"{where}.subscriber_key_types: one profile per key algorithm; "
            f"{sub_kts} mixes RSA and ECDSA (their key usages differ)"
        )
    is_rsa = families == {"rsa"}

    days = get(doc, "validity_days", int, where, default=90)
    if today is not None and not historic:
        limit = br.max_subscriber_validity_days(today)
        if not 1 <= days <= limit:
            raise TomlProblem(
                f"{where}.validity_days: {days} is outside 1..{limit} "
                f"(BR 6.3.2 maximum in force on {today.isoformat()})"
            )
    elif not 1 <= days <= 100_000:
        raise TomlProblem(f"{where}.validity_days: {days} is outside 1..100000")
    backdate = get(doc, "backdate_seconds", int, where, default=0)
    if not 0 <= backdate <= 86400:
        raise TomlProblem(f"{where}.backdate_seconds: {backdate} is outside 0..86400")

    subject = get_table(doc, "subject", where)
    check_keys(subject, ("common_name",), f"{where}.subject")
    common_name = get_choice(
        subject, "common_name", ("absent", "first_san"), f"{where}.subject", default="first_san"
    )

    ext = get_table(doc, "extensions", where)
    check_keys(ext, _EXTENSIONS, f"{where}.extensions")

    w = f"{where}.extensions.basic_constraints"
    t = get_table(ext, "basic_constraints", where)
    check_keys(t, ("include", "critical", "ca"), w)
    bc = BasicConstraints(get(t, "include", bool, w, True), get(t, "critical", bool, w, True))
    if get(t, "ca", bool, w, False):
        raise TomlProblem(f"{w}.ca: a subscriber certificate MUST have cA false (BR 7.1.2.7.8)")
    if bc.include and not bc.critical:
        raise TomlProblem(f"{w}.critical: basicConstraints MUST be critical (BR 7.1.2.7.8)")

    w = f"{where}.extensions.key_usage"
    t = get_table(ext, "key_usage", where)
    check_keys(t, ("critical", *KEY_USAGE_BITS, *_FORBIDDEN_KU), w)
    for bit in _FORBIDDEN_KU:
        if get(t, bit, bool, w, False):
            raise TomlProblem(
                f"{w}.{bit}: MUST NOT be set in a subscriber certificate (BR 7.1.2.7.11)"
            )
    ku_critical = get(t, "critical", bool, w, True)
    if not ku_critical:
        raise TomlProblem(f"{w}.critical: keyUsage MUST be critical (BR 7.1.2.7.11)")
    bits = tuple(b for b in KEY_USAGE_BITS if get(t, b, bool, w, False))
    if "digital_signature" not in bits:
        raise TomlProblem(f"{w}.digital_signature: must be true for a TLS server key")
    if not is_rsa and "key_encipherment" in bits:
        raise TomlProblem(
            f"{w}.key_encipherment: MUST NOT be set for ECDSA keys (BR 7.1.2.7.11); "
            "it is allowed only in RSA profiles"
        )
    if is_rsa and "key_agreement" in bits:
        raise TomlProblem(f"{w}.key_agreement: MUST NOT be set for RSA keys (BR 7.1.2.7.11)")

    w = f"{where}.extensions.extended_key_usage"
    t = get_table(ext, "extended_key_usage", where)
    check_keys(t, ("critical", "usages"), w)
    eku_critical = get(t, "critical", bool, w, False)
    if eku_critical:
        raise TomlProblem(f"{w}.critical: extKeyUsage MUST NOT be critical (BR 7.1.2.7.6)")
    usages = get_str_list(t, "usages", w, default=["server_auth"])
    for u in usages:
        if u not in EKU_OIDS:
            raise TomlProblem(
                f"{w}.usages: {u!r} is not allowed (BR 7.1.2.7.10 allows "
                f"{', '.join(EKU_OIDS)}; anyExtendedKeyUsage MUST NOT be present)"
            )
    if "server_auth" not in usages:
        raise TomlProblem(f"{w}.usages: server_auth MUST be present (BR 7.1.2.7.10)")
    if len(set(usages)) != len(usages):
        raise TomlProblem(f"{w}.usages: {usages} repeats a usage")

    w = f"{where}.extensions.certificate_policies"
    t = get_table(ext, "certificate_policies", where)
    check_keys(t, ("critical", "policies"), w)
    if get(t, "critical", bool, w, False):
        raise TomlProblem(f"{w}.critical: certificatePolicies MUST NOT be critical (BR 7.1.2.7.6)")
    wanted_policy = br.VALIDATION_POLICY[validation]
    policies = get_str_list(t, "policies", w, default=[wanted_policy])
    for oid in policies:
        if not _is_dotted_oid(oid):
            raise TomlProblem(f"{w}.policies: {oid!r} is not a dotted OID")
    reserved = [p for p in policies if p in RESERVED_POLICIES]
    if reserved != [wanted_policy]:
        raise TomlProblem(
            f"{w}.policies: a {validation.upper()} profile asserts exactly one reserved "
            f"policy, {wanted_policy} (BR 7.1.2.7.9); found {reserved or 'none'}"
        )
    if policies[0] != wanted_policy:
        raise TomlProblem(f"{w}.policies: the reserved policy {wanted_policy} must come first")

    w = f"{where}.extensions.authority_information_access"
    t = get_table(ext, "authority_information_access", where)
    check_keys(t, ("critical", "ca_issuers", "ocsp"), w)
    if get(t, "critical", bool, w, False):
        raise TomlProblem(f"{w}.critical: authorityInformationAccess MUST NOT be critical")
    if not get(t, "ca_issuers", bool, w, True):
        raise TomlProblem(f"{w}.ca_issuers: id-ad-caIssuers MUST be present (BR 7.1.2.7.7)")
    aia_ocsp = get(t, "ocsp", bool, w, True)

    w = f"{where}.extensions.crl_distribution_points"
    t = get_table(ext, "crl_distribution_points", where)
    check_keys(t, ("include", "critical"), w)
    crldp = get(t, "include", bool, w, True)
    if get(t, "critical", bool, w, False):
        raise TomlProblem(f"{w}.critical: cRLDistributionPoints MUST NOT be critical")
    if not crldp and not aia_ocsp and days > _short_lived_days():
        raise TomlProblem(
            f"{w}.include: a certificate without an OCSP URL MUST carry a CRL distribution "
            "point (BR 7.1.2.7.6) unless it is short-lived (BR 1.6.1: validity_days at most "
            f"{_short_lived_days()})"
        )

    w = f"{where}.extensions.subject_key_identifier"
    t = get_table(ext, "subject_key_identifier", where)
    check_keys(t, ("include",), w)
    ski = get(t, "include", bool, w, False)

    w = f"{where}.extensions.subject_alt_name"
    t = get_table(ext, "subject_alt_name", where)
    check_keys(t, ("max_names", "allow_wildcards", "allow_ip_addresses"), w)
    max_names = get(t, "max_names", int, w, 100)
    if not 1 <= max_names <= 1000:
        raise TomlProblem(f"{w}.max_names: {max_names} is outside 1..1000")
    san = SubjectAltName(
        max_names,
        get(t, "allow_wildcards", bool, w, True),
        get(t, "allow_ip_addresses", bool, w, False),
    )

    return Profile(
        id=pid,
        version=version,
        description=get(doc, "description", str, where, default=""),
        certificate_type=ctype,
        validation=validation,
        issuer_key_type=issuer_kt,
        subscriber_key_types=tuple(sub_kts),
        validity_days=days,
        backdate_seconds=backdate,
        common_name=common_name,
        basic_constraints=bc,
        key_usage=KeyUsage(ku_critical, bits),
        extended_key_usage=ExtendedKeyUsage(eku_critical, tuple(usages)),
        eku_critical=eku_critical,
        policies=tuple(policies),
        aia_ca_issuers=True,
        aia_ocsp=aia_ocsp,
        crl_distribution_point=crldp,
        subject_key_identifier=ski,
        san=san,
        source=source,
        source_sha256=hashlib.sha256(source.encode()).hexdigest(),
    )


_FORBIDDEN_KU = (
    "content_commitment",
    "data_encipherment",
    "key_cert_sign",
    "crl_sign",
    "encipher_only",
    "decipher_only",
)


def _is_dotted_oid(text: str) -> bool:
    parts = text.split(".")
    return (
        len(parts) >= 2
        and all(p.isdigit() and (p == "0" or not p.startswith("0")) for p in parts)
        and int(parts[0]) <= 2
    )


def _short_lived_days() -> int:
    """Validity (days) short-lived under the strictest BR 1.6.1 limit (from 2026-03-15):
    such a profile issues short-lived certificates whatever the date."""
    return min(days for _, days in br.SHORT_LIVED_MAX_DAYS)
