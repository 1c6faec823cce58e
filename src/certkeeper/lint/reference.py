"""docs/lint-catalogue.md, rendered from the registered lints so the page cannot drift.

`python -m certkeeper.reference lints > docs/lint-catalogue.md` writes it; a test fails
when the page differs from what this renders.
"""

from __future__ import annotations

from certkeeper.lint.catalogue import all_lints, lint_modules
from certkeeper.lint.engine import ALL_CERT_TYPES, AUDIT, PRE_ISSUANCE, DocType, Lint

_SECTIONS = (
    (DocType.CERTIFICATE, "Certificates and precertificates"),
    (DocType.CRL, "CRLs"),
    (DocType.OCSP_RESPONSE, "OCSP responses"),
)


def _cell(text: str) -> str:
    return text.replace("|", "\\|")


def _applies_to(lint: Lint, doc_type: DocType) -> str:
    if doc_type is not DocType.CERTIFICATE:
        return "-"
    if lint.cert_types == ALL_CERT_TYPES:
        return "all"
    return ", ".join(sorted(str(t) for t in lint.cert_types))


def _rule(lint: Lint) -> str:
    text = lint.description
    if lint.sets == frozenset({AUDIT}):
        text += " (audit only)"
    elif lint.sets == frozenset({PRE_ISSUANCE}):
        text += " (pre-issuance only)"
    return _cell(text)


def _dates(lint: Lint) -> str:
    since = str(lint.effective) if lint.effective else ""
    text = f"{since} to {lint.ineffective}" if lint.ineffective else since
    if lint.revised:
        text = f"{text}; revised {lint.revised}" if text else f"revised {lint.revised}"
    return text


def _in_source_order(lints: list[Lint]) -> list[Lint]:
    """By module, then by line: registration order depends on which module a process
    imported first, the page must not."""
    modules = {name: i for i, name in enumerate(lint_modules())}

    def key(lint: Lint) -> tuple[int, int]:
        code = getattr(lint.check, "__code__", None)
        line = code.co_firstlineno if code is not None else 0
        return modules.get(lint.check.__module__, len(modules)), line

    return sorted(lints, key=key)


def render_lint_catalogue() -> str:
    lints = _in_source_order(all_lints())
    lines = [
        "# certkeeper lint catalogue",
        "",
        "Generated from the registered lints by `python -m certkeeper.reference lints`; do",
        "not edit by hand. How the lints work is explained in [lints.md](lints.md).",
        f"{len(lints)} lints: id (`e_` error, `w_` warning, `n_` notice, `f_` fatal), severity,",
        "the certificate types a lint applies to, its source, citation and the dates it is",
        "in force for (by the document's own notBefore, thisUpdate or producedAt); a rule",
        "tightened later shows the date of its current version as `revised`.",
    ]
    for doc_type, title in _SECTIONS:
        lines += [
            "",
            f"## {title}",
            "",
            "| id | severity | applies to | source | citation | in force | rule |",
            "|---|---|---|---|---|---|---|",
        ]
        lines += [
            f"| `{lint.id}` | {lint.severity} | {_applies_to(lint, doc_type)} | {lint.source} "
            f"| {_cell(lint.citation)} | {_dates(lint)} | {_rule(lint)} |"
            for lint in lints
            if doc_type in lint.doc_types
        ]
    return "\n".join(lines) + "\n"
