"""Subject, issuer and subjectAltName content (BR 7.1.2.7.2-5, 7.1.2.7.12, 7.1.4)."""

from __future__ import annotations

from collections.abc import Iterable

from certkeeper import br
from certkeeper.lint import names
from certkeeper.lint.cert.common import since
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.values import GN_DNS, GN_IP, Attribute
from certkeeper.lint.engine import LEAF_TYPES, DocType, Severity, lint
from certkeeper.lint.tld import TldData
from certkeeper.x509.oids import (
    ATTR_BUSINESS_CATEGORY,
    ATTR_C,
    ATTR_CN,
    ATTR_DC,
    ATTR_EMAIL,
    ATTR_GIVEN_NAME,
    ATTR_JURIS_C,
    ATTR_L,
    ATTR_O,
    ATTR_OU,
    ATTR_POSTAL_CODE,
    ATTR_PSEUDONYM,
    ATTR_SERIAL_NUMBER,
    ATTR_ST,
    ATTR_STREET,
    ATTR_SURNAME,
    POLICY_DV,
    POLICY_EV,
    POLICY_IV,
    POLICY_OV,
)

CERT = (DocType.CERTIFICATE,)
Out = Iterable[tuple[str, str]]
SUBJ = "tbsCertificate.subject"
SAN = "tbsCertificate.extensions.subjectAltName"
BR2 = br.BR_2_0_PROFILES

_PRINTABLE_BYTES = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789 '()+,-./:=?"
_UTF8, _PRINTABLE_TAG, _IA5 = 0x0C, 0x13, 0x16
# Upper bounds in characters: RFC 5280 Appendix A, and BR 7.1.4.2 for domainComponent,
# streetAddress, givenName and surname (RFC 5280's 32,768 for the last two is, in the
# BR's words, a transcription error; 64 is the interoperable bound).
_UPPER_BOUNDS = {
    ATTR_DC: 63,
    ATTR_STREET: 128,
    ATTR_GIVEN_NAME: 64,
    ATTR_SURNAME: 64,
    ATTR_CN: 64,
    ATTR_O: 64,
    ATTR_OU: 64,
    ATTR_L: 128,
    ATTR_ST: 128,
    ATTR_SERIAL_NUMBER: 64,
    ATTR_POSTAL_CODE: 40,
    ATTR_EMAIL: 255,
}
ATTR_NAMES = {
    ATTR_CN: "commonName",
    ATTR_C: "countryName",
    ATTR_O: "organizationName",
    ATTR_OU: "organizationalUnitName",
    ATTR_L: "localityName",
    ATTR_ST: "stateOrProvinceName",
    ATTR_STREET: "streetAddress",
    ATTR_POSTAL_CODE: "postalCode",
    ATTR_SERIAL_NUMBER: "serialNumber",
    ATTR_GIVEN_NAME: "givenName",
    ATTR_SURNAME: "surname",
    ATTR_EMAIL: "emailAddress",
    ATTR_DC: "domainComponent",
    ATTR_BUSINESS_CATEGORY: "businessCategory",
    ATTR_JURIS_C: "jurisdictionCountryName",
}


def _name(oid: str) -> str:
    return ATTR_NAMES.get(oid, oid)


def _text(a: Attribute) -> str:
    if a.tag == 0x1E:
        try:
            return a.value.decode("utf-16-be")
        except UnicodeDecodeError:
            return a.value.decode("latin-1")
    try:
        return a.value.decode("utf-8")
    except UnicodeDecodeError:
        return a.value.decode("latin-1")


def _all_attrs(rdns: list[list[Attribute]]) -> list[Attribute]:
    return [a for rdn in rdns for a in rdn]


# TeletexString, UniversalString, BMPString: RFC 5280 4.1.2.6 let a CA keep them for
# backward compatibility; the BR 2.0 encoding table (7.1.4.2) does not.
_LEGACY_STRINGS = frozenset({0x14, 0x1C, 0x1E})


