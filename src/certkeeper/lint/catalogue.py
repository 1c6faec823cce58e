"""The full catalogue: importing this module registers every certkeeper lint.

`run_lints` is the entry point issuance, the CLI and re-linting use. It keeps the
selection of lints per (document type, certificate type, lint set) in a cache, so
linting a certificate costs the checks themselves and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from bisect import bisect_right
from collections.abc import Iterable
from dataclasses import replace
from datetime import date

from certkeeper.lint.context import LintContext
from certkeeper.lint.engine import AUDIT, REGISTRY, DocType, Document, Finding, Lint, Severity

_loaded = False
_selection: dict[tuple[object, ...], _Selection] = {}


def lint_modules() -> list[str]:
    """Every module of every sub-package of `certkeeper.lint`, in name order.

    A lint lives in such a module and registers itself when it is imported, so adding
    a lint (or a lint module, or a package of them) needs no list to be kept up to date.
    The package's own top-level modules and the `document` package (the parsed
    documents the lints read) are the machinery, not lints.
    """
    import certkeeper.lint as package

    found: list[str] = []
    for sub in sorted(pkgutil.iter_modules(package.__path__), key=lambda m: m.name):
        if not sub.ispkg or sub.name == "document":
            continue
        pkg = importlib.import_module(f"{package.__name__}.{sub.name}")
        found += sorted(
            f"{pkg.__name__}.{m.name}" for m in pkgutil.iter_modules(pkg.__path__) if not m.ispkg
        )
    return found


def load_all() -> None:
    """Import every lint module (registration happens at import)."""
    global _loaded
    if _loaded:
        return
    for module in lint_modules():
        importlib.import_module(module)
    _loaded = True


def all_lints() -> list[Lint]:
    load_all()
    return list(REGISTRY.lints.values())


# What a dated lint does for a document of a given day (see `_plan`).
_RUN, _LEGACY, _RUN_AND_REVISED = 0, 1, 2
_Plan = list[tuple[Lint, int]]


class _Selection:
    """The lints that apply to one kind of document, split into those with no dates and
    those with dates; the latter's plan per span of days between their dates is kept, so
    a document pays one bisection for its dates instead of three comparisons a lint."""

    __slots__ = ("breaks", "dated", "plans", "undated")

    def __init__(self, undated: list[Lint], dated: list[Lint]) -> None:
        self.undated = undated
        self.dated = dated
        days: set[date] = set()
        for lint in dated:
            days.update(d for d in (lint.effective, lint.ineffective, lint.revised) if d)
        self.breaks = sorted(days)
        self.plans: dict[tuple[int, bool], _Plan] = {}

    def plan(self, day: date | None, legacy: bool) -> _Plan:
        span = -1 if day is None else bisect_right(self.breaks, day)
        got = self.plans.get((span, legacy))
        if got is None:
            got = [(lint, mode) for lint in self.dated if (mode := _mode(lint, day, legacy)) >= 0]
            self.plans[(span, legacy)] = got
        return got


def _mode(lint: Lint, day: date | None, legacy: bool) -> int:
    """How a dated lint treats a document of `day` (every day in a span between the
    lints' dates gets the same answer): -1 skipped."""
    if day is not None and lint.ineffective is not None and day >= lint.ineffective:
        return -1
    if day is not None and lint.effective is not None and day < lint.effective:
        return _LEGACY if legacy else -1
    if legacy and day is not None and lint.revised is not None and day < lint.revised:
        return _RUN_AND_REVISED
    return _RUN


def _select(
    doc: Document,
    lint_set: str,
    only: frozenset[str] | None = None,
    sources: frozenset[str] | None = None,
) -> _Selection:
    """The lints (without dates; with effective dates) that apply to this kind of doc."""
    # The registry object and its size are part of the key: tests and plugins may swap
    # or extend the catalogue, and a stale selection would silently skip lints.
    key = (doc.doc_type, doc.cert_type, lint_set, id(REGISTRY), len(REGISTRY.lints), only, sources)
    got = _selection.get(key)
    if got is None:
        undated: list[Lint] = []
        dated: list[Lint] = []
        for lint in REGISTRY.lints.values():
            if lint_set not in lint.sets or doc.doc_type not in lint.doc_types:
                continue
            if only is not None and lint.id not in only:
                continue
            if sources is not None and lint.source not in sources:
                continue
            if doc.doc_type is DocType.CERTIFICATE and doc.cert_type not in lint.cert_types:
                continue
            if lint.effective is None and lint.ineffective is None and lint.revised is None:
                undated.append(lint)
            else:
                dated.append(lint)
        got = _Selection(undated, dated)
        _selection[key] = got
    return got


def run_lints(
    doc: Document,
    ctx: LintContext,
    lint_set: str = AUDIT,
    only: Iterable[str] | None = None,
    sources: Iterable[str] | None = None,
) -> list[Finding]:
    """Run every applicable lint (or those in `only`, from `sources`: all when None) and
    return the findings."""
    load_all()
    selection = _select(
        doc,
        lint_set,
        None if only is None else frozenset(only),
        None if sources is None else frozenset(sources),
    )
    findings: list[Finding] = []
    for lint in selection.undated:
        try:
            results = lint.check(doc, ctx)
            if results:
                for location, message in results:
                    findings.append(
                        _finding(lint.id, lint.severity, location, message, lint.citation, False)
                    )
        except Exception as exc:  # a lint must never crash the run: report it instead
            findings.append(_crashed(lint, exc))
    if selection.dated:
        ref = doc.reference_time
        for lint, mode in selection.plan(None if ref is None else ref.date(), ctx.legacy):
            if mode == _LEGACY:
                _run_one(lint, doc, _todays(ctx), findings, legacy=True)
                continue
            _run_one(lint, doc, ctx, findings)
            if mode == _RUN_AND_REVISED:
                _run_revised(lint, doc, ctx, findings)
    return findings


def _todays(ctx: LintContext) -> LintContext:
    return ctx if ctx.todays_rules else replace(ctx, todays_rules=True)


def _run_revised(lint: Lint, doc: Document, ctx: LintContext, findings: list[Finding]) -> None:
    """What today's version of a revised rule finds beyond the version in force for an
    older document, as legacy findings."""
    already = {(f.lint_id, f.location, f.message) for f in findings}
    today: list[Finding] = []
    _run_one(lint, doc, _todays(ctx), today, legacy=True)
    findings.extend(f for f in today if (f.lint_id, f.location, f.message) not in already)


def _crashed(lint: Lint, exc: Exception) -> Finding:
    return Finding(
        "f_lint_crashed",
        Severity.FATAL,
        lint.id,
        f"lint {lint.id} could not evaluate the document: {type(exc).__name__}: {exc}",
    )


def _run_one(
    lint: Lint, doc: Document, ctx: LintContext, findings: list[Finding], legacy: bool = False
) -> None:
    """Lint.run without the generator: same findings, same crash reporting."""
    try:
        results = lint.check(doc, ctx)
        if results:
            for location, message in results:
                findings.append(
                    _finding(lint.id, lint.severity, location, message, lint.citation, legacy)
                )
    except Exception as exc:  # a lint must never crash the run: report it instead
        findings.append(_crashed(lint, exc))


_new = object.__new__
_SET_FIELDS = tuple(
    getattr(Finding, name).__set__
    for name in ("lint_id", "severity", "location", "message", "linter", "citation", "legacy")
)


def _finding(
    lint_id: str, severity: Severity, location: str, message: str, citation: str, legacy: bool
) -> Finding:
    """Finding(...) for a certkeeper lint, without the frozen dataclass's __init__: it
    sets each field through object.__setattr__, which cost about a microsecond a finding
    (benchmarks/lint_corpora.py). Same fields, same defaults, same frozen object."""
    f = _new(Finding)
    s_id, s_sev, s_loc, s_msg, s_linter, s_cit, s_legacy = _SET_FIELDS
    s_id(f, lint_id)
    s_sev(f, severity)
    s_loc(f, location)
    s_msg(f, message)
    s_linter(f, "certkeeper")
    s_cit(f, citation)
    s_legacy(f, legacy)
    return f
