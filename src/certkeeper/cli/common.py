"""What every command shares: one-line errors, output formats, progress, the CA home."""

from __future__ import annotations

import contextvars
import functools
import json
import logging
import os
import sys
from collections.abc import Callable, Iterable, Iterator
from contextlib import contextmanager
from enum import StrEnum
from pathlib import Path
from typing import Any, ParamSpec, TypeVar

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from certkeeper.errors import EXIT_FINDINGS, EXIT_INTERRUPTED, CertkeeperError, InputError

P = ParamSpec("P")
R = TypeVar("R")

# Off a terminal, stderr goes to logs and scripts: a message stays one line, never cut
# at rich's default 80 columns.
err_console = Console(stderr=True, soft_wrap=not sys.stderr.isatty())
log = logging.getLogger("certkeeper")


class OutputFormat(StrEnum):
    table = "table"
    json = "json"
    csv = "csv"


# Exit codes beyond 0 (success) and 1 (bad input or configuration); README lists them.
EXIT_DEADLINE_MISSED = EXIT_FINDINGS  # incident plan/drill: items stay valid past the deadline


def fail(message: str, code: int = 1) -> typer.Exit:
    """Print one error line to stderr and return the Exit to raise."""
    err_console.print(
        f"error: {message}", style="bold red", markup=False, highlight=False, soft_wrap=True
    )
    return typer.Exit(code)


def handle_errors(fn: Callable[P, R]) -> Callable[P, R]:
    """Turn CertkeeperError (and other expected failures) into one line and an exit code.

    A traceback is a defect: anything a user can cause must become a CertkeeperError
    with a message that names the problem."""

    @functools.wraps(fn)
    def wrapper(*args: P.args, **kwargs: P.kwargs) -> R:
        try:  # a context of its own: what the command sets (its --actor) ends with it
            return contextvars.copy_context().run(fn, *args, **kwargs)
        except CertkeeperError as exc:
            raise fail(str(exc), exc.exit_code) from None
        except KeyboardInterrupt:
            raise fail("interrupted", EXIT_INTERRUPTED) from None
        except BrokenPipeError:
            raise typer.Exit(1) from None

    return wrapper


def home_option() -> Any:
    return typer.Option(
        None,
        "--home",
        envvar="CERTKEEPER_HOME",
        help="CA home directory (default ./ca-home).",
        show_default=False,
    )


ACTOR_ENV = "CERTKEEPER_ACTOR"


def actor_option() -> Any:
    return typer.Option(
        None,
        "--actor",
        help=f"Who does this, as recorded (default ${ACTOR_ENV}, then the OS user).",
        show_default=False,
    )


def resolve_actor(actor: str | None) -> str:
    """Who is acting: --actor, then $CERTKEEPER_ACTOR, then the login name."""
    import getpass

    name = actor or os.environ.get(ACTOR_ENV)
    if not name:
        try:
            name = getpass.getuser()
        except (KeyError, OSError):
            raise InputError(f"who is acting? pass --actor or set {ACTOR_ENV}") from None
    name = name.strip()
    if not name or len(name) > 128 or not name.isprintable():
        raise InputError(f"--actor {name!r}: 1-128 printable characters")
    from certkeeper.auditlog.record import set_actor  # the audit log records this name

    set_actor(name)
    return name


def resolve_home(home: Path | None) -> Path:
    if home is not None:
        return home
    env = os.environ.get("CERTKEEPER_HOME")
    return Path(env) if env else Path("ca-home")


@contextmanager
def progress(total: int, description: str) -> Iterator[Callable[[int], None]]:
    """A progress bar on a terminal; structured log lines (about every 10%) otherwise."""
    if sys.stderr.isatty():
        bar = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeRemainingColumn(),
            console=err_console,
        )
        with bar:
            task = bar.add_task(description, total=total)

            def advance_bar(n: int = 1) -> None:
                bar.advance(task, n)

            yield advance_bar
        return
    done = 0
    step = max(1, total // 10)
    next_report = step

    def advance(n: int = 1) -> None:
        nonlocal done, next_report
        done += n
        if done >= next_report or done == total:
            log_event("progress", task=description, done=done, total=total)
            next_report = done + step

    yield advance


def log_event(event: str, **fields: Any) -> None:
    """One JSON object per line on stderr: machine-readable progress when not on a TTY."""
    print(json.dumps({"event": event, **fields}, default=str), file=sys.stderr, flush=True)


def print_json(data: Any) -> None:
    typer.echo(json.dumps(data, indent=2, default=str))


def print_rows(
    rows: Iterable[dict[str, Any]],
    columns: list[str],
    fmt: OutputFormat,
    title: str | None = None,
) -> None:
    """Render a list of records as a rich table, JSON array or CSV."""
    rows = list(rows)
    if fmt is OutputFormat.json:
        print_json(rows)
        return
    if fmt is OutputFormat.csv:
        import csv

        writer = csv.DictWriter(sys.stdout, fieldnames=columns, extrasaction="ignore")
        writer.writeheader()
        for row in rows:
            writer.writerow(row)
        return
    from rich.table import Table

    table = Table(title=title)
    for col in columns:
        table.add_column(col)
    for row in rows:
        table.add_row(*("" if row.get(c) is None else str(row.get(c)) for c in columns))
    Console(width=max(160, Console().width)).print(table)


def trust_note(public: bool) -> str:
    """What every command that issues appends to its report in a non-public home."""
    return "" if public else " (non-public home: names not domain-validated)"