def _encoding_problems(
    attrs: list[Attribute], where: str, legacy_ok: bool = False
) -> list[tuple[str, str]]:
    out = []
    for oid, tag, value in attrs:
        if oid in _PRINTABLE_ONLY:
            if tag != _PRINTABLE_TAG:
                out.append((where, f"{_name(oid)} is not a PrintableString (tag 0x{tag:02x})"))
        elif oid in _IA5_ONLY:
            if tag != _IA5:
                out.append((where, f"{_name(oid)} is not an IA5String (tag 0x{tag:02x})"))
        elif tag not in _DIRECTORY_STRINGS and not (legacy_ok and tag in _LEGACY_STRINGS):
            out.append(
                (
                    where,
                    f"{_name(oid)} uses string type 0x{tag:02x}; only UTF8String or "
                    "PrintableString",
                )
            )
        if tag == _PRINTABLE_TAG:
            if value.translate(None, _PRINTABLE_BYTES):
                out.append(
                    (where, f"{_name(oid)} {value!r} has characters PrintableString does not allow")
                )
        elif tag == _UTF8:
            if not value.isascii():
                try:
                    value.decode("utf-8")
                except UnicodeDecodeError:
                    out.append((where, f"{_name(oid)} is not valid UTF-8"))
        elif tag == _IA5 and not value.isascii():
            out.append((where, f"{_name(oid)} is not valid IA5 (ASCII)"))
    return out


_PRINTABLE_ONLY = frozenset({ATTR_C, ATTR_JURIS_C})
_IA5_ONLY = frozenset({ATTR_EMAIL, ATTR_DC})
_DIRECTORY_STRINGS = frozenset({_UTF8, _PRINTABLE_TAG})


@lint(
    "e_subject_string_encoding",
    Severity.ERROR,
    "RFC 5280 4.1.2.6; BR 7.1.4.1; BR 7.1.4.2",
    "Subject attributes must use the string types the profile allows, with valid contents "
    "(before BR 2.0: TeletexString, UniversalString and BMPString as RFC 5280 allowed).",
    CERT,
    revised=BR2,
)
def subject_encoding(doc: CertificateDocument, ctx: LintContext) -> Out:
    return _encoding_problems(doc.subject_attrs, SUBJ, legacy_ok=not since(doc, ctx, BR2))


@lint(
    "e_issuer_string_encoding",
    Severity.ERROR,
    "RFC 5280 4.1.2.4; BR 7.1.4.1",
    "Issuer attributes must use the string types the profile allows, with valid contents.",
    CERT,
)
def issuer_encoding(doc: CertificateDocument, ctx: LintContext) -> Out:
    raw = doc.issuer_raw
    if raw is None:
        return ()
    got = _ISSUER_PROBLEMS.get(raw)
    if got is None:
        got = _encoding_problems(_all_attrs(doc.issuer), "tbsCertificate.issuer")
        if len(_ISSUER_PROBLEMS) < 1024:
            _ISSUER_PROBLEMS[raw] = got
    return got


_ISSUER_PROBLEMS: dict[bytes, list[tuple[str, str]]] = {}


@lint(
    "e_subject_attribute_empty",
    Severity.ERROR,
    "RFC 5280 4.1.2.6; BR 7.1.4.1",
    "Subject attribute values must not be empty.",
    CERT,
)
def subject_empty_value(doc: CertificateDocument, ctx: LintContext) -> Out:
    return [(SUBJ, f"{_name(a.oid)} is empty") for a in doc.subject_attrs if not a.value.strip()]


@lint(
    "e_subject_attribute_too_long",
    Severity.ERROR,
    "RFC 5280 Appendix A; BR 7.1.4.2",
    "Subject attribute values must respect the X.520 upper bounds.",
    CERT,
)
def subject_too_long(doc: CertificateDocument, ctx: LintContext) -> Out:
    out = []
    for a in doc.subject_attrs:
        bound = _UPPER_BOUNDS.get(a.oid)
        if bound is not None and len(_text(a)) > bound:
            out.append((SUBJ, f"{_name(a.oid)} is {len(_text(a))} characters (at most {bound})"))
    return out


@lint(
    "e_subject_country_invalid",
    Severity.ERROR,
    "BR 7.1.4.3; X.520",
    "countryName must be a two-letter upper-case ISO 3166-1 code.",
    CERT,
)
def country(doc: CertificateDocument, ctx: LintContext) -> Out:
    out = []
    for a in doc.subject_values(ATTR_C):
        v = a.value
        if len(v) != 2 or not (v.isalpha() and v.isupper() and v.isascii()):
            out.append((SUBJ, f"countryName {v!r} is not a two-letter upper-case code"))
    return out


