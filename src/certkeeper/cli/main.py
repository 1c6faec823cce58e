"""The `certkeeper` command. Each command module adds itself through `register(app)`."""

from __future__ import annotations

import importlib

import typer

app = typer.Typer(
    name="certkeeper",
    help="Certificate authority back end for publicly-trusted TLS certificates.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


def _print_version(value: bool) -> None:
    if not value:
        return
    from importlib.metadata import version

    from certkeeper.ca.schema import required_revision

    typer.echo(f"certkeeper {version('certkeeper')} (schema revision {required_revision()})")
    raise typer.Exit()


@app.callback()
def _options(
    show_version: bool = typer.Option(
        False,
        "--version",
        callback=_print_version,
        is_eager=True,
        help="Print the version and the inventory schema revision it needs, and exit.",
    ),
) -> None:
    """Certificate authority back end for publicly-trusted TLS certificates."""
    from certkeeper.data_dir import use_installed_data

    use_installed_data()  # the TLD data `data update` installed, for every command


# One module per command group; each has `register(app: typer.Typer) -> None`.
_COMMAND_MODULES = (
    "init",
    "ca",
    "profile",
    "issue",
    "validate",
    "keys",
    "certs",
    "lint",
    "data",
    "audit",
    "crl",
    "ocsp",
    "serve",
    "revoke",
    "incident",
    "subscriber",
    "cps",
    "mpic",
    "db",
    "ct",
    "audit_log",
    "ceremony",
)

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"certkeeper.cli.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"certkeeper.cli.{_name}":
            raise
        continue
    _module.register(app)

# Batch commands run by timers can leave their counters for node_exporter.
if importlib.import_module("certkeeper.metrics_env").textfile_requested():
    importlib.import_module("certkeeper.metrics").write_textfile_at_exit()
