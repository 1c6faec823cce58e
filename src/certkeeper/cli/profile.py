"""`certkeeper profile`: list, show and record versions of certificate profiles; approve
them, and stop or restart issuance under a profile."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from certkeeper.auditlog.record import record
from certkeeper.cli.common import (
    OutputFormat,
    actor_option,
    err_console,
    handle_errors,
    home_option,
    print_rows,
    resolve_actor,
    resolve_home,
)
from certkeeper.errors import InputError

if TYPE_CHECKING:
    from certkeeper.wiring import Ca

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
    """Every stored profile version: who recorded and approved it, which one issuance
    uses, whether the profile is disabled and whether its file is in step."""
    from certkeeper.ca.home import CaHome
    from certkeeper.ca.profile_listing import version_rows

    ca = CaHome.open(resolve_home(home))
    rows = version_rows(ca.profiles)
    columns = [
        "profile",
        "version",
        "status",
        "state",
        "recorded",
        "recorded_by",
        "approved_by",
        "file",
    ]
    print_rows(rows, columns, fmt, title="Profiles")


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
def sync(home: Path | None = home_option(), actor: str | None = actor_option()) -> None:
    """Validate the home's profile files and record each edited one as a new version."""
    from certkeeper.ca.home import CaHome

    ca = CaHome.open(resolve_home(home))
    for result in ca.profiles.sync(datetime.now(UTC), resolve_actor(actor)):
        state = "recorded as new version" if result.created else "unchanged"
        if result.created:
            record(
                ca,
                "profile.recorded",
                result.profile_id,
                detail={"version": result.version, "live": result.live},
            )
        if not result.live:
            state += ", waiting for `certkeeper profile approve` by another person"
        typer.echo(f"{result.profile_id}: v{result.version} {state} ({result.path.name})")
    for pid in ca.profiles.stored_without_file():
        err_console.print(
            f"{pid}: no profile file declares it; issuance under it is stopped",
            style="yellow",
            highlight=False,
        )


@profile_app.command("approve")
@handle_errors
def approve(
    profile_id: str,
    version: int = typer.Option(..., "--version", help="The stored version to approve."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Approve a recorded version (a different person than its author): it becomes the
    version issuance uses."""
    from certkeeper.ca.home import CaHome

    ca = CaHome.open(resolve_home(home))
    who = resolve_actor(actor)
    ca.profiles.approve(profile_id, version, who, datetime.now(UTC))
    record(ca, "profile.approved", profile_id, detail={"version": version}, actor=who)
    typer.echo(f"{profile_id}: v{version} approved by {who}")


@profile_app.command("disable")
@handle_errors
def disable(
    profile_id: str,
    reason: str = typer.Option(..., "--reason", help="Why issuance under it stops."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Stop issuance under a profile on every path (CLI, batch, ACME, library) at once."""
    _set_state(profile_id, "disable", reason, home, actor)


@profile_app.command("enable")
@handle_errors
def enable(
    profile_id: str,
    reason: str = typer.Option(..., "--reason", help="Why issuance under it may resume."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Let issuance under a disabled profile resume."""
    _set_state(profile_id, "enable", reason, home, actor)


def _set_state(
    profile_id: str, action: str, reason: str, home: Path | None, actor: str | None
) -> None:
    from certkeeper.ca.home import CaHome

    ca = CaHome.open(resolve_home(home))
    change = ca.profiles.disable if action == "disable" else ca.profiles.enable
    event = change(profile_id, reason, resolve_actor(actor), datetime.now(UTC))
    record(ca, f"profile.{action}d", profile_id, detail={"reason": event.reason}, actor=event.actor)
    typer.echo(f"{profile_id}: {action}d by {event.actor} at {event.at.isoformat()}")


@profile_app.command("check")
@handle_errors
def check(files: list[Path]) -> None:
    """Validate profile files without recording anything."""
    from certkeeper.ca.profile_registry import ProfileRegistry

    for path in files:
        profile = ProfileRegistry.parse_file(path, datetime.now(UTC).date())
        typer.echo(
            f"{path}: ok ({profile.id}, {profile.key_algorithm}, {profile.validity_days} days)"
        )


def disable_for_incident(ca: Ca, profile: str | None, title: str, actor: str) -> None:
    """`incident open --disable-profile`: stop issuance under the selector's profile
    before the affected set is selected, so no certificate joins it afterwards."""
    if not profile:
        raise InputError("--disable-profile needs --profile ID in the selector")
    profile_id = profile.split(":", 1)[0]
    state = ca.profiles.states().get(profile_id)
    if state is not None and state.disabled:
        err_console.print(f"profile {profile_id} was already disabled", highlight=False)
        return
    ca.profiles.disable(profile_id, f"incident: {title}", actor, datetime.now(UTC))
    record(ca, "profile.disabled", profile_id, detail={"reason": f"incident: {title}"}, actor=actor)
    err_console.print(f"profile {profile_id} disabled by {actor}", highlight=False)
