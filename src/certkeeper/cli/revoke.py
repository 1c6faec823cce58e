"""`certkeeper revoke`: one certificate, with the BR reason rules."""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path

import typer

from certkeeper.cli.common import err_console, handle_errors, home_option, resolve_home
from certkeeper.errors import InputError


def register(app: typer.Typer) -> None:
    app.command("revoke")(revoke)


def parse_time(text: str, option: str) -> datetime:
    """An ISO 8601 time with a zone (Z or an offset); a bare date means 00:00 UTC."""
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        raise InputError(
            f"{option} {text!r} is not an ISO 8601 time (e.g. 2026-11-20T09:00:00Z)"
        ) from None
    if moment.tzinfo is None:
        if len(text) == 10:
            return moment.replace(tzinfo=UTC)
        raise InputError(f"{option} {text!r} has no time zone; add Z or an offset like +01:00")
    return moment


@handle_errors
def revoke(
    serial: str | None = typer.Argument(None, help="Serial number (hex)."),
    sha256: str | None = typer.Option(
        None, "--sha256", help="SHA-256 fingerprint of the certificate."
    ),
    cert: Path | None = typer.Option(None, "--cert", help="The certificate (PEM or DER)."),
    reason: str = typer.Option(
        ...,
        "--reason",
        help="keyCompromise, superseded, cessationOfOperation, affiliationChanged, "
        "privilegeWithdrawn or unspecified.",
    ),
    revoked_at: str | None = typer.Option(
        None, "--revoked-at", help="Revocation time (backdating only for keyCompromise)."
    ),
    evidence: str | None = typer.Option(None, "--evidence", help="What the revocation rests on."),
    no_publish: bool = typer.Option(
        False,
        "--no-publish",
        help="Do not republish the CRL shard now (it stays pending for the next publisher).",
    ),
    home: Path | None = home_option(),
) -> None:
    """Revoke one certificate: the OCSP response is re-signed at once and its CRL shard
    republished."""
    from certkeeper.revocation.reasons import parse_reason
    from certkeeper.wiring import build

    crl_reason = parse_reason(reason)
    when = parse_time(revoked_at, "--revoked-at") if revoked_at else None
    cert_der = None
    if cert is not None:
        try:
            cert_der = cert.read_bytes()
        except OSError as exc:
            raise InputError(f"{cert}: cannot read: {exc.strerror or exc}") from None
    ca = build(resolve_home(home))
    revocation = ca.revocation
    target = revocation.resolve_serial(serial=serial, sha256=sha256, cert_der=cert_der)
    result = revocation.revoke(
        target,
        crl_reason,
        now=datetime.now(UTC),
        revoked_at=when,
        evidence=evidence,
        publish=None if no_publish else ca.republisher.publisher(),
    )
    err_console.print(
        f"serial {result.serial}: {result.action} "
        f"({result.reason.name}, {result.revoked_at.isoformat()}); "
        f"OCSP re-signed; {result.published} CRL shard(s) republished",
        highlight=False,
    )
