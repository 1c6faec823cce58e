"""`certkeeper ceremony`: what is done with the offline root, in its own home, with
witnesses, each act written to a signed, hash-chained transcript (docs/key-ceremony.md)."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from certkeeper.cli.common import err_console, fail, handle_errors, resolve_actor
from certkeeper.errors import EXIT_FINDINGS, InputError

ceremony_app = typer.Typer(
    help="Key ceremonies of the offline root: create it, sign CA certificates and its CRL.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(ceremony_app, name="ceremony")


ROOT_OPTION: Any = typer.Option(
    ..., "--root", help="The root's own home (never the online CA home)."
)
WITNESS_OPTION: Any = typer.Option(
    [], "--witness", help="A witness present (repeatable; at least one, not the operator)."
)
OPERATOR_OPTION: Any = typer.Option(
    None, "--operator", help="Who operates (default $CERTKEEPER_ACTOR, then the OS user)."
)


def _people(operator: str | None, witnesses: list[str]) -> tuple[str, tuple[str, ...]]:
    from certkeeper.ca.transcript import check_people

    return check_people(resolve_actor(operator), witnesses)


def _record(
    root: Path, command: str, people: tuple[str, tuple[str, ...]], detail: dict[str, Any]
) -> None:
    from certkeeper.ca import transcript
    from certkeeper.ca.root_home import ceremony_passphrase

    entry = transcript.append(
        root,
        ceremony_passphrase(),
        command=command,
        operator=people[0],
        witnesses=people[1],
        at=datetime.now(UTC),
        detail=detail,
    )
    err_console.print(f"transcript entry {entry['seq']}: {entry['hash']}", highlight=False)


def _provenance(token: Any, passphrase: bytes, key_ref: str) -> dict[str, object]:
    """What the key's store says of the key, for the transcript: a token's own statement
    (signing/pkcs11.key_provenance), or that an encrypted file states nothing."""
    if token is None:
        return {"store": "encrypted key file", "attestation": "none: a key file has none"}
    from certkeeper.signing.pkcs11 import KeyUri, key_provenance

    return key_provenance(token, passphrase, KeyUri.parse(key_ref))


def _gate(use_pkilint: bool) -> Any:
    from certkeeper.lint.gate import LintGate

    return LintGate(use_pkilint)


@ceremony_app.command("root")
@handle_errors
def root(
    root_home: Path = ROOT_OPTION,
    base_url: str = typer.Option(
        ..., "--base-url", help="The online CA's base URL (where the root's CA CRL is served)."
    ),
    ca_name: str = typer.Option("certkeeper Example CA", help="Name used in CA subjects."),
    organization: str = typer.Option("certkeeper Example Trust Services", help="subject O."),
    country: str = typer.Option("US", help="subject C (two letters)."),
    key_type: str = typer.Option("ecdsa-p384", "--key-type", help="ecdsa-p384, rsa-4096, ..."),
    pkcs11_module: str = typer.Option("", help="Make the root key in this PKCS#11 module's token."),
    pkcs11_token: str = typer.Option("", help="The token's label ($CERTKEEPER_PASSPHRASE: PIN)."),
    no_pkilint: bool = typer.Option(
        False, "--no-pkilint", help="Lint with certkeeper's lints only."
    ),
    operator: str | None = OPERATOR_OPTION,
    witness: list[str] = WITNESS_OPTION,
) -> None:
    """Create the root: its key (token or encrypted file), its self-signed certificate
    (through the lint gate), the transcript key, and the first transcript entry."""
    from certkeeper.ca import transcript
    from certkeeper.ca.root_home import (
        RootHome,
        RootSettings,
        ceremony_passphrase,
        key_id,
        sha256_hex,
    )
    from certkeeper.settings.pkcs11 import TokenConfig

    people = _people(operator, witness)
    if bool(pkcs11_module) != bool(pkcs11_token):
        raise InputError("--pkcs11-module and --pkcs11-token go together")
    passphrase = ceremony_passphrase()
    settings = RootSettings(
        name="root",
        ca_name=ca_name,
        organization=organization,
        country=country,
        base_url=base_url.rstrip("/"),
        key="",
        pkcs11=TokenConfig(Path(pkcs11_module), pkcs11_token) if pkcs11_module else None,
        use_pkilint=not no_pkilint,
    )
    now = datetime.now(UTC)
    home, cert_der, key_ref = RootHome.create(
        root_home, settings, key_type, passphrase, now, _gate(not no_pkilint)
    )
    transcript_key = transcript.new_transcript_key(home.path, passphrase)
    _record(
        home.path,
        "ceremony root",
        people,
        {
            "key_type": key_type,
            "key": key_ref,
            "key_id": key_id(home.certificate),
            "token": pkcs11_token or None,
            "key_provenance": _provenance(settings.pkcs11, passphrase, key_ref),
            "root_sha256": sha256_hex(cert_der),
            "subject": home.certificate.subject.rfc4514_string(),
            "transcript_key_sha256": transcript_key,
        },
    )
    typer.echo(f"root {home.certificate.subject.rfc4514_string()} sha256 {sha256_hex(cert_der)}")
    err_console.print(
        f"root certificate: {home.path / 'root.pem'}; give the auditor "
        f"{home.path / transcript.TRANSCRIPT_PUB} (sha256 {transcript_key})",
        highlight=False,
    )


@ceremony_app.command("sign-ca")
@handle_errors
def sign_ca(
    csr: Path = typer.Argument(..., help="The CSR from `certkeeper ca csr`."),
    out: Path = typer.Option(..., "--out", help="Write the certificate (PEM) here."),
    root_home: Path = ROOT_OPTION,
    common_name: str | None = typer.Option(None, help="Subject CN (default: the CSR's)."),
    operator: str | None = OPERATOR_OPTION,
    witness: list[str] = WITNESS_OPTION,
) -> None:
    """Sign an issuing-CA certificate for the CSR's key, linted (both linters, on a
    throwaway-key copy) before the root key signs."""
    from cryptography import x509
    from cryptography.hazmat.primitives import serialization

    from certkeeper.ca.root_home import RootHome, ceremony_passphrase, key_id, sha256_hex

    people = _people(operator, witness)
    home = RootHome(root_home)
    data = read_input(csr)
    der = home.sign_ca(
        data,
        common_name,
        ceremony_passphrase(),
        datetime.now(UTC),
        _gate(home.settings.use_pkilint),
    )
    cert = x509.load_der_x509_certificate(der)
    write_new(out, cert.public_bytes(serialization.Encoding.PEM))
    _record(
        home.path,
        "ceremony sign-ca",
        people,
        {
            "csr_sha256": hashlib.sha256(data).hexdigest(),
            "serial": f"{cert.serial_number:x}",
            "subject": cert.subject.rfc4514_string(),
            "key_id": key_id(cert),
            "certificate_sha256": sha256_hex(der),
            "signed_with": key_id(home.certificate),
        },
    )
    typer.echo(
        f"signed {cert.subject.rfc4514_string()} serial {cert.serial_number:x} "
        f"sha256 {sha256_hex(der)}"
    )


@ceremony_app.command("revoke-ca")
@handle_errors
def revoke_ca(
    serial: str = typer.Argument(..., help="Serial (hex) of a CA certificate this root signed."),
    reason: str = typer.Option(..., "--reason", help="keyCompromise, cessationOfOperation, ..."),
    root_home: Path = ROOT_OPTION,
    operator: str | None = OPERATOR_OPTION,
    witness: list[str] = WITNESS_OPTION,
) -> None:
    """Record a CA certificate as revoked; `ceremony crl` then signs the CA CRL with it
    (BR 4.9.7: within 24 hours)."""
    from certkeeper.ca.root_home import RootHome, sha256_hex
    from certkeeper.revocation.reasons import parse_reason

    people = _people(operator, witness)
    home = RootHome(root_home)
    code = int(parse_reason(reason))
    hexserial = serial.lower().removeprefix("0x").replace(":", "").lstrip("0") or "0"
    now = datetime.now(UTC).replace(microsecond=0)
    cert = home.revoke_ca(hexserial, code, now)
    from cryptography.hazmat.primitives import serialization

    _record(
        home.path,
        "ceremony revoke-ca",
        people,
        {
            "serial": hexserial,
            "reason": reason,
            "revoked_at": now,
            "certificate_sha256": sha256_hex(cert.public_bytes(serialization.Encoding.DER)),
        },
    )
    typer.echo(f"revoked CA certificate {hexserial} ({reason}); sign the CA CRL now: ceremony crl")


@ceremony_app.command("crl")
@handle_errors
def crl(
    out: Path = typer.Option(
        ..., "--out", help="Write the CA CRL (DER) here, for `ca import-crl`."
    ),
    root_home: Path = ROOT_OPTION,
    next_update: str | None = typer.Option(
        None, "--next-update", help="ISO 8601; default and most: twelve months (BR 4.9.7)."
    ),
    operator: str | None = OPERATOR_OPTION,
    witness: list[str] = WITNESS_OPTION,
) -> None:
    """Sign the root's CA CRL (ARL) with every revoked CA certificate."""
    from certkeeper.ca.root_home import RootHome, ceremony_passphrase, sha256_hex
    from certkeeper.cli.revoke import parse_time

    people = _people(operator, witness)
    home = RootHome(root_home)
    until = parse_time(next_update, "--next-update") if next_update else None
    der, number, nxt = home.sign_crl(ceremony_passphrase(), datetime.now(UTC), until)
    write_new(out, der)
    _record(
        home.path,
        "ceremony crl",
        people,
        {
            "crl_number": number,
            "next_update": nxt,
            "revoked": sorted(home.revoked()),
            "crl_sha256": sha256_hex(der),
        },
    )
    typer.echo(f"CA CRL #{number} sha256 {sha256_hex(der)}, next ceremony before {nxt.isoformat()}")


