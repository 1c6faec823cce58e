"""`certkeeper audit-log`: verify the chain, show entries, export a checkpoint."""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from certkeeper.cli.common import (
    OutputFormat,
    err_console,
    fail,
    handle_errors,
    home_option,
    print_rows,
    resolve_home,
)
from certkeeper.errors import EXIT_FINDINGS, InputError

if TYPE_CHECKING:
    from certkeeper.audit_chain import Checkpoint

audit_log_app = typer.Typer(
    help="The hash-chained audit log of security events (BR 5.4.1).", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(audit_log_app, name="audit-log")


@audit_log_app.command("verify")
@handle_errors
def verify(
    home: Path | None = home_option(),
    checkpoints: list[Path] = typer.Option(
        [], "--checkpoint", help="A checkpoint file exported earlier (repeatable)."
    ),
    mirror: Path | None = typer.Option(
        None, "--mirror", help="Compare with this JSON-lines copy (default: [audit_log] mirror)."
    ),
    no_mirror: bool = typer.Option(False, "--no-mirror", help="Do not compare with the mirror."),
) -> None:
    """Check every link of the chain; exit 4 naming each edited, missing or moved entry."""
    from certkeeper.auditlog.record import audit_log
    from certkeeper.ca.home import CaHome

    wanted = [_read_checkpoint(p) for p in checkpoints]
    ca = CaHome.open(resolve_home(home))
    log = audit_log(ca)
    result = log.verify(wanted)
    problems = list(result.problems or [])
    mirror_path = None if no_mirror else (mirror or ca.config.audit_log.mirror)
    mirror_note = ""
    if mirror_path is not None and (mirror is not None or mirror_path.exists()):
        check = log.check_mirror(mirror_path)
        problems.extend(check.problems)
        mirror_note = f"; mirror {mirror_path}: {check.lines} lines"
    for problem in problems:
        err_console.print(f"audit log: {problem.message}", markup=False, highlight=False)
    head = result.head
    head_note = f", head #{head.seq} {head.hash}" if head is not None else ""
    if problems:
        raise fail(
            f"audit log: {len(problems)} problem(s) in {result.entries} entries{mirror_note}",
            EXIT_FINDINGS,
        )
    typer.echo(
        f"audit log: {result.entries} entries verified{head_note}"
        f"{', ' + str(len(wanted)) + ' checkpoint(s) matched' if wanted else ''}{mirror_note}"
    )


@audit_log_app.command("show")
@handle_errors
def show(
    home: Path | None = home_option(),
    since: str | None = typer.Option(None, "--since", help="From this time (ISO 8601)."),
    until: str | None = typer.Option(None, "--until", help="Before this time (ISO 8601)."),
    actor: str | None = typer.Option(None, "--actor", help="Only this actor."),
    event: str | None = typer.Option(
        None, "--event", help="Only this event, or a prefix ending in '.' (ca., profile.)."
    ),
    serial: str | None = typer.Option(None, "--serial", help="Only this certificate (hex)."),
    limit: int = typer.Option(0, "--limit", min=0, help="At most this many (the newest)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Entries in order, filtered by time, actor, event and serial."""
    from certkeeper.audit_chain import AuditFilter
    from certkeeper.auditlog.record import audit_log
    from certkeeper.ca.home import CaHome
    from certkeeper.cli.revoke import parse_time

    flt = AuditFilter(
        since=parse_time(since, "--since") if since else None,
        until=parse_time(until, "--until") if until else None,
        actor=actor,
        event=event,
        serial=_serial(serial) if serial else None,
    )
    ca = CaHome.open(resolve_home(home))
    rows = [e.to_dict() for e in audit_log(ca).entries(flt)]
    if limit:
        rows = rows[-limit:]
    columns = ["seq", "at", "actor", "event", "subject", "serial", "detail"]
    if fmt is OutputFormat.json:
        print_rows(rows, [*columns, "prev_hash", "hash"], fmt)
        return
    for row in rows:
        row["detail"] = json.dumps(row["detail"], sort_keys=True)
    print_rows(rows, columns, fmt)


@audit_log_app.command("checkpoint")
@handle_errors
def checkpoint(
    home: Path | None = home_option(),
    out: Path | None = typer.Option(None, "--out", help="Write it here (default: stdout)."),
) -> None:
    """The chain's head (sequence number and hash), to keep outside the CA: a later
    `verify --checkpoint F` fails if any entry up to it was rewritten or removed."""
    from certkeeper.auditlog.record import audit_log
    from certkeeper.ca.home import CaHome

    ca = CaHome.open(resolve_home(home))
    point = audit_log(ca).checkpoint()
    text = json.dumps(point.to_dict(), sort_keys=True) + "\n"
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="ascii")
    except OSError as exc:
        raise InputError(f"cannot write {out}: {exc.strerror}") from None
    err_console.print(f"checkpoint #{point.seq} written to {out}", highlight=False)


def _read_checkpoint(path: Path) -> Checkpoint:
    from certkeeper.audit_chain import Checkpoint

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise InputError(f"cannot read checkpoint {path}: {exc.strerror}") from None
    except ValueError:
        raise InputError(f"checkpoint {path} is not JSON") from None
    if not isinstance(data, dict):
        raise InputError(f"checkpoint {path} is not a JSON object")
    try:
        return Checkpoint.from_dict(data)
    except ValueError as exc:
        raise InputError(f"checkpoint {path}: {exc}") from None


def _serial(text: str) -> str:
    value = text.strip().lower().removeprefix("0x").replace(":", "")
    try:
        return format(int(value, 16), "x")
    except ValueError:
        raise InputError(f"--serial {text!r} is not hexadecimal") from None
