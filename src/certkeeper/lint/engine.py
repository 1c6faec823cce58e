"""The lint engine: what a lint is, what it finds, and the catalogue it registers in.

Each lint is a small declaration (stable id, severity, citation, the documents and
certificate types it applies to, the dates it is in force) around a pure check
function. The catalogue is data: `certkeeper lint --list` and the docs are generated
from it. Lints are filtered by date against the document's own reference time
(certificate notBefore, CRL thisUpdate, OCSP producedAt), so a rule that takes effect in
2026 does not fire on a 2025 certificate.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import date, datetime
from enum import IntEnum, StrEnum
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from certkeeper.lint.context import LintContext


class Severity(IntEnum):
    """Ordered so that `severity >= Severity.ERROR` reads naturally."""

    INFO = 1
    NOTICE = 2
    WARNING = 3
    ERROR = 4
    FATAL = 5

    def __str__(self) -> str:
        return self.name


class DocType(StrEnum):
    CERTIFICATE = "certificate"
    CRL = "crl"
    OCSP_RESPONSE = "ocsp_response"


class CertType(StrEnum):
    """What a certificate is for; lints declare which of these they apply to."""

    ROOT = "root"
    SUBORDINATE_CA = "subordinate_ca"
    PRECERT_SIGNING_CA = "precert_signing_ca"  # RFC 6962 3.1; BR 7.1.2.4
    SUBSCRIBER = "subscriber"
    PRECERTIFICATE = "precertificate"
    OCSP_RESPONDER = "ocsp_responder"
    # BR 7.1.2.3: a Technically Constrained Non-TLS Subordinate CA (its extKeyUsage rules
    # out TLS). Never detected: named with `--type non-tls-ca`, since detection reports a
    # CA limited to other purposes as out of scope.
    NON_TLS_CA = "non_tls_ca"


ALL_CERT_TYPES = frozenset(CertType)
LEAF_TYPES = frozenset({CertType.SUBSCRIBER, CertType.PRECERTIFICATE})
CA_TYPES = frozenset({CertType.ROOT, CertType.SUBORDINATE_CA, CertType.PRECERT_SIGNING_CA})

# Lint sets: which lints run where.
PRE_ISSUANCE = "pre-issuance"
AUDIT = "audit"
ALL_SETS = frozenset({PRE_ISSUANCE, AUDIT})

# Lint sources: whose rules a lint encodes, selectable like zlint's sources. "br" is the
# CA/Browser Forum TLS Baseline Requirements with the RFCs they build on; "mozilla" is
# the Mozilla Root Store Policy, stricter in places (no P-521 keys).
SOURCE_BR = "br"
SOURCE_MOZILLA = "mozilla"
ALL_SOURCES = frozenset({SOURCE_BR, SOURCE_MOZILLA})


@dataclass(frozen=True, slots=True)
class Finding:
    """One thing a linter found wrong (or noteworthy) in one document."""

    lint_id: str
    severity: Severity
    location: str  # field path, e.g. "tbsCertificate.extensions.basicConstraints"
    message: str  # names the offending value
    linter: str = "certkeeper"
    citation: str = ""
    # The rule broken took effect after the document's own time: a way an old document
    # falls short of today's rules, not a defect of its issuance (LintContext.legacy).
    legacy: bool = False

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "linter": self.linter,
            "lint_id": self.lint_id,
            "severity": str(self.severity),
            "location": self.location,
            "message": self.message,
            "citation": self.citation,
        }
        if self.legacy:
            out["legacy"] = True
        return out


class Document:
    """A parsed document a lint looks at. Subclasses live in `certkeeper.lint.document`."""

    doc_type: DocType
    der: bytes

    @property
    def cert_type(self) -> CertType | None:
        return None

    @property
    def reference_time(self) -> datetime | None:
        """The time against which effective dates are judged."""
        return None


# A check yields (location, message) pairs; the engine turns them into Findings.
CheckFn = Callable[[Any, "LintContext"], Iterable[tuple[str, str]]]


@dataclass(frozen=True)
class Lint:
    id: str
    severity: Severity
    citation: str
    description: str
    doc_types: frozenset[DocType]
    check: CheckFn
    cert_types: frozenset[CertType] = ALL_CERT_TYPES
    effective: date | None = None  # in force for documents whose reference time >= this
    ineffective: date | None = None  # no longer in force from this date
    # The rule was tightened on this date and the check tells the two apart (`since`);
    # with LintContext.legacy, an older document is also judged by today's version.
    revised: date | None = None
    sets: frozenset[str] = ALL_SETS
    source: str = SOURCE_BR

    def applies_to(self, doc: Document) -> bool:
        if doc.doc_type not in self.doc_types:
            return False
        if doc.doc_type is DocType.CERTIFICATE:
            ctype = doc.cert_type
            if ctype is None or ctype not in self.cert_types:
                return False
        ref = doc.reference_time
        if ref is not None:
            day = ref.date()
            if self.effective is not None and day < self.effective:
                return False
            if self.ineffective is not None and day >= self.ineffective:
                return False
        return True


@dataclass
class Registry:
    """The catalogue of lints, in registration order."""

    lints: dict[str, Lint] = field(default_factory=dict)

    def add(self, lint: Lint) -> Lint:
        if lint.id in self.lints:
            raise ValueError(f"lint id {lint.id} registered twice")
        if lint.id[:2] not in ("e_", "w_", "n_", "i_", "f_"):
            raise ValueError(f"lint id {lint.id} must start with e_, w_, n_, i_ or f_")
        if lint.source not in ALL_SOURCES:
            raise ValueError(f"lint {lint.id} has unknown source {lint.source!r}")
        self.lints[lint.id] = lint
        return lint


REGISTRY = Registry()


def lint(
    id: str,
    severity: Severity,
    citation: str,
    description: str,
    doc_types: Iterable[DocType],
    cert_types: Iterable[CertType] = ALL_CERT_TYPES,
    effective: date | None = None,
    ineffective: date | None = None,
    sets: Iterable[str] = ALL_SETS,
    source: str = SOURCE_BR,
    revised: date | None = None,
    tls_only: bool = False,
) -> Callable[[CheckFn], CheckFn]:
    """Decorator that registers a check function as a lint in the global catalogue.

    A lint for subordinate CAs applies to non-TLS subordinate CAs too (BR 7.1.2.3 builds
    on the common CA rules of 7.1.2.10), unless it encodes a TLS-only rule (`tls_only`)."""
    types = frozenset(cert_types)
    if CertType.SUBORDINATE_CA in types and not tls_only:
        types |= {CertType.NON_TLS_CA}
    elif tls_only:
        types -= {CertType.NON_TLS_CA}

    def wrap(fn: CheckFn) -> CheckFn:
        REGISTRY.add(
            Lint(
                id=id,
                severity=severity,
                citation=citation,
                description=description,
                doc_types=frozenset(doc_types),
                check=fn,
                cert_types=types,
                effective=effective,
                ineffective=ineffective,
                revised=revised,
                sets=frozenset(sets),
                source=source,
            )
        )
        return fn

    return wrap


def worst(findings: Iterable[Finding]) -> Severity | None:
    """The most severe finding's severity, or None when there are none."""
    return max((f.severity for f in findings), default=None)
