"""`certkeeper ct`: an RFC 6962 test log for staging, and precertificates waiting for SCTs."""

from __future__ import annotations

import os
from datetime import UTC, datetime
from pathlib import Path

import typer

from certkeeper.cli.common import (
    OutputFormat,
    err_console,
    handle_errors,
    home_option,
    print_rows,
    resolve_home,
)
from certkeeper.errors import InputError

ct_app = typer.Typer(help="Certificate Transparency (docs/ct.md).", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ct_app, name="ct")


@ct_app.command("serve-log")
@handle_errors
def serve_log(
    key: Path = typer.Option(
        ..., "--key", help="The log's P-256 key (PEM); created (mode 0600) if absent."
    ),
    root: list[Path] = typer.Option(..., "--root", help="Accepted root certificate (repeatable)."),
    host: str = typer.Option("127.0.0.1", "--host", help="Address to listen on."),
    port: int = typer.Option(6962, "--port", min=1, max=65535),
    entries: Path | None = typer.Option(
        None, "--entries", help="Append entries here and reload them at start."
    ),
    log_list: Path | None = typer.Option(
        None,
        "--log-list",
        help="Add this log to a v3 log list here (created if absent; for [ct] log_list).",
    ),
    operator: str = typer.Option("certkeeper staging", "--operator", help="Operator name."),
) -> None:
    """Serve an RFC 6962 log (tests and staging, never a public log): add-chain,
    add-pre-chain, get-sth, get-sth-consistency, get-proof-by-hash, get-entries, get-roots."""
    import uvicorn
    from cryptography import x509
    from cryptography.hazmat.primitives.asymmetric import ec
    from cryptography.hazmat.primitives.serialization import (
        Encoding,
        NoEncryption,
        PrivateFormat,
        load_pem_private_key,
    )

    from certkeeper.ct.loglist import add_to_log_list
    from certkeeper.ct.testlog import TestLog

    if key.exists():
        try:
            loaded = load_pem_private_key(key.read_bytes(), None)
        except (ValueError, TypeError, OSError) as exc:
            raise InputError(f"--key {key}: not an unencrypted PEM private key ({exc})") from None
        if not isinstance(loaded, ec.EllipticCurvePrivateKey) or not isinstance(
            loaded.curve, ec.SECP256R1
        ):
            raise InputError(f"--key {key}: an RFC 6962 log key is ECDSA P-256")
        log_key = loaded
    else:
        log_key = ec.generate_private_key(ec.SECP256R1())
        fd = os.open(key, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "wb") as fh:
            fh.write(log_key.private_bytes(Encoding.PEM, PrivateFormat.PKCS8, NoEncryption()))
    roots = []
    for path in root:
        try:
            data = path.read_bytes()
            cert = (
                x509.load_pem_x509_certificate(data)
                if data.lstrip().startswith(b"-----")
                else x509.load_der_x509_certificate(data)
            )
        except (OSError, ValueError) as exc:
            raise InputError(f"--root {path}: not a certificate ({exc})") from None
        roots.append(cert.public_bytes(Encoding.DER))
    log = TestLog(log_key, roots, store=entries)
    url = f"http://{host}:{port}/"
    if log_list is not None:
        add_to_log_list(
            str(log_list), operator, f"{operator} log {port}", log.spki, url, datetime.now(UTC)
        )
    err_console.print(
        f"RFC 6962 test log {url} log id {log.log_id.hex()} with {len(log.entries)} entries",
        highlight=False,
    )
    uvicorn.run(log.app, host=host, port=port, log_level="warning", interface="asgi3")


@ct_app.command("pending")
@handle_errors
def pending(
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table, json or csv."),
    home: Path | None = home_option(),
) -> None:
    """Precertificates whose final certificate waits for SCTs, with why (complete each
    with `certkeeper issue --resume SERIAL`)."""
    from certkeeper.ca.home import CaHome
    from certkeeper.ct.pending import waiting_for_scts

    ca = CaHome.open(resolve_home(home))
    rows = [
        {
            "serial": r.serial,
            "attempts": r.attempts,
            "last_attempt": r.updated_at.isoformat(),
            "reason": r.reason,
        }
        for r in waiting_for_scts(ca.stores.scts)
    ]
    print_rows(rows, ["serial", "attempts", "last_attempt", "reason"], fmt)
