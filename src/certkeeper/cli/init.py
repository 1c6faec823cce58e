"""`certkeeper init`: create a CA home with its hierarchy, keys, profiles and inventory."""

from __future__ import annotations

import os
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
from certkeeper.config import PASSPHRASE_ENV
from certkeeper.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("init")(init)


@handle_errors
def init(
    home: Path | None = home_option(),
    ca_name: str = typer.Option("certkeeper Example CA", help="Name used in CA subjects."),
    organization: str = typer.Option("certkeeper Example Trust Services", help="subject O."),
    country: str = typer.Option("US", help="subject C (two letters)."),
    base_url: str = typer.Option(
        "http://pki.example.com", help="http URL under which AIA, CRLs and OCSP are published."
    ),
    database_url: str | None = typer.Option(
        None, help="Inventory database URL (default: SQLite file in the home)."
    ),
    crl_shards: int = typer.Option(16, min=1, max=65536, help="CRL shards per issuing CA."),
    pkcs11_module: str = typer.Option(
        "", help="Generate the CA keys in a PKCS#11 token: path of the module (.so)."
    ),
    pkcs11_token: str = typer.Option(
        "", help="Label of the PKCS#11 token; $CERTKEEPER_PASSPHRASE is its user PIN."
    ),
    non_public: bool = typer.Option(
        False,
        "--non-public",
        help="A non-public hierarchy (demos, private PKI): names are not domain-validated; "
        "fixed for the life of the home.",
    ),
    actor: str | None = actor_option(),
    root_cert: Path | None = typer.Option(
        None,
        "--root-cert",
        help="The root certificate from a key ceremony: the home holds no root key and "
        "gets its issuing CAs through `ca csr`, `ceremony sign-ca` and `ca import`.",
    ),
) -> None:
    """Create a CA home: root (P-384), TLS issuing CAs (P-256, RSA-2048), OCSP responders.
    With --root-cert, only the root certificate of an offline root (docs/key-ceremony.md).

    The key passphrase comes from $CERTKEEPER_PASSPHRASE; without it a random one is
    written to secrets/passphrase (mode 0600) and named in the config."""
    from certkeeper.ca.home import InitOptions, create_home

    target = resolve_home(home)
    if bool(pkcs11_module) != bool(pkcs11_token):
        raise InputError("--pkcs11-module and --pkcs11-token go together")
    env = os.environ.get(PASSPHRASE_ENV)
    options = InitOptions(
        ca_name=ca_name,
        organization=organization,
        country=country,
        base_url=base_url,
        database_url=database_url,
        crl_shards=crl_shards,
        pkcs11_module=pkcs11_module,
        pkcs11_token=pkcs11_token,
        public=not non_public,
        actor=resolve_actor(actor),
        root_cert=_read(root_cert) if root_cert is not None else None,
    )
    create_home(target, options, env.encode() if env else None)
    err_console.print(f"created CA home {target}", highlight=False)
    if root_cert is None and not non_public:
        err_console.print(
            "the root key is in this online home: fine for tests and non-public homes; a "
            "publicly-trusted root lives offline (init --root-cert, docs/key-ceremony.md)",
            style="yellow",
            highlight=False,
        )
    if non_public:
        err_console.print(
            "NON-PUBLIC home: certificates are issued without domain validation; never "
            "submit this hierarchy to a root program",
            style="yellow",
            highlight=False,
        )
    if not env:
        err_console.print(
            f"key passphrase written to {target / 'secrets' / 'passphrase'}; for production "
            f"set {PASSPHRASE_ENV} (or use an HSM) and remove that file",
            style="yellow",
            highlight=False,
        )


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read --root-cert {path}: {exc.strerror}") from None
