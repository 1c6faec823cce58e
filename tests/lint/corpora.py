"""Public lint corpora (pkilint's TLS BR and CRL cases, zlint's cabf_br and rfc testdata)
read as cases, and certkeeper's verdict on each.

The corpora are vendored data under tests/data/corpora (see each SOURCE file). A case
disagrees with certkeeper when the corpus expects a defect certkeeper does not report
(for zlint: no finding of a certkeeper lint mapped to the zlint lint under test), or when
pkilint expects no error and certkeeper reports one. Shared by tests/lint/test_corpora.py
and benchmarks/lint_corpora.py.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import cache
from pathlib import Path

from certkeeper.lint.catalogue import run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document.certificate import CertificateDocument
from certkeeper.lint.document.crl import CrlDocument
from certkeeper.lint.document.loading import load_document
from certkeeper.lint.engine import CertType, Document, Finding, Severity
from certkeeper.lint.scope import out_of_scope

ROOT = Path(__file__).resolve().parents[1] / "data" / "corpora"
DISAGREEMENTS = ROOT / "disagreements.csv"
ZLINT_MAP = ROOT / "zlint_map.csv"

# pkilint's certificate type (its test directory) -> what certkeeper lints it as (the
# corpus names the type, as `certkeeper lint --type` would).
PKILINT_TYPES: dict[str, CertType | None] = {
    "dv_final_certificate": CertType.SUBSCRIBER,
    "ov_final_certificate": CertType.SUBSCRIBER,
    "iv_final_certificate": CertType.SUBSCRIBER,
    "ev_final_certificate": CertType.SUBSCRIBER,
    "dv_pre_certificate": CertType.PRECERTIFICATE,
    "ov_pre_certificate": CertType.PRECERTIFICATE,
    "iv_pre_certificate": CertType.PRECERTIFICATE,
    "ev_pre_certificate": CertType.PRECERTIFICATE,
    "root_ca": CertType.ROOT,
    "external_constrained_tls_ca": CertType.SUBORDINATE_CA,
    "external_cross_ca": CertType.SUBORDINATE_CA,
    "external_unconstrained_ev_tls_ca": CertType.SUBORDINATE_CA,
    "external_unconstrained_tls_ca": CertType.SUBORDINATE_CA,
    "internal_constrained_tls_ca": CertType.SUBORDINATE_CA,
    "internal_cross_ca": CertType.SUBORDINATE_CA,
    "internal_subscriber_issuing_cross_ca": CertType.SUBORDINATE_CA,
    "internal_unconstrained_tls_ca": CertType.SUBORDINATE_CA,
    "non_tls_ca": CertType.NON_TLS_CA,
    "precert_signing_ca": CertType.PRECERT_SIGNING_CA,
    "ocsp_responder": CertType.OCSP_RESPONDER,
}
_FAILING = {"ERROR", "FATAL"}


@dataclass(frozen=True)
class Case:
    """One corpus document and what the corpus expects of it."""

    corpus: str  # "pkilint" or "zlint"
    name: str  # pkilint: path under the corpus directory; zlint: "<testdata file>#<lint>"
    pem: bytes
    cert_type: CertType | None
    expect_fail: bool
    expected: tuple[str, ...] = ()  # pkilint codes (ERROR/FATAL), or the zlint lint names
    wanted: frozenset[str] = field(default_factory=frozenset)  # certkeeper ids naming it

    def document(self) -> Document:
        doc = load_document(self.pem, self.name)
        if self.cert_type is not None and isinstance(doc, CertificateDocument):
            return CertificateDocument(doc.der, self.cert_type, name=self.name)
        if self.name.startswith("crl/") and not isinstance(doc, CrlDocument):
            return CrlDocument(doc.der, name=self.name)
        return doc


def _split_pkilint(text: str) -> tuple[bytes, list[dict[str, str]]]:
    """A .crttest/.crltest file: a PEM block, then the CSV of expected findings."""
    end = text.index("-----END ")
    end = text.index("\n", end) if "\n" in text[end:] else len(text)
    rows = [line for line in text[end:].splitlines() if line.strip()]
    return text[:end].encode(), list(csv.DictReader(io.StringIO("\n".join(rows))))


@cache
def pkilint_cases() -> tuple[Case, ...]:
    cases = []
    base = ROOT / "pkilint"
    for path in sorted(base.rglob("*.c*test")):
        pem, rows = _split_pkilint(path.read_text(encoding="utf-8"))
        codes = tuple(sorted({r["code"] for r in rows if r["severity"] in _FAILING}))
        rel = path.relative_to(base).as_posix()
        kind = path.parent.name
        cases.append(Case("pkilint", rel, pem, PKILINT_TYPES.get(kind), bool(codes), codes))
    return tuple(cases)


def zlint_map() -> dict[str, frozenset[str]]:
    """zlint lint name -> the certkeeper lint ids that report the same defect."""
    with ZLINT_MAP.open(encoding="utf-8") as f:
        return {r["zlint"]: frozenset(r["certkeeper"].split()) for r in csv.DictReader(_rows(f))}


@cache
def zlint_cases() -> tuple[Case, ...]:
    """One case per (testdata file, cabf_br or rfc lint that expects it to fail)."""
    base = ROOT / "zlint"
    mapping = zlint_map()
    cases = []
    with (base / "expected.csv").open(encoding="utf-8") as f:
        rows = sorted((r["file"], r["lint"]) for r in csv.DictReader(f) if r["status"] == "Error")
    for file, lint in rows:
        pem = (base / "testdata" / file).read_bytes()
        wanted = mapping.get(lint, frozenset())
        cases.append(Case("zlint", f"{file}#{lint}", pem, None, True, (lint,), wanted))
    return tuple(cases)


def errors(findings: Iterable[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity >= Severity.ERROR]


@cache
def _findings(pem: bytes, name: str, cert_type: CertType | None) -> tuple[Finding, ...]:
    doc = Case("", name, pem, cert_type, False).document()
    if cert_type is None and out_of_scope(doc):
        return ()  # as `certkeeper lint` without --type: not a TLS certificate
    return tuple(run_lints(doc, LintContext(legacy=True)))


def certkeeper_findings(case: Case) -> tuple[Finding, ...]:
    """Every finding, legacy ones included (rules newer than the document), computed once
    per document: several zlint cases share a testdata file."""
    return _findings(case.pem, case.name.split("#")[0], case.cert_type)


def verdict(case: Case, findings: Iterable[Finding]) -> str | None:
    """How certkeeper disagrees with the corpus on this case, or None when it agrees.

    pkilint judges most rules as they stand today whatever the certificate's date, so a
    legacy finding counts as flagging a failing case; on a case pkilint expects to pass,
    only a real defect is a false positive (a legacy finding says the certificate was
    compliant when issued). zlint judges by the rules in force at notBefore, so a zlint
    error that certkeeper names only as legacy means the two date the rule differently."""
    findings = list(findings)
    if case.corpus == "zlint":
        named = [f for f in findings if f.lint_id in case.wanted]
        if not named:
            return "missed"
        return None if any(not f.legacy for f in named) else "legacy_only"
    found = errors(findings)
    if case.expect_fail and not found:
        return "missed"
    if not case.expect_fail and any(not f.legacy for f in found):
        return "false_positive"
    return None


def _rows(lines: Iterable[str]) -> Iterable[str]:
    """CSV lines without comments (#) and blank lines."""
    return (line for line in lines if line.strip() and not line.startswith("#"))


def listed_disagreements() -> dict[tuple[str, str, str], str]:
    """(corpus, case, kind) -> reason, from disagreements.csv."""
    with DISAGREEMENTS.open(encoding="utf-8") as f:
        return {(r["corpus"], r["case"], r["kind"]): r["reason"] for r in csv.DictReader(_rows(f))}
