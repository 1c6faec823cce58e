"""`certkeeper audit crl-diff` and `audit crl-watch`: CRLs as relying parties see them."""

from __future__ import annotations

import time
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from certkeeper.cli.common import (
    OutputFormat,
    err_console,
    handle_errors,
    log_event,
    print_json,
    print_rows,
    progress,
    resolve_home,
)
from certkeeper.errors import EXIT_FINDINGS, InputError

if TYPE_CHECKING:
    from certkeeper.audit.crl_sources import ExpirySource
    from certkeeper.audit.crl_watch import MonitorReport
    from certkeeper.wiring import Ca

COLUMNS = ["severity", "code", "scope", "message"]

_HOME = typer.Option(
    None,
    "--home",
    help="CA home whose inventory knows each certificate's notAfter.",
    show_default=False,
)
_CERTS = typer.Option(
    None, "--certs", help="Directory of certificates (PEM or DER) giving notAfter dates."
)
_FORMAT = typer.Option(OutputFormat.table, "--format", help="table, json or csv.")


def register_audit(audit_app: typer.Typer) -> None:
    audit_app.command("crl-diff")(crl_diff)
    audit_app.command("crl-watch")(crl_watch)


def _expiry(home: Path | None, certs: Path | None) -> tuple[ExpirySource | None, Ca | None]:
    from certkeeper.audit.crl_sources import CertDirExpiry, InventoryExpiry
    from certkeeper.wiring import build

    if home is not None and certs is not None:
        raise InputError("give --home or --certs, not both")
    if certs is not None:
        return CertDirExpiry(certs), None
    if home is not None:
        ca = build(resolve_home(home))
        return InventoryExpiry(ca.stores.inventory), ca
    return None, None


def _render(report: MonitorReport, fmt: OutputFormat, title: str) -> None:
    rows = [f.to_dict() for f in report.findings]
    if fmt is OutputFormat.json:
        print_json(
            {
                "crls": report.crls,
                "entries": report.entries,
                "errors": report.errors,
                "warnings": report.warnings,
                "findings": rows,
            }
        )
        return
    err_console.print(
        f"{report.crls} CRLs, {report.entries} entries: {report.errors} errors, "
        f"{report.warnings} warnings",
        highlight=False,
    )
    if rows or fmt is OutputFormat.csv:
        print_rows(rows, COLUMNS, fmt, title=title)


@handle_errors
def crl_diff(
    old: str = typer.Argument(..., help="The earlier CRL: a file or http(s) URL, PEM or DER."),
    new: str = typer.Argument(..., help="The later CRL of the same scope."),
    home: Path | None = _HOME,
    certs: Path | None = _CERTS,
    fmt: OutputFormat = _FORMAT,
) -> None:
    """Compare two CRLs of one scope: issuer and IDP unchanged, number and thisUpdate grow,
    entries never change (except to keyCompromise) and leave only after expiry."""
    from certkeeper.audit.crl_watch import diff

    expiry, ca = _expiry(home, certs)
    try:
        report = diff(old, new, expiry)
    finally:
        if ca is not None:
            ca.close()
    _render(report, fmt, f"{old} -> {new}")
    if report.findings:
        raise typer.Exit(EXIT_FINDINGS)


@handle_errors
def crl_watch(
    source: str = typer.Argument(
        ...,
        help="CCADB JSON array of shard URLs (URL or file), or a local CRL publish directory.",
    ),
    state: Path = typer.Option(..., "--state", help="Directory keeping the last snapshot."),
    interval: float = typer.Option(3600.0, "--interval", min=1.0, help="Seconds between rounds."),
    once: bool = typer.Option(False, "--once", help="Run one round and exit (cron, tests)."),
    home: Path | None = _HOME,
    certs: Path | None = _CERTS,
    fmt: OutputFormat = _FORMAT,
) -> None:
    """Watch a partitioned CRL over time: the shard set is complete, each shard keeps its
    scope and grows its number, and no revoked serial leaves every shard before expiry."""
    from certkeeper.audit.crl_monitor import ERROR, Finding
    from certkeeper.audit.crl_watch import MonitorReport, resolve, watch_round

    expiry, ca = _expiry(home, certs)
    failed = False
    try:
        while True:
            now = datetime.now(UTC).replace(microsecond=0)
            try:
                sets = resolve(source)
            except InputError as exc:
                # The array itself is unavailable: a finding for this round, not the end
                # of a long-running watch. The saved state is left as it was.
                sets = []
                report = MonitorReport([Finding(ERROR, "shard-list-unavailable", source, str(exc))])
            if sets:
                total = sum(len(set(s.listed)) for s in sets)
                with progress(total, "fetching CRL shards") as advance:
                    report = watch_round(sets, state, expiry, now, advance)
            _render(report, fmt, f"CRL monitor round {now.isoformat()}")
            failed = failed or bool(report.findings)
            if once:
                break
            log_event("crl-watch-sleep", seconds=interval)
            time.sleep(interval)
    finally:
        if ca is not None:
            ca.close()
    if failed:
        raise typer.Exit(EXIT_FINDINGS)
