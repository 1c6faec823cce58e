"""`certkeeper lint`: our lints and pkilint's, side by side, on any file a user hands us.

Exit status: 0 when no ERROR or FATAL finding, 2 when there is one (from either linter),
1 for unusable input (one error line, never a traceback). `--type` names what a document
is instead of detecting it; a certificate made for something other than TLS servers
(S/MIME, code signing) is reported as out of scope, not linted, unless `--type` is given.
`--legacy` also reports what rules newer than a document find, marked legacy: how an old
certificate falls short of today's rules, never a defect of its issuance nor an error exit.
"""

from __future__ import annotations

from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from certkeeper.cli.common import handle_errors, print_json
from certkeeper.errors import EXIT_FINDINGS, InputError
from certkeeper.lint.context import LintContext
from certkeeper.lint.engine import DocType, Finding, Severity
from certkeeper.lint.scope import DocumentKind


class LintFormat(StrEnum):
    text = "text"
    json = "json"


def _load_issuer(path: Path) -> object:
    from cryptography import x509

    from certkeeper.lint.document import CertificateDocument, load_document

    data = _read(path)
    doc = load_document(data, str(path))
    if not isinstance(doc, CertificateDocument):
        raise InputError(f"--issuer {path} is not a certificate")
    try:
        return x509.load_der_x509_certificate(doc.der)
    except ValueError as exc:
        raise InputError(f"--issuer {path} cannot be parsed: {exc}") from None


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def lint_file(
    path: Path,
    ctx: LintContext,
    use_pkilint: bool,
    pkilint: object | None,
    kind: DocumentKind | None = None,
    sources: frozenset[str] | None = None,
) -> tuple[str, str | None, list[Finding], str | None]:
    """(document type, certificate type, findings from both linters, why the document is
    out of scope or None) for one file. Out-of-scope documents are not linted."""
    from certkeeper.lint.catalogue import run_lints
    from certkeeper.lint.document import CertificateDocument, CrlDocument
    from certkeeper.lint.pkilint_adapter import PkilintLinter
    from certkeeper.lint.scope import load_as, out_of_scope

    doc = load_as(_read(path), str(path), kind)
    ctype = str(doc.cert_type) if doc.doc_type is DocType.CERTIFICATE and doc.cert_type else None
    scope = None if kind is not None else out_of_scope(doc)
    if scope is not None:
        return str(doc.doc_type), ctype, [], scope
    findings = run_lints(doc, ctx, sources=sources)
    if use_pkilint and isinstance(pkilint, PkilintLinter):
        if isinstance(doc, CertificateDocument):
            findings += pkilint.lint_certificate(doc.der, doc.cert_type)
        elif isinstance(doc, CrlDocument):
            findings += pkilint.lint_crl(doc.der)
        else:
            findings += pkilint.lint_ocsp_response(doc.der)
    return str(doc.doc_type), ctype, findings, None


def _print_text(
    path: Path, doc_type: str, cert_type: str | None, findings: list[Finding], scope: str | None
) -> None:
    kind = f"{doc_type} ({cert_type})" if cert_type else doc_type
    typer.echo(f"{path}: {kind}")
    if scope is not None:
        typer.echo(f"  out of scope: {scope}; not linted (give --type to lint it anyway)")
        return
    if not findings:
        typer.echo("  no findings from either linter")
        return
    width = max(len(f.lint_id) for f in findings)
    for f in sorted(findings, key=lambda f: (f.legacy, -f.severity, f.linter, f.lint_id)):
        severity = "legacy" if f.legacy else str(f.severity)
        typer.echo(
            f"  {f.linter:<10} {severity:<7} {f.lint_id:<{width}}  {f.location}: {f.message}"
        )
    for linter in ("certkeeper", "pkilint"):
        bad = sum(
            1
            for f in findings
            if f.linter == linter and f.severity >= Severity.ERROR and not f.legacy
        )
        typer.echo(f"  {linter}: {bad} error(s)")
    legacy = sum(1 for f in findings if f.legacy)
    if legacy:
        typer.echo(f"  legacy: {legacy} finding(s) under rules newer than the document")


