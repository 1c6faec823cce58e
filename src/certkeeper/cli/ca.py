"""`certkeeper ca`: the hierarchy: list it, add warm-standby issuing CAs, rotate."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING

import typer

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

if TYPE_CHECKING:
    from certkeeper.ca.home import CaHome

ca_app = typer.Typer(help="The CA hierarchy: issuing CAs, standby, rotation.", no_args_is_help=True)


def register(app: typer.Typer) -> None:
    app.add_typer(ca_app, name="ca")


@ca_app.command("list")
@handle_errors
def list_cas(
    home: Path | None = home_option(),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Every CA and responder certificate with its state and where its key is."""
    from certkeeper.ca.home import CaHome

    ca = CaHome.open(resolve_home(home))
    names = {r.id: r.name for r in ca.inventory.issuers()}
    rows = [
        {
            "name": r.name,
            "role": r.role,
            "state": r.state,
            "key_type": r.key_type,
            "parent": names.get(r.parent_id, "") if r.parent_id else "",
            "not_after": r.not_after.isoformat(),
            "key": _key_place(r.key_ref),
            "subject": r.subject,
            "sha256": r.sha256,
        }
        for r in ca.inventory.issuers()
    ]
    columns = ["name", "role", "state", "key_type", "parent", "not_after", "key", "subject"]
    print_rows(rows, columns if fmt is OutputFormat.table else [*columns, "sha256"], fmt)


@ca_app.command("add-issuer")
@handle_errors
def add_issuer(
    name: str = typer.Argument(..., help="Issuer name (used in CRL and AIA URLs)."),
    key_type: str = typer.Option(..., "--key-type", help="ecdsa-p256, ecdsa-p384, rsa-2048, ..."),
    common_name: str | None = typer.Option(None, help="Subject CN (default from the CA name)."),
    activate: bool = typer.Option(False, "--activate", help="Make it active at once."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """A new issuing CA signed by the root, with its OCSP responder; standby by default."""
    resolve_actor(actor)  # the audit log records who
    from certkeeper.ca import rotation
    from certkeeper.ca.home import CaHome

    ca = CaHome.open(resolve_home(home))
    now = datetime.now(UTC)
    made = rotation.add_issuing_ca(ca, name, key_type, now, common_name=common_name)
    err_console.print(
        f"added issuing CA {made.issuing.name} ({made.issuing.key_type}, standby) with "
        f"OCSP responder {made.responder.name}",
        highlight=False,
    )
    if activate:
        _activate(ca, name, now)


@ca_app.command("activate")
@handle_errors
def activate(
    name: str = typer.Argument(..., help="The standby issuing CA to activate."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Rotate: issuance moves to this CA; the previous one of its key type is retired
    (it keeps publishing CRLs and OCSP until its certificate expires)."""
    resolve_actor(actor)  # the audit log records who
    from certkeeper.ca.home import CaHome

    _activate(CaHome.open(resolve_home(home)), name, datetime.now(UTC))


def _activate(ca: CaHome, name: str, now: datetime) -> None:
    from certkeeper.ca import rotation

    active, retired = rotation.activate(ca, name, now)
    gone = ", ".join(r.name for r in retired) or "none"
    err_console.print(f"{active.name} is active; retired: {gone}", highlight=False)


@ca_app.command("add-responder")
@handle_errors
def add_responder(
    issuer: str = typer.Argument(..., help="The issuing CA the responder signs for."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """A new delegated OCSP responder certificate and key (responder key rotation)."""
    resolve_actor(actor)  # the audit log records who
    from certkeeper.ca import rotation
    from certkeeper.ca.home import CaHome

    made = rotation.add_responder(CaHome.open(resolve_home(home)), issuer, datetime.now(UTC))
    err_console.print(
        f"added OCSP responder {made.name} for {issuer}, valid until {made.not_after.date()}",
        highlight=False,
    )


@ca_app.command("csr")
@handle_errors
def csr(
    name: str = typer.Argument(..., help="The new issuing CA's name."),
    key_type: str = typer.Option(..., "--key-type", help="ecdsa-p256, ecdsa-p384, rsa-2048, ..."),
    out: Path = typer.Option(..., "--out", help="Write the CSR (PEM) here."),
    common_name: str | None = typer.Option(None, help="Subject CN (default from the CA name)."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """A new issuing-CA key in this home (file or token) and its CSR, for the root to
    sign in a key ceremony (`ceremony sign-ca`); `ca import` installs the certificate."""
    resolve_actor(actor)  # the audit log records who
    from certkeeper.ca.home import CaHome
    from certkeeper.ca.offline import make_csr

    pem = make_csr(CaHome.open(resolve_home(home)), name, key_type, common_name)
    _write_new(out, pem)
    err_console.print(f"key for {name} made; CSR written to {out}", highlight=False)


@ca_app.command("import")
@handle_errors
def import_ca(
    cert: Path = typer.Argument(..., help="The CA certificate signed in the ceremony."),
    activate: bool = typer.Option(False, "--activate", help="Make it active at once."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Install an issuing-CA certificate signed by the offline root (standby, with a new
    OCSP responder); its key must be one `ca csr` made here."""
    resolve_actor(actor)  # the audit log records who
    from certkeeper.ca.home import CaHome
    from certkeeper.ca.offline import import_ca as do_import

    ca = CaHome.open(resolve_home(home))
    now = datetime.now(UTC)
    made = do_import(ca, _read(cert), now)
    err_console.print(
        f"imported issuing CA {made.issuing.name} ({made.issuing.key_type}, standby) with "
        f"OCSP responder {made.responder.name}",
        highlight=False,
    )
    if activate:
        _activate(ca, made.issuing.name, now)


@ca_app.command("import-crl")
@handle_errors
def import_crl(
    crl: Path = typer.Argument(..., help="The root's CA CRL signed in the ceremony."),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Serve the root's CA CRL exactly as the ceremony signed it (into `[crl] dir`)."""
    resolve_actor(actor)  # the audit log records who
    from certkeeper.ca.home import CaHome
    from certkeeper.ca.offline import import_ca_crl

    done = import_ca_crl(CaHome.open(resolve_home(home)), _read(crl), datetime.now(UTC))
    err_console.print(
        f"CA CRL #{done.number} ({done.entries} revoked) installed at {done.path}; next "
        f"ceremony due before {done.next_update.isoformat()}",
        highlight=False,
    )


def _read(path: Path) -> bytes:
    from certkeeper.cli.ceremony import read_input

    return read_input(path)


def _write_new(path: Path, data: bytes) -> None:
    from certkeeper.cli.ceremony import write_new

    write_new(path, data)


def _key_place(key_ref: str) -> str:
    from certkeeper.issuer_keys import OFFLINE_KEY

    if key_ref == OFFLINE_KEY:
        return "offline"
    return "pkcs11" if key_ref.startswith("pkcs11:") else "file"