@lint(
    "e_subject_multi_valued_rdn",
    Severity.ERROR,
    "BR 7.1.4.1",
    "Each RelativeDistinguishedName must hold exactly one attribute.",
    CERT,
    effective=BR2,
)
def multi_rdn(doc: CertificateDocument, ctx: LintContext) -> Out:
    return [(SUBJ, f"an RDN holds {len(rdn)} attributes") for rdn in doc.subject if len(rdn) != 1]


# BR 7.1.4.2: the relative order of these attributes in a subject, first to last.
_ORDER = (
    ATTR_DC,
    ATTR_C,
    ATTR_ST,
    ATTR_L,
    ATTR_POSTAL_CODE,
    ATTR_STREET,
    ATTR_O,
    ATTR_SURNAME,
    ATTR_GIVEN_NAME,
    ATTR_OU,
    ATTR_CN,
)
_RANK = {oid: i for i, oid in enumerate(_ORDER)}


@lint(
    "e_subject_attribute_order",
    Severity.ERROR,
    "BR 7.1.4.2; BR 7.1.4.1",
    "Subject attributes listed in BR 7.1.4.2 must appear in its order: domainComponent, "
    "country, state, locality, postal code, street, organization, surname, given name, "
    "organizational unit, common name.",
    CERT,
    effective=BR2,
)
def attribute_order(doc: CertificateDocument, ctx: LintContext) -> Out:
    last: Attribute | None = None
    for a in doc.subject_attrs:
        rank = _RANK.get(a.oid)
        if rank is None:
            continue
        if last is not None and rank < _RANK[last.oid]:
            return [(SUBJ, f"{_name(a.oid)} follows {_name(last.oid)}")]
        last = a
    return ()


@lint(
    "e_subject_duplicate_attribute",
    Severity.ERROR,
    "BR 7.1.4.1",
    "A Name must not contain more than one instance of an attribute type "
    "(domainComponent and streetAddress excepted).",
    CERT,
    effective=BR2,
)
def dup_attr(doc: CertificateDocument, ctx: LintContext) -> Out:
    if len(doc.subject_by_type) == len(doc.subject_attrs):
        return ()  # no type twice
    seen: set[str] = set()
    out = []
    for a in doc.subject_attrs:
        if a.oid in seen and a.oid not in (ATTR_DC, ATTR_STREET):
            out.append((SUBJ, f"{_name(a.oid)} appears more than once"))
        seen.add(a.oid)
    return out


_METADATA = {".", "-", " ", "n/a", "na", "none", "null", "-.", "--", "..."}
# ASCII whitespace (as str.strip sees it), '.' and '-': what a metadata value may hold
# besides at most four other characters.
_NOT_INFORMATION = b" .-\t\n\r\x0b\x0c\x1c\x1d\x1e\x1f"
_LONGEST_METADATA = max(len(m) for m in _METADATA)


@lint(
    "e_subject_metadata_only",
    Severity.ERROR,
    "BR 7.1.4.3",
    "Subject attributes must not contain only metadata such as '.', '-' or ' '.",
    CERT,
)
def metadata(doc: CertificateDocument, ctx: LintContext) -> Out:
    out = []
    for a in doc.subject_attrs:
        if (
            a.tag != 0x1E
            and a.value.isascii()
            and len(a.value.translate(None, _NOT_INFORMATION)) > _LONGEST_METADATA
        ):
            continue  # more information than any metadata value holds
        v = _text(a).strip().lower()
        if a.value and (v in _METADATA or not v.strip(".- ")):
            out.append((SUBJ, f"{_name(a.oid)} {_text(a)!r} is metadata, not information"))
    return out


