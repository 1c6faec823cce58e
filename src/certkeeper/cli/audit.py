"""`certkeeper audit`: checks over the whole inventory."""

from __future__ import annotations

import importlib
from datetime import UTC, datetime
from pathlib import Path

import typer

from certkeeper.cli.common import (
    OutputFormat,
    err_console,
    handle_errors,
    home_option,
    print_json,
    print_rows,
    progress,
    resolve_home,
)
from certkeeper.errors import EXIT_FINDINGS, InputError

audit_app = typer.Typer(
    help="Audits of the inventory and of status services.", no_args_is_help=True
)


# Further `audit` commands live in their own modules; each has `register_audit(audit_app)`.
_AUDIT_MODULES = ("audit_status", "audit_crl", "audit_ct")


def register(app: typer.Typer) -> None:
    for name in _AUDIT_MODULES:
        try:
            module = importlib.import_module(f"certkeeper.cli.{name}")
        except ModuleNotFoundError as exc:
            if exc.name != f"certkeeper.cli.{name}":
                raise
            continue
        module.register_audit(audit_app)
    app.add_typer(audit_app, name="audit")


@audit_app.command("relint")
@handle_errors
def relint(
    since: str | None = typer.Option(
        None, help="Only certificates with notBefore on/after this date."
    ),
    lint: list[str] | None = typer.Option(None, "--lint", help="Only these lint ids (repeatable)."),
    pkilint: bool = typer.Option(True, "--pkilint/--no-pkilint", help="Run pkilint too."),
    workers: int | None = typer.Option(None, min=1, help="Worker processes (default: config)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    home: Path | None = home_option(),
) -> None:
    """Lint every stored certificate and precertificate again; report what is new."""
    from certkeeper.wiring import build

    since_at = None
    if since is not None:
        try:
            since_at = datetime.fromisoformat(since)
        except ValueError:
            raise InputError(f"--since {since!r} is not a date (YYYY-MM-DD)") from None
        if since_at.tzinfo is None:
            since_at = since_at.replace(tzinfo=UTC)
    ca = build(resolve_home(home))
    relinter = ca.relinter
    with progress(relinter.documents(since_at), "relinting") as advance:
        report = relinter.relint(
            since=since_at,
            only=lint,
            use_pkilint=pkilint,
            workers=workers or ca.config.issuance_workers,
            advance=advance,
        )
    hits = report.new_by_certificate()
    if fmt is OutputFormat.json:
        print_json(
            {
                "run_id": report.run_id,
                "previous_run_id": report.previous_run_id,
                "documents": report.documents,
                "findings": len(report.findings),
                "new_findings": len(report.new),
                "by_lint": report.by_lint(),
                "new_by_certificate": [
                    {"serial": s, "document": d, "lint_ids": sorted(set(ids))}
                    for (s, d), ids in sorted(hits.items())
                ],
            }
        )
    else:
        against = (
            f"run {report.previous_run_id}" if report.previous_run_id else "issuance-time findings"
        )
        err_console.print(
            f"run {report.run_id}: {report.documents} documents, {len(report.findings)} findings, "
            f"{len(report.new)} new since {against}",
            highlight=False,
        )
        print_rows(
            report.by_lint(),
            ["lint_id", "linter", "severity", "findings", "new"],
            fmt,
            title="Findings by lint",
        )
        rows = [
            {"serial": s, "document": d, "new lint ids": ", ".join(sorted(set(ids)))}
            for (s, d), ids in sorted(hits.items())
        ]
        if rows:
            print_rows(
                rows,
                ["serial", "document", "new lint ids"],
                fmt,
                title="Certificates hit by new findings",
            )
    if any(f.severity in ("ERROR", "FATAL") for f in report.new):
        raise typer.Exit(EXIT_FINDINGS)
