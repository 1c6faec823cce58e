"""`certkeeper db status|upgrade`, `certkeeper backup DIR` and `certkeeper restore DIR`."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated

import typer

from certkeeper.cli.common import (
    OutputFormat,
    handle_errors,
    home_option,
    print_json,
    resolve_home,
)

FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f")]

db_app = typer.Typer(help="The inventory database's schema.", no_args_is_help=True)


@db_app.command("status")
@handle_errors
def status_command(
    home: Path | None = home_option(), fmt: FormatOption = OutputFormat.table
) -> None:
    """Show the schema revision of the inventory and whether an upgrade is due."""
    from certkeeper.ca.schema import schema_status

    state = schema_status(resolve_home(home))
    if fmt is OutputFormat.json:
        print_json(
            {
                "database": state.database,
                "current": state.current,
                "head": state.head,
                "up_to_date": state.up_to_date,
            }
        )
        return
    typer.echo(f"database: {state.database}")
    typer.echo(f"schema revision: {state.current or 'none (not initialised)'}")
    typer.echo(f"this certkeeper's newest revision: {state.head}")
    if state.up_to_date:
        typer.echo("up to date")
    else:
        typer.echo("upgrade due: run `certkeeper db upgrade` (take a backup first)")


@db_app.command("upgrade")
@handle_errors
def upgrade_command(home: Path | None = home_option()) -> None:
    """Apply the migrations this certkeeper ships (refuses a newer schema)."""
    from certkeeper.ca.schema import upgrade_schema

    before, after = upgrade_schema(resolve_home(home))
    if before == after:
        typer.echo(f"schema already at revision {after}")
    else:
        typer.echo(f"schema upgraded from revision {before or 'none'} to {after}")


def register(app: typer.Typer) -> None:
    app.add_typer(db_app, name="db")

    @app.command("backup")
    @handle_errors
    def backup_command(
        target: Annotated[Path, typer.Argument(help="An empty or new directory.")],
        home: Path | None = home_option(),
    ) -> None:
        """A consistent copy of a live CA home (SQLite online backup), with a manifest."""
        from certkeeper.ca.backup import backup

        result = backup(resolve_home(home), target, datetime.now(UTC))
        typer.echo(
            f"backed up {result.files} files ({result.bytes} bytes), schema revision "
            f"{result.schema_revision}, database {result.database}, to {result.directory}"
        )
        for item in result.excluded:
            typer.echo(f"not included: {item}")

    @app.command("restore")
    @handle_errors
    def restore_command(
        source: Annotated[Path, typer.Argument(help="A directory made by `certkeeper backup`.")],
        home: Annotated[
            Path | None,
            typer.Option("--home", help="A new directory to restore the CA home into."),
        ] = None,
        check: Annotated[
            bool, typer.Option("--check", help="Only verify the backup; write nothing.")
        ] = False,
    ) -> None:
        """Verify a backup's manifest and, with --home, restore it as a CA home."""
        from certkeeper.ca.backup import restore
        from certkeeper.errors import InputError

        if not check and home is None:
            raise InputError("restore needs --home NEW_DIR (or --check to only verify)")
        result = restore(source, None if check else home)
        if result.home is None:
            typer.echo(
                f"backup {source} checks out: {result.files} files, schema revision "
                f"{result.schema_revision}"
            )
        else:
            serials = "" if result.serials is None else f", {result.serials} serials"
            typer.echo(
                f"restored {result.files} files into {result.home} (schema revision "
                f"{result.schema_revision}{serials})"
            )
        for item in result.excluded:
            typer.echo(f"not in the backup: {item}")
        for note in result.notes:
            typer.echo(note)
