"""`certkeeper keys block --file F`: keys that must never be certified (BR 6.1.1.3)."""

from __future__ import annotations

from pathlib import Path

import typer

from certkeeper.cli.common import (
    actor_option,
    err_console,
    handle_errors,
    home_option,
    resolve_actor,
    resolve_home,
)

keys_app = typer.Typer(help="Blocked (compromised) keys.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(keys_app, name="keys")


@keys_app.command("block")
@handle_errors
def block(
    file: Path = typer.Option(
        ...,
        "--file",
        help="PEM certificates, CSRs, public or private keys, and/or SPKI SHA-256 lines.",
    ),
    reason: str = typer.Option("", "--reason", help="Why (recorded with each key)."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Block every key in FILE: no issuance path and no ACME account accepts it again."""
    from datetime import UTC, datetime

    from certkeeper.ca.audit_events import keys_blocked
    from certkeeper.errors import InputError
    from certkeeper.issuance.keycheck import block_listed
    from certkeeper.keys.spki import parse_block_list
    from certkeeper.wiring import build

    try:
        data = file.read_bytes()
    except OSError as exc:
        raise InputError(f"{file}: cannot read: {exc.strerror or exc}") from None
    entries = parse_block_list(data, str(file))
    resolve_actor(actor)
    ca = build(resolve_home(home))
    now = datetime.now(UTC)
    why = f"{file.name}: {reason}" if reason else file.name
    audit = keys_blocked(ca, file.name, reason, [e.spki_sha256 for e in entries])
    added = block_listed(ca.stores.blocked_keys, entries, why, now, audit)
    err_console.print(
        f"blocked {added} new key(s); {len(entries) - added} of {len(entries)} were already "
        "blocked or listed twice",
        highlight=False,
    )
