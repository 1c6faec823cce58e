"""The full catalogue: importing this module registers every certkeeper lint.

`run_lints` is the entry point issuance, the CLI and re-linting use. It keeps the
selection of lints per (document type, certificate type, lint set) in a cache, so
linting a certificate costs the checks themselves and nothing else.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterable
from dataclasses import replace

from certkeeper.lint.context import LintContext
from certkeeper.lint.engine import AUDIT, REGISTRY, DocType, Document, Finding, Lint, Severity

_loaded = False
_selection: dict[tuple[object, ...], tuple[list[Lint], list[Lint]]] = {}


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


def _select(
    doc: Document,
    lint_set: str,
    only: frozenset[str] | None = None,
    sources: frozenset[str] | None = None,
) -> tuple[list[Lint], list[Lint]]:
    """(lints with no dates, lints with effective dates) that apply to this kind of doc."""
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
        got = (undated, dated)
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
    undated, dated = _select(
        doc,
        lint_set,
        None if only is None else frozenset(only),
        None if sources is None else frozenset(sources),
    )
    findings: list[Finding] = []
    for lint in undated:
        try:
            results = lint.check(doc, ctx)
            if results:
                for location, message in results:
                    findings.append(
                        Finding(lint.id, lint.severity, location, message, citation=lint.citation)
                    )
        except Exception as exc:  # a lint must never crash the run: report it instead
            findings.append(_crashed(lint, exc))
    if dated:
        ref = doc.reference_time
        day = ref.date() if ref is not None else None
        for lint in dated:
            if day is not None and lint.ineffective is not None and day >= lint.ineffective:
                continue
            if day is not None and lint.effective is not None and day < lint.effective:
                if ctx.legacy:
                    _run_one(lint, doc, _todays(ctx), findings, legacy=True)
                continue
            _run_one(lint, doc, ctx, findings)
            if ctx.legacy and day is not None and lint.revised is not None and day < lint.revised:
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
                    Finding(
                        lint.id,
                        lint.severity,
                        location,
                        message,
                        citation=lint.citation,
                        legacy=legacy,
                    )
                )
    except Exception as exc:  # a lint must never crash the run: report it instead
        findings.append(_crashed(lint, exc))
