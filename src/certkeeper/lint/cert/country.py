"""countryName values against the ISO 3166-1 alpha-2 list (BR 7.1.2.10.2, 7.1.2.7.3-4).

Two capital letters are not enough: "UK" and "EU" look like codes and are not assigned.
The list is packaged data (`lint/data/iso3166_alpha2.csv`, from Debian's iso-codes).
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from functools import cache
from importlib import resources

from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.engine import LEAF_TYPES, DocType, Severity, lint
from certkeeper.x509.oids import ATTR_C, ATTR_JURIS_C

Out = Iterable[tuple[str, str]]
SUBJ = "tbsCertificate.subject"
FILENAME = "iso3166_alpha2.csv"
# ISO 3166-1 user-assigned code the BR allow for a subscriber whose country has no
# official code (BR 7.1.2.7.3, 7.1.2.7.4); a CA states the country of its business.
USER_ASSIGNED_UNKNOWN = "XX"


@cache
def assigned_codes() -> frozenset[str]:
    """The officially assigned ISO 3166-1 alpha-2 codes."""
    text = resources.files("certkeeper.lint").joinpath("data", FILENAME).read_text("utf-8")
    return frozenset(row["alpha2"] for row in csv.DictReader(io.StringIO(text)))


@lint(
    "e_subject_country_not_assigned",
    Severity.ERROR,
    "BR 7.1.2.10.2; BR 7.1.2.7.3; BR 7.1.2.7.4; X.520 6.3.1",
    "countryName and jurisdictionCountryName must be officially assigned ISO 3166-1 "
    "alpha-2 codes (XX only for a subscriber whose country has none).",
    (DocType.CERTIFICATE,),
)
def country_assigned(doc: CertificateDocument, ctx: LintContext) -> Out:
    codes = assigned_codes()
    leaf = doc.cert_type in LEAF_TYPES
    out = []
    for oid, label in ((ATTR_C, "countryName"), (ATTR_JURIS_C, "jurisdictionCountryName")):
        for a in doc.subject_values(oid):
            text = a.value.decode("latin-1")
            if len(text) != 2 or not text.isupper():
                continue  # e_subject_country_invalid reports the shape
            if text in codes or (leaf and text == USER_ASSIGNED_UNKNOWN):
                continue
            out.append((SUBJ, f"{label} {text!r} is not an assigned ISO 3166-1 code"))
    return out
