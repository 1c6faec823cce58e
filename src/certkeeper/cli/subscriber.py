"""`certkeeper subscriber`: accounts and their primary and backup contacts."""

from __future__ import annotations

import re
from datetime import UTC, datetime
from pathlib import Path

import typer

from certkeeper.cli.common import OutputFormat, handle_errors, home_option, print_rows, resolve_home
from certkeeper.errors import InputError

subscriber_app = typer.Typer(help="Subscribers and their contacts.", no_args_is_help=True)

_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


def register(app: typer.Typer) -> None:
    app.add_typer(subscriber_app, name="subscriber")


def _emails(values: list[str] | None, option: str) -> list[str]:
    out = []
    for value in values or []:
        address = value.strip()
        if not _EMAIL.match(address):
            raise InputError(f"{option} {value!r} is not an email address")
        out.append(address)
    return out


@subscriber_app.command("add")
@handle_errors
def add(
    subscriber_id: str,
    primary: list[str] = typer.Option(..., "--primary", help="Primary contact email (repeatable)."),
    backup: list[str] | None = typer.Option(
        None, "--backup", help="Backup contact email (repeatable)."
    ),
    home: Path | None = home_option(),
) -> None:
    """Create or update a subscriber and replace its contacts."""
    from certkeeper.ca.home import CaHome
    from certkeeper.revocation.notify import set_contacts

    primaries = _emails(primary, "--primary")
    backups = _emails(backup, "--backup")
    ca = CaHome.open(resolve_home(home))
    set_contacts(
        ca.inventory, ca.stores.incidents, subscriber_id, primaries, backups, datetime.now(UTC)
    )
    typer.echo(
        f"subscriber {subscriber_id}: {len(primaries)} primary, {len(backups)} backup contact(s)"
    )


@subscriber_app.command("show")
@handle_errors
def show(
    subscriber_id: str,
    home: Path | None = home_option(),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """A subscriber's contacts."""
    from certkeeper.ca.home import CaHome
    from certkeeper.errors import NotFound

    ca = CaHome.open(resolve_home(home))
    contacts = ca.stores.incidents.contacts(subscriber_id)
    if not contacts:
        raise NotFound(f"subscriber {subscriber_id!r} has no contacts (or does not exist)")
    print_rows(
        [{"address": a, "kind": k} for a, k in contacts],
        ["address", "kind"],
        fmt,
        title=f"Contacts of {subscriber_id}",
    )
