"""`certkeeper validate NAME --method dns-change|http-token [--check]`: BR 3.2.2.4
domain validation without ACME, the record `certkeeper issue` relies on."""

from __future__ import annotations

import json
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


def register(app: typer.Typer) -> None:
    app.command("validate")(validate)


@handle_errors
def validate(
    name: str = typer.Argument(..., help="FQDN to validate; *.NAME for a wildcard."),
    method: str = typer.Option(
        ..., "--method", help="dns-change (BR 3.2.2.4.7) or http-token (BR 3.2.2.4.19)."
    ),
    check: bool = typer.Option(
        False, "--check", help="Check the published value now and record the validation."
    ),
    output: str = typer.Option("text", "--format", help="text or json (the value to publish)."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Without --check: print the random value to publish (the same one until it is used
    or 30 days old). With --check: look for it from the primary and the remote
    perspectives and store the validation record with its evidence."""
    from certkeeper.errors import InputError
    from certkeeper.wiring import build

    if output not in ("text", "json"):
        raise InputError(f"--format {output!r}: use text or json")
    resolve_actor(actor)  # the audit log records who checked
    ca = build(resolve_home(home))
    operator = ca.operator_validation
    if not check:
        todo = operator.request(name, method)
        if output == "json":
            typer.echo(
                json.dumps(
                    {
                        "name": todo.name,
                        "method": todo.method,
                        "section": todo.section,
                        "where": todo.where,
                        "value": todo.value,
                        "expires_at": todo.expires_at.isoformat(),
                    }
                )
            )
        else:
            typer.echo(todo.line())
        err_console.print(
            f"publish this for {name} (BR {todo.section}), then run `certkeeper validate "
            f"{name} --method {method} --check`; the value expires {todo.expires_at.isoformat()}",
            highlight=False,
        )
        return
    if ca.config.public:  # BR 3.2.2.4: never validate for a public CA without DNSSEC
        from certkeeper.validation.dnssec_check import require_validating

        require_validating(ca.config.validation)
    outcome = operator.check(name, method)
    assert outcome.record_id is not None
    record = operator.va.store.get(outcome.record_id)
    assert record is not None
    err_console.print(
        f"validated {name}: {outcome.detail}; record {record.id}, reusable until "
        f"{record.reuse_until.isoformat()}",
        highlight=False,
    )
