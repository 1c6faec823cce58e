"""`certkeeper mpic`: the mTLS PKI for remote perspectives, and a reachability check."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from certkeeper.cli.common import (
    OutputFormat,
    err_console,
    handle_errors,
    home_option,
    print_rows,
    resolve_home,
)
from certkeeper.errors import EXIT_FINDINGS, CertkeeperError, InputError

mpic_app = typer.Typer(
    help="Multi-Perspective Issuance Corroboration (BR 3.2.2.9): remote perspective setup.",
    no_args_is_help=True,
)


class PerspectivesUnhealthy(CertkeeperError):
    exit_code = EXIT_FINDINGS


@mpic_app.command("pki")
@handle_errors
def pki(
    out: Annotated[Path, typer.Option("--out", help="Directory for the CA, keys and certs.")],
    perspective: Annotated[
        list[str],
        typer.Option(
            "--perspective",
            help="NAME=HOST[,HOST...]: a perspective and the names/addresses it serves on.",
        ),
    ],
    primary: Annotated[
        str, typer.Option("--primary", help="Name of the primary's client certificate.")
    ] = "primary",
    days: Annotated[int, typer.Option("--days", help="Leaf validity in days.")] = 397,
    force: Annotated[bool, typer.Option("--force", help="Replace existing leaves.")] = False,
) -> None:
    """Create (or reuse) a private mTLS CA and issue the primary's and each perspective's
    certificate. Point mpic_client_cert, mpic_client_key and mpic_ca_file (validation
    table) at the primary's files and ca.pem, and each `serve va-remote` at its own, with
    --client-ca ca.pem."""
    from certkeeper.validation.pki import CA_CERT, Endpoint, issue_pki, parse_hosts

    endpoints = [Endpoint(primary, (), server=False)]
    for spec in perspective:
        name, sep, hosts = spec.partition("=")
        if not sep or not name or not hosts:
            raise InputError(f"--perspective: {spec!r} is not NAME=HOST[,HOST...]")
        endpoints.append(Endpoint(name, parse_hosts(hosts.split(","), f"--perspective {name}")))
    issued = issue_pki(out, endpoints, now=datetime.now(UTC), days=days, force=force)
    print_rows(
        [{"name": i.name, "cert": str(i.cert), "key": str(i.key)} for i in issued],
        ["name", "cert", "key"],
        OutputFormat.table,
        title=f"issued under {out / CA_CERT}",
    )


@mpic_app.command("check")
@handle_errors
def check(
    home: Path | None = home_option(),
    fmt: Annotated[OutputFormat, typer.Option("--format")] = OutputFormat.table,
) -> None:
    """Ask every configured remote perspective for its health over mutual TLS."""
    from certkeeper.config import load_config
    from certkeeper.validation.mpic import RemotePerspectives

    settings = load_config(resolve_home(home).resolve()).validation
    if not settings.perspectives:
        err_console.print("no remote perspectives are configured in [validation]")
        return
    client = RemotePerspectives(settings)
    try:
        results = client.health()
    finally:
        client.close()
    print_rows(
        [r.to_json() for r in results],
        ["perspective", "region", "ok", "detail", "seconds"],
        fmt,
        title="remote perspectives",
    )
    failed = [r.perspective for r in results if not r.ok]
    if failed:
        raise PerspectivesUnhealthy(f"unreachable or refusing: {', '.join(failed)}")


def register(app: typer.Typer) -> None:
    app.add_typer(mpic_app, name="mpic")
