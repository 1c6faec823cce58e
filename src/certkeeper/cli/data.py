"""`certkeeper data`: the reference data the lints use (IANA root zone TLD periods)."""

from __future__ import annotations

import os
import tempfile
from datetime import date
from pathlib import Path
from typing import Annotated

import typer

from certkeeper.cli.common import handle_errors
from certkeeper.data_dir import tld_override_path
from certkeeper.errors import InputError
from certkeeper.lint.tld import TldData, parse_csv


def register(app: typer.Typer) -> None:
    data_app = typer.Typer(
        help="Reference data used by the lints (TLD delegation periods).", no_args_is_help=True
    )
    app.add_typer(data_app, name="data")

    @data_app.command("update")
    @handle_errors
    def update(
        source: Annotated[
            Path, typer.Option("--from", help="A tld,delegated,removed CSV to install.")
        ],
    ) -> None:
        """Validate a TLD CSV and install it as the override the lints load."""
        try:
            text = source.read_text(encoding="utf-8")
        except (OSError, UnicodeDecodeError) as exc:
            raise InputError(f"cannot read {source}: {exc}") from None
        periods = parse_csv(text, str(source))
        target = tld_override_path()
        target.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=target.parent, prefix=".tld-", suffix=".csv")
        with os.fdopen(fd, "w", encoding="utf-8") as out:
            out.write(text)
        os.replace(tmp, target)
        typer.echo(f"installed {len(periods)} TLDs from {source} to {target}")

    @data_app.command("show")
    @handle_errors
    def show() -> None:
        """Print where the TLD data comes from and what it holds."""
        data = TldData.load()
        counts = data.counts(date.today())
        typer.echo(f"source: {data.source}")
        typer.echo(f"override location: {tld_override_path()}")
        typer.echo(
            f"TLDs: {counts['total']} listed, {counts['removed']} removed, "
            f"{counts['delegated_today']} delegated today"
        )