@ceremony_app.command("verify")
@handle_errors
def verify(
    root_home: Path = ROOT_OPTION,
    transcript_file: Path | None = typer.Option(
        None, "--transcript", help="The transcript to check (default: the root home's)."
    ),
    key: Path | None = typer.Option(
        None, "--key", help="The transcript public key the auditor kept (default: the root home's)."
    ),
) -> None:
    """Check every transcript entry's hash, link and signature; exit 4 naming each problem."""
    from certkeeper.ca import transcript

    path = transcript_file or root_home / transcript.TRANSCRIPT
    result = transcript.verify(path, read_input(key or root_home / transcript.TRANSCRIPT_PUB))
    for problem in result.problems:
        err_console.print(f"transcript: {problem}", markup=False, highlight=False)
    if not result.ok:
        raise fail(f"transcript {path}: {len(result.problems)} problem(s)", EXIT_FINDINGS)
    typer.echo(f"transcript {path}: {result.entries} entries verified (key sha256 {result.key_id})")


def read_input(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read {path}: {exc.strerror}") from None


def write_new(path: Path, data: bytes) -> None:
    try:
        with path.open("xb") as fh:
            fh.write(data)
    except FileExistsError:
        raise InputError(f"{path} exists; not overwriting it") from None
    except OSError as exc:
        raise InputError(f"cannot write {path}: {exc.strerror}") from None
