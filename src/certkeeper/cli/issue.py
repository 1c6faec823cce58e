"""`certkeeper issue`: one certificate from a CSR, or a directory of CSRs in parallel."""

from __future__ import annotations

from pathlib import Path

import typer

from certkeeper.cli.common import (
    err_console,
    handle_errors,
    home_option,
    resolve_home,
    trust_note,
)
from certkeeper.errors import EXIT_PARTIAL, InputError


def register(app: typer.Typer) -> None:
    app.command("issue")(issue)


@handle_errors
def issue(
    csr: Path | None = typer.Option(None, "--csr", help="PKCS#10 request (PEM, DER or base64)."),
    batch: Path | None = typer.Option(
        None, "--batch", help="Directory of CSRs (*.csr, *.pem, *.der)."
    ),
    resume: str | None = typer.Option(
        None, "--resume", help="Complete a precertificate that waits for SCTs (serial, hex)."
    ),
    profile: str | None = typer.Option(
        None, "--profile", help="Profile id, e.g. tls-dv-ecdsa (with --csr or --batch)."
    ),
    subscriber: str | None = typer.Option(None, "--subscriber", help="Subscriber id."),
    san: list[str] | None = typer.Option(None, "--san", help="Restrict to these CSR names."),
    out: Path | None = typer.Option(None, "--out", help="Write PEM here (batch: a directory)."),
    workers: int | None = typer.Option(None, "--workers", min=1, help="Batch worker processes."),
    home: Path | None = home_option(),
) -> None:
    """Issue through the full order: serial, linted precertificate, final certificate.

    Writes the certificate followed by its issuing CA certificate as PEM."""
    from certkeeper.wiring import build

    if [csr, batch, resume].count(None) != 2:
        raise InputError("give exactly one of --csr FILE, --batch DIR or --resume SERIAL")
    if resume is not None and (profile or subscriber or san):
        raise InputError(
            "--resume completes the stored precertificate as it is: no --profile, "
            "--subscriber or --san"
        )
    if resume is None and profile is None:
        raise InputError("--profile is required with --csr and --batch")
    ca = build(resolve_home(home))
    if batch is None:
        from certkeeper.issuance.csr import load_csr
        from certkeeper.issuance.output_files import check_file, write_pem
        from certkeeper.issuance.pem import chain_pem
        from certkeeper.issuance.service import IssueRequest

        if out is not None:
            check_file(out)  # before anything is signed
        service = ca.issuance()
        if resume is not None:
            issued = service.resume(resume)
        else:
            assert csr is not None and profile is not None
            parsed = load_csr(_read(csr), str(csr))
            issued = service.issue(
                IssueRequest(parsed, profile, subscriber, tuple(san) if san else None)
            )
        pem = chain_pem(issued)
        if out is None:
            typer.echo(pem, nl=False)
        else:
            write_pem(out, pem, issued.serial)
        err_console.print(
            f"issued serial {issued.serial} sha256 {issued.sha256} under {issued.profile}"
            + trust_note(ca.config.public),
            highlight=False,
        )
        for finding in issued.waived:
            err_console.print(
                f"waived: [{finding.linter}] {finding.lint_id}: {finding.message}", highlight=False
            )
        return

    from certkeeper.cli.common import progress
    from certkeeper.issuance.batch import csr_files, issue_batch

    assert profile is not None
    if san:
        raise InputError("--san applies to a single --csr, not to --batch")
    with progress(len(csr_files(batch)), "issuing") as advance:
        report = issue_batch(
            ca,
            batch,
            profile,
            subscriber,
            out,
            workers or ca.config.issuance_workers,
            advance,
            build=build,
        )
    err_console.print(report.summary() + trust_note(ca.config.public), highlight=False)
    if report.failed:
        raise typer.Exit(EXIT_PARTIAL)


def _read(path: Path) -> bytes:
    try:
        return path.read_bytes()
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}") from None