@lint(
    "e_sub_subject_ou_present",
    Severity.ERROR,
    "BR 7.1.2.7.2-5",
    "organizationalUnitName must not appear in subscriber certificates.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.SUBSCRIBER_OU_BANNED_FROM,
)
def ou(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.subject_values(ATTR_OU):
        return [(SUBJ, "organizationalUnitName is present")]
    return ()


@lint(
    "e_sub_subject_email_present",
    Severity.ERROR,
    "BR 7.1.2.7.2-5",
    "emailAddress must not appear in the subject of a TLS subscriber certificate.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=BR2,
)
def email(doc: CertificateDocument, ctx: LintContext) -> Out:
    if doc.subject_values(ATTR_EMAIL):
        return [(SUBJ, "emailAddress is present")]
    return ()


def _level(doc: CertificateDocument) -> str | None:
    oids = doc.policy_oids
    for oid, level in ((POLICY_EV, "EV"), (POLICY_OV, "OV"), (POLICY_IV, "IV"), (POLICY_DV, "DV")):
        if oid in oids:
            return level
    return None


_DV_ALLOWED = frozenset({ATTR_C, ATTR_CN})
# Before the BR 2.0 profile (BR 1.x 7.1.6.1 / 7.1.4.2.2): a DV certificate named no
# organization or address; other attributes were not yet forbidden.
_DV_FORBIDDEN_BR1 = frozenset({ATTR_O, ATTR_STREET, ATTR_L, ATTR_ST, ATTR_POSTAL_CODE})


@lint(
    "e_dv_subject_identity_present",
    Severity.ERROR,
    "BR 7.1.2.7.2; BR 1.x 7.1.4.2.2",
    "A domain-validated certificate's subject may only hold countryName and commonName "
    "(before BR 2.0: no organization or address attributes).",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.BR_1_0,
    revised=BR2,
)
def dv_subject(doc: CertificateDocument, ctx: LintContext) -> Out:
    if _level(doc) != "DV":
        return ()
    br2 = since(doc, ctx, BR2)
    return [
        (SUBJ, f"{_name(a.oid)} in a DV certificate")
        for a in doc.subject_attrs
        if (a.oid not in _DV_ALLOWED if br2 else a.oid in _DV_FORBIDDEN_BR1)
    ]


@lint(
    "e_ov_subject_required_missing",
    Severity.ERROR,
    "BR 7.1.2.7.4",
    "An OV certificate's subject must hold organizationName, countryName and a locality "
    "or stateOrProvince.",
    CERT,
    cert_types=LEAF_TYPES,
)
def ov_subject(doc: CertificateDocument, ctx: LintContext) -> Out:
    if _level(doc) != "OV":
        return ()
    return _identity_missing(doc, need_org=True)


@lint(
    "e_iv_subject_required_missing",
    Severity.ERROR,
    "BR 7.1.2.7.3",
    "An IV certificate's subject must hold givenName and surname, countryName and a "
    "locality or stateOrProvince.",
    CERT,
    cert_types=LEAF_TYPES,
)
def iv_subject(doc: CertificateDocument, ctx: LintContext) -> Out:
    if _level(doc) != "IV":
        return ()
    out = list(_identity_missing(doc, need_org=False))
    named = doc.subject_values(ATTR_GIVEN_NAME) and doc.subject_values(ATTR_SURNAME)
    if not named and not doc.subject_values(ATTR_PSEUDONYM):
        out.append((SUBJ, "IV subject lacks givenName and surname"))
    return out


@lint(
    "e_ev_subject_required_missing",
    Severity.ERROR,
    "EV Guidelines 7.1.4.2; BR 7.1.2.7.5",
    "An EV certificate's subject must hold organizationName, businessCategory, "
    "jurisdictionCountryName, serialNumber and countryName.",
    CERT,
    cert_types=LEAF_TYPES,
)
def ev_subject(doc: CertificateDocument, ctx: LintContext) -> Out:
    if _level(doc) != "EV":
        return ()
    need = (ATTR_O, ATTR_BUSINESS_CATEGORY, ATTR_JURIS_C, ATTR_SERIAL_NUMBER, ATTR_C)
    return [(SUBJ, f"EV subject lacks {_name(o)}") for o in need if not doc.subject_values(o)]


def _identity_missing(doc: CertificateDocument, need_org: bool) -> Out:
    out = []
    if need_org and not doc.subject_values(ATTR_O):
        out.append((SUBJ, "subject lacks organizationName"))
    if not doc.subject_values(ATTR_C):
        out.append((SUBJ, "subject lacks countryName"))
    if not doc.subject_values(ATTR_L) and not doc.subject_values(ATTR_ST):
        out.append((SUBJ, "subject lacks both localityName and stateOrProvinceName"))
    return out


@lint(
    "e_sub_subject_identity_without_policy",
    Severity.ERROR,
    "BR 7.1.2.7.1; BR 7.1.2.7.9",
    "Subject identity information (organizationName, givenName, surname) requires an "
    "OV, IV or EV reserved policy OID.",
    CERT,
    cert_types=LEAF_TYPES,
)
def identity_needs_policy(doc: CertificateDocument, ctx: LintContext) -> Out:
    if _level(doc) in ("OV", "IV", "EV") or doc.safe("policies") is None:
        return ()
    return [
        (SUBJ, f"{_name(a.oid)} present without an OV/IV/EV policy")
        for a in doc.subject_attrs
        if a.oid in (ATTR_O, ATTR_GIVEN_NAME, ATTR_SURNAME)
    ]


# --- commonName and subjectAltName -------------------------------------------------------


@lint(
    "e_sub_cn_not_in_san",
    Severity.ERROR,
    "BR 7.1.4.3; BR 7.1.2.7.2",
    "A subscriber commonName must be exactly one of the subjectAltName entries.",
    CERT,
    cert_types=LEAF_TYPES,
)
def cn_in_san(doc: CertificateDocument, ctx: LintContext) -> Out:
    cns = doc.subject_values(ATTR_CN)
    if not cns:
        return ()
    out = []
    if len(cns) > 1:
        out.append((SUBJ, f"{len(cns)} commonName attributes"))
    dns = {n.lower() for n in doc.dns_names}
    ips = {names.ip_text(ip) for ip in doc.ip_addresses}
    for cn in cns:
        text = _text(cn)
        if text.lower() not in dns and text not in ips:
            out.append((SUBJ, f"commonName {text!r} is not a subjectAltName entry"))
    return out


@lint(
    "e_sub_san_type_not_allowed",
    Severity.ERROR,
    "BR 7.1.2.7.12",
    "A subscriber subjectAltName may only hold dNSName and iPAddress entries.",
    CERT,
    cert_types=LEAF_TYPES,
)
def san_types(doc: CertificateDocument, ctx: LintContext) -> Out:
    kinds = {
        0: "otherName",
        1: "rfc822Name",
        3: "x400Address",
        4: "directoryName",
        5: "ediPartyName",
        6: "URI",
        8: "registeredID",
    }
    return [
        (SAN, f"subjectAltName holds a {kinds.get(g.tag, str(g.tag))} entry")
        for g in doc.safe("san") or []
        if g.tag not in (GN_DNS, GN_IP)
    ]


@lint(
    "w_san_duplicate_entry",
    Severity.WARNING,
    "RFC 5280 4.2.1.6",
    "A subjectAltName entry appears more than once.",
    CERT,
)
def san_dup(doc: CertificateDocument, ctx: LintContext) -> Out:
    san = doc.safe("san") or []
    seen: set[tuple[int, bytes]] = set()
    out = []
    for g in san:
        key = (g.tag, g.value.lower() if g.tag == GN_DNS else g.value)
        if key in seen:
            out.append((SAN, f"{g.text!r} is listed twice"))
        seen.add(key)
    return out


def _dns_syntax(doc: CertificateDocument) -> dict[str, list[tuple[str, str]]]:
    got: dict[str, list[tuple[str, str]]] | None = doc.memo.get("dns_syntax")
    if got is None:
        got = {}
        for name in doc.dns_names:
            for kind, message in names.dns_name_syntax_problems(name):
                got.setdefault(kind, []).append((SAN, message))
        doc.memo["dns_syntax"] = got
    return got


def _registry(doc: CertificateDocument, ctx: LintContext) -> dict[str, list[tuple[str, str]]]:
    got: dict[str, list[tuple[str, str]]] | None = doc.memo.get("dns_registry")
    if got is None:
        got = {}
        at = doc.reference_time
        tld = ctx.tld or TldData.default()
        if at is not None:
            for name in doc.dns_names:
                for kind, message in names.registry_problems(name, at.date(), tld):
                    got.setdefault(kind, []).append((SAN, message))
        doc.memo["dns_registry"] = got
    return got


def _dns_lint(
    lint_id: str,
    kinds: tuple[str, ...],
    citation: str,
    description: str,
    severity: Severity = Severity.ERROR,
    registry: bool = False,
) -> None:
    def check(doc: CertificateDocument, ctx: LintContext) -> Out:
        found = _registry(doc, ctx) if registry else _dns_syntax(doc)
        if not found:
            return ()
        return [item for kind in kinds for item in found.get(kind, ())]

    lint(lint_id, severity, citation, description, CERT)(check)


_dns_lint(
    "e_san_dns_name_empty",
    (names.EMPTY, names.EMPTY_LABEL),
    "RFC 5280 4.2.1.6; RFC 1034 3.5",
    "dNSName entries must be non-empty, fully-qualified names without empty labels.",
)
_dns_lint(
    "e_san_dns_name_too_long",
    (names.TOO_LONG,),
    "RFC 1034 3.1",
    "A dNSName must be at most 253 characters.",
)
_dns_lint(
    "e_san_dns_label_too_long",
    (names.LABEL_TOO_LONG,),
    "RFC 1034 3.1",
    "Each dNSName label must be at most 63 characters.",
)
_dns_lint(
    "e_san_dns_name_bad_character",
    (names.BAD_CHAR,),
    "RFC 5280 4.2.1.6; RFC 1034 3.5; BR 7.1.2.7.12",
    "dNSName labels must be letters, digits and hyphens (LDH), in A-label form.",
)
_dns_lint(
    "e_san_dns_name_underscore",
    (names.UNDERSCORE,),
    "BR 7.1.2.7.12",
    "dNSName entries must not contain underscores.",
)
_dns_lint(
    "e_san_dns_label_hyphen_edge",
    (names.HYPHEN_EDGE,),
    "RFC 1034 3.5; BR 7.1.2.7.12",
    "dNSName labels must not start or end with a hyphen.",
)
_dns_lint(
    "e_san_dns_wildcard_position",
    (names.WILDCARD,),
    "BR 7.1.2.7.12; RFC 6125 6.4.3",
    "A wildcard may only be the entire leftmost label.",
)
_dns_lint(
    "e_san_dns_reserved_label",
    (names.RESERVED_LABEL,),
    "RFC 5890 2.3.1; BR 7.1.2.7.12",
    "Labels with '--' in positions 3-4 are reserved unless they are valid xn-- A-labels.",
)
_dns_lint(
    "e_san_dns_invalid_idn",
    (names.BAD_IDN,),
    "RFC 5890 2.3.2.1; BR 7.1.2.7.12",
    "xn-- labels must be valid Punycode A-labels.",
)
_dns_lint(
    "e_san_dns_trailing_dot",
    (names.TRAILING_DOT,),
    "BR 7.1.2.7.12; RFC 5280 4.2.1.6",
    "dNSName entries must not end with a dot.",
)
_dns_lint(
    "e_san_dns_is_ip_address",
    (names.IP_LITERAL,),
    "BR 7.1.2.7.12",
    "An IP address must be an iPAddress entry, not a dNSName.",
)
_dns_lint(
    "e_san_dns_tld_not_delegated",
    ("tld",),
    "BR 7.1.2.7.12; BR 3.2.2.4",
    "The TLD must have been delegated in the root zone at the certificate's notBefore.",
    registry=True,
)
_dns_lint(
    "e_san_dns_internal_name",
    ("internal",),
    "BR 7.1.2.7.12; BR 4.2.2",
    "Internal names (TLD not an ICANN public suffix) must not be certified.",
    registry=True,
)
_dns_lint(
    "e_san_dns_wildcard_public_suffix",
    ("wildcard_suffix",),
    "BR 3.2.2.6",
    "A wildcard must not sit directly over a public suffix (ICANN or private PSL section).",
    registry=True,
)
_dns_lint(
    "e_san_dns_public_suffix",
    ("bare_suffix",),
    "BR 3.2.2.6; BR 7.1.2.7.12",
    "A dNSName must not be a bare public suffix.",
    registry=True,
)


@lint(
    "e_san_ip_address_invalid",
    Severity.ERROR,
    "RFC 5280 4.2.1.6; BR 7.1.2.7.12",
    "iPAddress entries must be 4 or 16 octets and not reserved (IANA special-purpose).",
    CERT,
)
def san_ip(doc: CertificateDocument, ctx: LintContext) -> Out:
    out = []
    for raw in doc.ip_addresses:
        problem = names.ip_problem(raw)
        if problem:
            out.append((SAN, problem))
    return out
