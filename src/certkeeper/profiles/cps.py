"""The certificate-profile section of a CPS, written from the profiles issuance enforces.

One part per profile (and so per key algorithm: a profile never mixes RSA and ECDSA), in
the style of BR 7.1.2.7: a Field / Description table, an extension table with presence,
criticality and values, and a key usage table spelling out all nine RFC 5280 bits for
that algorithm. Every statement comes from `cps_claims.claims_from_profile`, the same
claims `certkeeper cps check` compares with the profiles and the issued certificates, so
a CPS rendered here and checked against the same profiles reports nothing.

    text = render_cps([registry.get("tls-dv-rsa")], cps_version="1.4")
"""

from __future__ import annotations

from collections.abc import Sequence

from certkeeper.profiles.cps_claims import (
    EKU_NAMES,
    EXTENSION_NAMES,
    EXTENSIONS,
    KEY_USAGE_BITS,
    OTHER,
    SCT_LIST,
    ExtensionClaim,
    algorithm_of,
    claims_from_profile,
)
from certkeeper.profiles.schema import Profile
from certkeeper.x509.oids import (
    OID_AIA,
    OID_AKI,
    OID_BASIC_CONSTRAINTS,
    OID_CERT_POLICIES,
    OID_CRLDP,
    OID_EKU,
    OID_KEY_USAGE,
    OID_SAN,
    OID_SKI,
)

SECTION = "7.1.2.7"
_VALIDATION = {
    "dv": "domain validated",
    "ov": "organization validated",
    "ev": "extended validation",
}


def render_cps(
    profiles: Sequence[Profile],
    *,
    cps_version: str | None = None,
    ca_name: str | None = None,
    ct_statement: str | None = None,
) -> str:
    """Markdown for the given profiles, in the order given (`ct_statement`: the CT
    policy in words, when the CA embeds SCTs)."""
    lines = [f"# {SECTION} Subscriber certificate profiles", ""]
    intro = "This section is generated from the certificate profiles that issuance enforces"
    if ca_name:
        intro += f" at {ca_name}"
    lines.append(intro + ". Each profile serves one key algorithm.")
    lines.append("")
    if cps_version:
        lines += [f"CPS version: {cps_version}", ""]
    lines += [
        "Presence uses the terms of BR 7.1.2.7: MUST (always present), MAY (present in some "
        "certificates), MUST NOT (never present). Critical: Y (critical), N (non-critical).",
        "",
    ]
    if ct_statement:
        lines += [ct_statement, ""]
    for profile in profiles:
        lines += _profile_part(profile)
    return "\n".join(lines).rstrip() + "\n"


def _profile_part(profile: Profile) -> list[str]:
    claims = claims_from_profile(profile)
    alg = algorithm_of(profile)
    name = f"`{profile.id}`" + (f" version {profile.version}" if profile.version else "")
    out = [f"## {SECTION} Subscriber certificate profile {name} ({alg})", ""]
    if profile.description:
        out += [_sentence(profile.description), ""]
    rows: list[tuple[str, str]] = [("Profile", profile.id)]
    if profile.version:
        rows.append(("Profile version", str(profile.version)))
    rows += [
        (
            "Certificate type",
            f"Subscriber (TLS server), {_VALIDATION.get(profile.validation, profile.validation)}",
        ),
        ("Subject public key", f"{alg}: {', '.join(profile.subscriber_key_types)}"),
        (
            "Validity period",
            f"{profile.validity_days} days (notBefore through notAfter inclusive)",
        ),
        (
            "notBefore",
            "the time of signing"
            if not profile.backdate_seconds
            else f"backdated by {profile.backdate_seconds} seconds",
        ),
        (
            "Subject",
            "empty; names only in subjectAltName"
            if profile.common_name == "absent"
            else "commonName repeating the first subjectAltName entry",
        ),
        ("Issuing CA key", profile.issuer_key_type),
    ]
    out += _table(["Field", "Description"], [list(r) for r in rows])
    out += [f"### Extensions of `{profile.id}` ({alg})", ""]
    ext_rows = []
    for oid, ext_name, _ in EXTENSIONS:
        claim = claims.extensions.get(oid)
        if claim is not None:
            ext_rows.append(
                [ext_name, oid, _presence(claim), _critical(claim), _value(profile, oid, claim)]
            )
    other = claims.extensions[OTHER]
    ext_rows.append(["Any other extension", "-", _presence(other), "-", "never added"])
    out += _table(["Extension", "OID", "Presence", "Critical", "Description"], ext_rows)
    out += [f"### Key usage of `{profile.id}` ({alg} public keys)", ""]
    ku_rows = [[bit, claims.key_usage[bit].value] for bit in KEY_USAGE_BITS]
    out += _table(["Key usage", "Setting"], ku_rows)
    return out


def _presence(claim: ExtensionClaim) -> str:
    return claim.presence.value if claim.presence is not None else "-"


def _critical(claim: ExtensionClaim) -> str:
    if claim.critical is None:
        return "-"
    return "Y" if claim.critical else "N"


def _value(profile: Profile, oid: str, claim: ExtensionClaim) -> str:
    if claim.presence is not None and claim.presence.value == "MUST NOT":
        return "not included"
    if oid == OID_EKU:
        return ", ".join(f"{EKU_NAMES[o]} ({o})" for o in sorted(profile.extended_key_usage.oids))
    if oid == OID_CERT_POLICIES:
        return ", ".join(profile.policies)
    if oid == OID_AIA:
        methods = ["id-ad-ocsp: the OCSP responder URL"] if profile.aia_ocsp else []
        return "; ".join([*methods, "id-ad-caIssuers: the issuing CA certificate URL"])
    if oid == OID_SAN:
        wild = "wildcards allowed" if profile.san.allow_wildcards else "no wildcards"
        kinds = "dNSName or iPAddress" if profile.san.allow_ip_addresses else "dNSName"
        return f"{kinds} entries, at most {profile.san.max_names}; {wild}"
    if oid == OID_KEY_USAGE:
        return "see the key usage table"
    if oid == OID_BASIC_CONSTRAINTS:
        return "cA FALSE, no pathLenConstraint"
    if oid == OID_CRLDP:
        return "one distributionPoint: the URI of the certificate's CRL shard"
    if oid == OID_AKI:
        return "keyIdentifier of the issuing CA's subjectKeyIdentifier"
    if oid == OID_SKI:
        return "SHA-1 of the subjectPublicKey"
    if oid == SCT_LIST:
        return "SCTs for the precertificate, when it was logged"
    return EXTENSION_NAMES.get(oid, oid)


def _sentence(text: str) -> str:
    text = text.strip()
    return text if text.endswith(".") else text + "."


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ")


def _table(header: list[str], rows: list[list[str]]) -> list[str]:
    out = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    out += ["| " + " | ".join(_cell(c) for c in row) + " |" for row in rows]
    return [*out, ""]
