"""`certkeeper certs list`: the inventory, selected by the same filter incidents use.

Counts are of distinct certificates (by SHA-256); precertificates are listed only with
--precertificates and never counted as certificates.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

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
from certkeeper.errors import ConfigError, InputError
from certkeeper.store.inventory import Inventory
from certkeeper.store.records import CertificateRecord, PrecertificateRecord

CRTSH = "https://crt.sh/?sha256={}"

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


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _open_inventory(home: Path) -> Inventory:
    from certkeeper.config import load_config
    from certkeeper.store.database import connect, schema_is_current

    config = load_config(home)
    engine = connect(config.database_url)
    if not schema_is_current(engine):
        engine.dispose()
        raise ConfigError(
            f"the inventory of CA home {home} is not at the current schema version; "
            "run `certkeeper db upgrade` (or `certkeeper init`) first"
        )
    return Inventory(engine)


def _cert_rows(inv: Inventory, certs: Iterator[CertificateRecord]) -> Iterator[dict[str, Any]]:
    names = {i.id: i.name for i in inv.issuers()}
    for c in certs:
        yield {
            "serial": c.serial,
            "issuer": names.get(c.issuer_id, str(c.issuer_id)),
            "not_before": _iso(c.not_before),
            "not_after": _iso(c.not_after),
            "key_type": c.key_type,
            "profile": f"{c.profile_id}:{c.profile_version}",
            "cps_version": c.cps_version,
            "subscriber_id": c.subscriber_id,
            "crl_shard": c.crl_shard,
            "subject_cn": c.subject_cn,
            "names": " ".join(c.names),
            "issued_at": _iso(c.issued_at),
            "sha256": c.sha256,
            "sha1": c.sha1,
            "crtsh": CRTSH.format(c.sha256),
        }


def _precert_rows(inv: Inventory, precerts: list[PrecertificateRecord]) -> Iterator[dict[str, Any]]:
    names = {i.id: i.name for i in inv.issuers()}
    states = inv.serial_states([p.serial for p in precerts])
    for p in precerts:
        yield {
            "serial": p.serial,
            "issuer": names.get(p.issuer_id, str(p.issuer_id)),
            "not_before": _iso(p.not_before),
            "not_after": _iso(p.not_after),
            "final": states.get(p.serial) == "issued",
            "created_at": _iso(p.created_at),
            "sha256": p.sha256,
            "tbs_sha256": p.tbs_sha256,
            "crtsh": CRTSH.format(p.sha256),
        }


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
    inv = _open_inventory(resolve_home(home))
    try:
        if precertificates:
            total = inv.count_precertificates(flt, without_final=without_final)
            found = list(inv.list_precertificates(flt, limit, without_final=without_final))
            rows = list(_precert_rows(inv, found))
            columns = PRECERT_COLUMNS_TABLE if fmt is OutputFormat.table else PRECERT_COLUMNS_FULL
            noun = "precertificate" if total == 1 else "precertificates"
        else:
            total = inv.count_certificates(flt)
            rows = list(_cert_rows(inv, inv.list_certificates(flt, limit)))
            columns = CERT_COLUMNS_TABLE if fmt is OutputFormat.table else CERT_COLUMNS_FULL
            noun = "certificate" if total == 1 else "certificates"
    finally:
        inv.engine.dispose()
    print_rows(rows, columns, fmt)
    footer = f"{total} distinct {noun}"
    if len(rows) < total:
        footer += f" (showing {len(rows)})"
    if fmt is OutputFormat.table:
        typer.echo(footer)
    else:
        err_console.print(footer, highlight=False, markup=False)
