"""`certkeeper crl publish` and `certkeeper crl status`: partitioned CRLs under a budget."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from certkeeper.cli import selection as sel
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
from certkeeper.cli.selection import build_filter
from certkeeper.errors import InputError

crl_app = typer.Typer(
    name="crl",
    help="Publish partitioned CRLs and report how full their shards are.",
    no_args_is_help=True,
)

HOME_OPTION = home_option()
FORMAT_OPTION = typer.Option(OutputFormat.table, "--format", help="table, json or csv.")
OUT_OPTION = typer.Option(
    None,
    "--out",
    help="Write here instead of [crl] dir (the directory `serve` serves at <base_url>/crl).",
)

PUBLISH_COLUMNS = [
    "issuer",
    "kind",
    "shard",
    "status",
    "crl_number",
    "entries",
    "size_bytes",
    "pending",
    "message",
]
STATUS_COLUMNS = [
    "issuer",
    "shard",
    "entries",
    "bytes",
    "used_pct",
    "projected_entries",
    "projected_bytes",
    "projected_pct",
    "over_budget",
    "crl_number",
    "published_at",
    "pending",
]


def register(app: typer.Typer) -> None:
    app.add_typer(crl_app, name="crl")


@crl_app.command("publish")
@handle_errors
def publish_cmd(
    out: Path | None = OUT_OPTION,
    override_budget: bool = typer.Option(
        False, "--override-budget", help="Publish shards even when over crl.budget_bytes."
    ),
    full: bool = typer.Option(
        False, "--full", help="Also write each issuing CA's full (unpartitioned) CRL."
    ),
    workers: int = typer.Option(1, "--workers", help="Worker processes (shards are leased)."),
    fmt: OutputFormat = FORMAT_OPTION,
    home: Path | None = HOME_OPTION,
) -> None:
    """Build, lint and atomically write every shard CRL, the roots' CA CRLs and the
    CCADB JSON arrays of partitioned CRLs. Exits 3 if any CRL was refused."""
    from certkeeper.status.crl import CrlPublishRefused
    from certkeeper.wiring import build

    if not 1 <= workers <= 64:
        raise InputError(f"--workers: {workers} is not between 1 and 64")
    ca = build(resolve_home(home))
    try:
        out_dir = out if out is not None else ca.config.crl_dir
        now = datetime.now(UTC)
        total = len(ca.crl.plan(now, full=full))
        refused: CrlPublishRefused | None = None
        with progress(total, "publishing CRLs") as advance:
            try:
                report = ca.crl.publish(
                    out_dir,
                    now,
                    override_budget=override_budget,
                    full=full,
                    workers=workers,
                    progress=advance,
                )
            except CrlPublishRefused as exc:
                refused = exc
                report = exc.report
    finally:
        ca.close()
    rows = [r.to_dict() for r in report.results]
    if fmt is OutputFormat.json:
        print_json(
            {
                "this_update": report.this_update.isoformat(),
                "results": rows,
                "shard_lists": list(report.shard_lists),
            }
        )
    else:
        print_rows(rows, PUBLISH_COLUMNS, fmt)
    pending = sum(r.pending for r in report.results)
    summary = (
        f"{len(report.published)} published, {len(report.refused)} refused, "
        f"{len(report.skipped)} skipped; {pending} revocation(s) on no published CRL; "
        f"CCADB lists: {', '.join(report.shard_lists) or 'none'}"
    )
    err_console.print(summary, highlight=False, markup=False)
    if refused is not None:
        raise refused


@crl_app.command("status")
@handle_errors
def status_cmd(
    issuer: str | None = sel.ISSUER,
    profile: str | None = sel.PROFILE,
    cps_version: str | None = sel.CPS_VERSION,
    issued_after: str | None = sel.ISSUED_AFTER,
    issued_before: str | None = sel.ISSUED_BEFORE,
    key_type: str | None = sel.KEY_TYPE,
    domain: str | None = sel.DOMAIN,
    serial: str | None = sel.SERIAL,
    sha256: str | None = sel.SHA256,
    subscriber: str | None = sel.SUBSCRIBER,
    fmt: OutputFormat = FORMAT_OPTION,
    home: Path | None = HOME_OPTION,
) -> None:
    """Entries and bytes per shard against the budget; with selection options, also the
    projection if every unexpired matching certificate were revoked now."""
    from certkeeper.status.ceremony_due import ceremonies_due
    from certkeeper.wiring import build

    flt = build_filter(
        issuer=issuer,
        profile=profile,
        cps_version=cps_version,
        issued_after=issued_after,
        issued_before=issued_before,
        key_type=key_type,
        domain=domain,
        serial=serial,
        sha256=sha256,
        subscriber=subscriber,
    )
    ca = build(resolve_home(home))
    try:
        inventory = ca.stores.inventory
        if flt.issuer is not None:
            inventory.issuer_by_name(flt.issuer)  # an unknown name is an error, not 0 rows
        now = datetime.now(UTC)
        rows = ca.crl.status(now, None if flt.is_empty() else flt)
        budget = ca.config.crl_budget_bytes
        ceremonies = ceremonies_due(inventory, ca.config.crl_dir, now)
    finally:
        ca.close()
    print_rows([r.to_dict() for r in rows], STATUS_COLUMNS, fmt)
    over = [r for r in rows if r.over_budget]
    pending = [r for r in rows if r.pending]
    note = f"budget {budget:,} bytes per shard; {len(over)} shard(s) over budget"
    if pending:
        note += (
            f"; {sum(r.pending for r in pending)} revocation(s) in {len(pending)} shard(s) "
            "on no published CRL yet (run `certkeeper crl publish`)"
        )
    if not flt.is_empty():
        note += " if the selection were revoked now"
    # The offline root's CA CRL: when its next ceremony is due (a warning within the margin).
    for line in [note, *(c.sentence() for c in ceremonies)]:
        if fmt is OutputFormat.table:
            typer.echo(line)
        else:
            err_console.print(line, highlight=False, markup=False)
