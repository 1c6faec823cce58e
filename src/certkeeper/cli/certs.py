"""`certkeeper certs list`: the inventory, selected by the same filter incidents use
(the listing itself is `ca/listing.py`)."""

from __future__ import annotations

from pathlib import Path

import typer

from certkeeper.ca.listing import list_certificates
from certkeeper.cli import selection as sel
from certkeeper.cli.common import (
    OutputFormat,
    err_console,
    handle_errors,
    home_option,
    print_rows,
    resolve_home,
)
from certkeeper.cli.selection import build_filter
from certkeeper.errors import InputError

CERT_COLUMNS_TABLE = [
    "serial",
    "issuer",
    "not_before",
    "not_after",
    "key_type",
    "profile",
    "cps_version",
    "names",
    "sha256",
]
CERT_COLUMNS_FULL = [
    "serial",
    "issuer",
    "not_before",
    "not_after",
    "key_type",
    "profile",
    "cps_version",
    "subscriber_id",
    "crl_shard",
    "subject_cn",
    "names",
    "issued_at",
    "sha256",
    "sha1",
    "crtsh",
]
PRECERT_COLUMNS_TABLE = ["serial", "issuer", "not_before", "not_after", "final", "sha256"]
PRECERT_COLUMNS_FULL = [
    *PRECERT_COLUMNS_TABLE[:-1],
    "created_at",
    "sha256",
    "tbs_sha256",
    "crtsh",
]

FORMAT_OPTION = typer.Option(OutputFormat.table, "--format", help="table, json or csv.")
HOME_OPTION = home_option()

certs_app = typer.Typer(
    name="certs",
    help="Query the certificate inventory.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(certs_app, name="certs")


@certs_app.command("list")
@handle_errors
def list_certs(
    issuer: str | None = sel.ISSUER,
    profile: str | None = sel.PROFILE,
    cps_version: str | None = sel.CPS_VERSION,
    issued_after: str | None = sel.ISSUED_AFTER,
    issued_before: str | None = sel.ISSUED_BEFORE,
    expiring_after: str | None = sel.EXPIRING_AFTER,
    key_type: str | None = sel.KEY_TYPE,
    domain: str | None = sel.DOMAIN,
    serial: str | None = sel.SERIAL,
    sha256: str | None = sel.SHA256,
    subscriber: str | None = sel.SUBSCRIBER,
    precertificates: bool = typer.Option(
        False, "--precertificates", help="List precertificates instead of final certificates."
    ),
    without_final: bool = typer.Option(
        False,
        "--without-final",
        help="With --precertificates: only those whose final certificate was never stored.",
    ),
    fmt: OutputFormat = FORMAT_OPTION,
    limit: int | None = typer.Option(None, "--limit", help="Show at most N rows."),
    home: Path | None = HOME_OPTION,
) -> None:
    """List certificates (or precertificates) matching every given condition.

    The last line gives the number of distinct matching certificates; for json and csv
    it goes to stderr so the output stays machine-readable."""
    if limit is not None and limit < 0:
        raise InputError(f"--limit: must be zero or more, got {limit}")
    if without_final and not precertificates:
        raise InputError("--without-final only applies with --precertificates")
    flt = build_filter(
        issuer=issuer,
        profile=profile,
        cps_version=cps_version,
        issued_after=issued_after,
        issued_before=issued_before,
        expiring_after=expiring_after,
        key_type=key_type,
        domain=domain,
        serial=serial,
        sha256=sha256,
        subscriber=subscriber,
    )
    listing = list_certificates(
        resolve_home(home),
        flt,
        limit,
        precertificates=precertificates,
        without_final=without_final,
    )
    total, rows = listing.total, listing.rows
    if precertificates:
        columns = PRECERT_COLUMNS_TABLE if fmt is OutputFormat.table else PRECERT_COLUMNS_FULL
        noun = "precertificate" if total == 1 else "precertificates"
    else:
        columns = CERT_COLUMNS_TABLE if fmt is OutputFormat.table else CERT_COLUMNS_FULL
        noun = "certificate" if total == 1 else "certificates"
    print_rows(rows, columns, fmt)
    footer = f"{total} distinct {noun}"
    if len(rows) < total:
        footer += f" (showing {len(rows)})"
    if fmt is OutputFormat.table:
        typer.echo(footer)
    else:
        err_console.print(footer, highlight=False, markup=False)