def _print_list() -> None:
    from certkeeper.lint.catalogue import all_lints

    for lint in all_lints():
        kinds = ",".join(sorted(str(d) for d in lint.doc_types))
        since = f" (from {lint.effective})" if lint.effective else ""
        typer.echo(
            f"{lint.id}\t{lint.severity}\t{kinds}\t{lint.source}\t{lint.citation}{since}"
            f"\t{lint.description}"
        )


def _sources(include: list[str] | None, exclude: list[str] | None) -> frozenset[str] | None:
    """The lint sources to run: all, or those included, less those excluded."""
    from certkeeper.lint.engine import ALL_SOURCES

    for name in [*(include or []), *(exclude or [])]:
        if name not in ALL_SOURCES:
            known = ", ".join(sorted(ALL_SOURCES))
            raise InputError(f"unknown lint source {name!r} (known: {known})")
    if not include and not exclude:
        return None
    return frozenset(include or ALL_SOURCES) - frozenset(exclude or ())


def register(app: typer.Typer) -> None:
    @app.command("lint")
    @handle_errors
    def lint_command(
        files: Annotated[
            list[Path] | None,
            typer.Argument(help="Certificates, CRLs or OCSP responses (PEM, DER or base64)."),
        ] = None,
        output: Annotated[LintFormat, typer.Option("--format", help="text or json.")] = (
            LintFormat.text
        ),
        issuer: Annotated[
            Path | None,
            typer.Option(
                "--issuer", help="Issuing CA certificate: enables signature, AKI, name checks."
            ),
        ] = None,
        only_ours: Annotated[
            bool, typer.Option("--only-ours", help="Skip pkilint; run only certkeeper's lints.")
        ] = False,
        list_lints: Annotated[
            bool, typer.Option("--list", help="List every certkeeper lint and exit.")
        ] = False,
        kind: Annotated[
            DocumentKind | None,
            typer.Option("--type", help="What the documents are, instead of detecting it."),
        ] = None,
        source: Annotated[
            list[str] | None,
            typer.Option("--source", help="Run only lints of this source (br, mozilla)."),
        ] = None,
        exclude_source: Annotated[
            list[str] | None,
            typer.Option("--exclude-source", help="Leave out lints of this source."),
        ] = None,
        legacy: Annotated[
            bool,
            typer.Option(
                "--legacy",
                help="Also report what rules newer than each document find (not its defects).",
            ),
        ] = False,
    ) -> None:
        """Lint documents with certkeeper's lints and pkilint; non-zero exit on any error."""
        if list_lints:
            _print_list()
            return
        if not files:
            raise InputError("give at least one file to lint (or --list)")
        from certkeeper.lint.pkilint_adapter import PkilintLinter

        sources = _sources(source, exclude_source)
        ctx = LintContext(issuer=_load_issuer(issuer) if issuer else None, legacy=legacy)  # type: ignore[arg-type]
        pkilint = None if only_ours else PkilintLinter()
        worst = Severity.INFO
        report = []
        for path in files:
            doc_type, cert_type, findings, scope = lint_file(
                path, ctx, not only_ours, pkilint, kind, sources
            )
            worst = max([worst, *(f.severity for f in findings if not f.legacy)])
            if output is LintFormat.json:
                report.append(
                    {
                        "file": str(path),
                        "document_type": doc_type,
                        "certificate_type": cert_type,
                        "out_of_scope": scope,
                        "findings": [f.to_dict() for f in findings],
                    }
                )
            else:
                _print_text(path, doc_type, cert_type, findings, scope)
        if output is LintFormat.json:
            print_json(report)
        if worst >= Severity.ERROR:
            raise typer.Exit(EXIT_FINDINGS)
