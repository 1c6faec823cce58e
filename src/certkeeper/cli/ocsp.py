"""`certkeeper ocsp refresh` and `certkeeper ocsp show SERIAL`."""

from __future__ import annotations

from collections.abc import Callable
from contextlib import ExitStack
from datetime import UTC, datetime
from pathlib import Path
from typing import Annotated, Any

import typer

from certkeeper.cli.common import (
    OutputFormat,
    handle_errors,
    log_event,
    print_json,
    print_rows,
    progress,
    resolve_home,
)
from certkeeper.errors import EXIT_FINDINGS, EXIT_PARTIAL, InputError, NotFound

HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="CERTKEEPER_HOME",
        help="CA home directory (default ./ca-home).",
        show_default=False,
    ),
]
FormatOption = Annotated[OutputFormat, typer.Option("--format", "-f")]

ocsp_app = typer.Typer(help="Pre-signed OCSP responses.", no_args_is_help=True)


def _iso(moment: datetime | None) -> str | None:
    return None if moment is None else moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


@ocsp_app.command("refresh")
@handle_errors
def refresh_command(
    home: HomeOption = None,
    batch: Annotated[
        int, typer.Option("--batch", min=1, max=100_000, help="Responses per write.")
    ] = 500,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """Re-sign every response due under the BR 4.9.10 schedule (run it hourly)."""
    from certkeeper.wiring import build

    ca = build(resolve_home(home))
    with ExitStack() as stack:
        stack.callback(ca.close)
        advance: list[Callable[[int], None]] = []

        def start(total: int) -> None:
            advance.append(stack.enter_context(progress(total, "signing OCSP responses")))

        report = ca.ocsp.refresh(
            datetime.now(UTC),
            batch_size=batch,
            on_start=start,
            on_progress=lambda n: advance[0](n) if advance else None,
        )
    data = report.to_dict()
    failures: list[dict[str, Any]] = data.pop("failures")  # type: ignore[assignment]
    log_event("ocsp_refresh", **data)
    if fmt is OutputFormat.json:
        print_json({**data, "failures": failures})
    else:
        print_rows(
            [{"field": k, "value": v} for k, v in data.items()],
            ["field", "value"],
            fmt,
            title="OCSP refresh",
        )
        if failures:
            print_rows(failures, ["serial", "error"], fmt, title="failures")
    if report.failed:
        raise typer.Exit(EXIT_PARTIAL)  # the failed serials are due again next run
    if report.late:
        raise typer.Exit(EXIT_FINDINGS)  # replaced after the BR 4.9.10 deadline


@ocsp_app.command("show")
@handle_errors
def show_command(
    serial: Annotated[str, typer.Argument(help="Serial number in hexadecimal (0x allowed).")],
    home: HomeOption = None,
    fmt: FormatOption = OutputFormat.table,
) -> None:
    """The stored response for a serial: status, times, and what the responder serves."""
    from cryptography.x509 import ocsp

    from certkeeper.status.ocsp import refresh_deadline
    from certkeeper.wiring import build

    text = serial.strip().lower().removeprefix("0x").replace(":", "").lstrip("0")
    try:
        int(text, 16)
    except ValueError:
        raise InputError(f"serial {serial!r} is not hexadecimal") from None
    ca = build(resolve_home(home))
    try:
        inventory = ca.stores.inventory
        state = inventory.serial_state(text)
        if state is None:
            raise NotFound(f"serial {text} was never assigned (the responder answers unauthorized)")
        rec = ca.stores.ocsp.get(text)
        issuer_name = None
        if rec is not None:
            issuer_name = inventory.issuer(rec.issuer_id).name
    finally:
        ca.close()
    data: dict[str, Any] = {"serial": text, "serial_state": state}
    if rec is None:
        data["ocsp"] = "none (the responder answers unauthorized)"
    else:
        parsed = ocsp.load_der_ocsp_response(rec.der)
        data.update(
            issuer=issuer_name,
            status=rec.status,
            revoked_at=_iso(parsed.revocation_time_utc),
            reason=None if parsed.revocation_reason is None else parsed.revocation_reason.name,
            produced_at=_iso(rec.produced_at),
            this_update=_iso(rec.this_update),
            next_update=_iso(rec.next_update),
            refresh_deadline=_iso(refresh_deadline(rec.this_update, rec.next_update)),
            certificate_not_after=_iso(rec.not_after),
            size=len(rec.der),
        )
    if fmt is OutputFormat.json:
        print_json(data)
    else:
        rows = [{"field": k, "value": v} for k, v in data.items()]
        print_rows(rows, ["field", "value"], fmt, title=f"OCSP {text}")


def register(app: typer.Typer) -> None:
    app.add_typer(ocsp_app, name="ocsp")
