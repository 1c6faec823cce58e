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
)

for _name in _COMMAND_MODULES:
    try:
        _module = importlib.import_module(f"certkeeper.cli.{_name}")
    except ModuleNotFoundError as exc:
        if exc.name != f"certkeeper.cli.{_name}":
            raise
        continue
    _module.register(app)
