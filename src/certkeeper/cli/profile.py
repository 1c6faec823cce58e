"""`certkeeper profile`: list, show and record versions of certificate profiles."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from certkeeper.cli.common import OutputFormat, handle_errors, home_option, print_rows, resolve_home

profile_app = typer.Typer(
    help="Certificate profiles: versions, contents, validation.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(profile_app, name="profile")


@profile_app.command("list")
@handle_errors
def list_profiles(
    home: Path | None = home_option(),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Every stored profile version."""
    from certkeeper.ca.home import CaHome

    ca = CaHome.open(resolve_home(home))
    rows = [
        {"profile": pid, "version": version, "recorded": created.isoformat()}
        for pid, version, created in ca.inventory.profile_versions()
    ]
    print_rows(rows, ["profile", "version", "recorded"], fmt, title="Profiles")


@profile_app.command("show")
@handle_errors
def show(
    profile_id: str,
    version: int | None = typer.Option(None, help="A stored version (default: latest)."),
    home: Path | None = home_option(),
) -> None:
    """Print the TOML text of a stored profile version."""
    from certkeeper.ca.home import CaHome

    profile = CaHome.open(resolve_home(home)).profiles.get(profile_id, version)
    typer.echo(f"# {profile.label} sha256={profile.source_sha256}")
    typer.echo(profile.source, nl=False)


@profile_app.command("sync")
@handle_errors
def sync(home: Path | None = home_option()) -> None:
    """Validate the home's profile files and record each edited one as a new version."""
    from certkeeper.ca.home import CaHome

    ca = CaHome.open(resolve_home(home))
    for result in ca.profiles.sync(datetime.now(UTC)):
        state = "recorded as new version" if result.created else "unchanged"
        typer.echo(f"{result.profile_id}: v{result.version} {state} ({result.path.name})")


@profile_app.command("check")
@handle_errors
def check(files: list[Path]) -> None:
    """Validate profile files without recording anything."""
    from certkeeper.profiles.registry import ProfileRegistry

    for path in files:
        profile = ProfileRegistry.parse_file(path)
        typer.echo(
            f"{path}: ok ({profile.id}, {profile.key_algorithm}, {profile.validity_days} days)"
        )
