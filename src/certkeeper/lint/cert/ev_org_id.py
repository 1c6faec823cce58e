"""EV organizationIdentifier: the subject attribute's syntax (EV Guidelines 9.2.8) and the
CA/Browser Forum organizationIdentifier extension that must repeat it (EVG 9.8.2).

An EV certificate names its subject's registration as SCHEME + COUNTRY [+ "+" STATE] +
"-" + REFERENCE, e.g. "NTRGB-12345678". A relying party reads either the attribute or
the extension, so the two must agree field by field.
"""

from __future__ import annotations

import re
from typing import NamedTuple

from certkeeper import br
from certkeeper.lint.cert.common import CERT, EXT, SUBJ, Out
from certkeeper.lint.cert.country import assigned_codes
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import LEAF_TYPES, Severity, lint
from certkeeper.x509.der import DerError, children, header
from certkeeper.x509.oids import ATTR_ORG_ID, OID_CABF_ORG_ID, POLICY_EV

_FORMAT = re.compile(r"([A-Z]{3})([A-Z]{2})(?:\+([^-]*))?-(.+)", re.DOTALL)
# EVG 9.2.8: the registration schemes; VAT also takes EL (Greece) and XI (Northern
# Ireland), the codes the EU VAT system uses; only NTR may name a state or province.
_SCHEMES = ("NTR", "VAT", "PSD")
_VAT_EXTRA_COUNTRIES = frozenset({"EL", "XI"})


class OrgId(NamedTuple):
    scheme: str
    country: str
    state: str | None
    reference: str


def parse_org_id(text: str) -> OrgId | None:
    m = _FORMAT.fullmatch(text)
    if m is None:
        return None
    return OrgId(m.group(1), m.group(2), m.group(3), m.group(4))


def org_id_problems(org: OrgId) -> list[str]:
    """What EVG 9.2.8 rejects in a parsed organizationIdentifier."""
    if org.scheme not in _SCHEMES:
        return [f"registration scheme {org.scheme!r} is not one of {', '.join(_SCHEMES)}"]
    out = []
    countries = assigned_codes() | (_VAT_EXTRA_COUNTRIES if org.scheme == "VAT" else set())
    if org.country not in countries:
        out.append(f"country {org.country!r} is not an ISO 3166-1 code for scheme {org.scheme}")
    if org.state is not None:
        if org.scheme != "NTR":
            out.append(f"scheme {org.scheme} does not allow a state or province")
        elif not (len(org.state) == 2 and org.state.isalpha()):
            out.append(f"state or province {org.state!r} is not a two-letter code")
    return out


def _is_ev(doc: CertificateDocument) -> bool:
    return POLICY_EV in doc.policy_oids


def _subject_org_ids(doc: CertificateDocument) -> list[str]:
    return [a.value.decode("utf-8", "replace") for a in doc.subject_values(ATTR_ORG_ID)]


@lint(
    "e_ev_organization_identifier_invalid",
    Severity.ERROR,
    "EVG 9.2.8",
    "An EV organizationIdentifier (subject attribute or CA/B Forum extension) must name "
    "scheme NTR, VAT or PSD, an ISO 3166-1 country, a state only for NTR, and a reference.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.EV_ORGANIZATION_IDENTIFIER_FROM,
)
def org_id_syntax(doc: CertificateDocument, ctx: LintContext) -> Out:
    if not _is_ev(doc):
        return ()
    out = []
    for text in _subject_org_ids(doc):
        org = parse_org_id(text)
        if org is None:
            out.append((SUBJ, f"organizationIdentifier {text!r} is not SCHEME+CC[+SP]-REF"))
            continue
        out += [(SUBJ, f"organizationIdentifier {text!r}: {p}") for p in org_id_problems(org)]
    ext = _extension(doc)
    if isinstance(ext, OrgId):
        where = f"{EXT}.cabfOrganizationIdentifier"
        out += [(where, f"extension: {p}") for p in org_id_problems(ext)]
    return out


def _extension(doc: CertificateDocument) -> OrgId | str | None:
    """The cabfOrganizationIdentifier extension parsed, a reason it cannot be, or None."""
    ext = doc.ext.get(OID_CABF_ORG_ID)
    if ext is None:
        return None
    v = ext.value
    try:
        tag, cs, ce = header(v, 0, len(v))
        parts = children(v, cs, ce) if tag == 0x30 and ce == len(v) else []
    except DerError as exc:
        return f"cannot be decoded: {exc}"
    tags = [t for t, _, _ in parts]
    if tags not in ([0x13, 0x13, 0x0C], [0x13, 0x13, 0x80, 0x0C]):
        return "is not SEQUENCE { scheme, country, [0] state OPTIONAL, reference }"
    texts = [v[c:e].decode("utf-8", "replace") for _, c, e in parts]
    state = texts[2] if len(texts) == 4 else None
    return OrgId(texts[0], texts[1], state, texts[-1])


@lint(
    "e_ev_organization_identifier_extension_mismatch",
    Severity.ERROR,
    "EVG 9.8.2",
    "An EV certificate with a subject organizationIdentifier must carry the CA/B Forum "
    "organizationIdentifier extension (2.23.140.3.1), repeating each of its fields.",
    CERT,
    cert_types=LEAF_TYPES,
    effective=br.EV_ORGANIZATION_IDENTIFIER_FROM,
)
def org_id_extension(doc: CertificateDocument, ctx: LintContext) -> Out:
    if not _is_ev(doc):
        return ()
    where = f"{EXT}.cabfOrganizationIdentifier"
    ext = _extension(doc)
    if isinstance(ext, str):
        return [(where, f"the extension {ext}")]
    subject = [parse_org_id(t) for t in _subject_org_ids(doc)]
    if not subject:
        return ()
    if ext is None:
        return [(EXT, "subject has organizationIdentifier but the extension is absent")]
    org = subject[0]
    if org is None or org == ext:
        return ()
    fields = [n for n in OrgId._fields if getattr(org, n) != getattr(ext, n)]
    return [(where, f"the extension differs from the subject attribute in {', '.join(fields)}")]
