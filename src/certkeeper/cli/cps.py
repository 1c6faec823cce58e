"""`certkeeper cps render` and `certkeeper cps check`: the CPS profile section and its audit."""

from __future__ import annotations

from pathlib import Path

import typer

from certkeeper.cli.common import (
    OutputFormat,
    err_console,
    handle_errors,
    home_option,
    print_json,
    progress,
    resolve_home,
)
from certkeeper.errors import EXIT_FINDINGS

cps_app = typer.Typer(
    name="cps",
    help="Write the certificate-profile section of the CPS; check a CPS against issuance.",
    no_args_is_help=True,
)


def register(app: typer.Typer) -> None:
    app.add_typer(cps_app, name="cps")


@cps_app.command("render")
@handle_errors
def render(
    out: Path | None = typer.Option(None, "--out", help="Write here instead of stdout."),
    all_versions: bool = typer.Option(
        False, "--all-versions", help="Every stored version of every profile, not only the latest."
    ),
    profile: list[str] | None = typer.Option(
        None, "--profile", help="Only this profile id (repeatable)."
    ),
    home: Path | None = home_option(),
) -> None:
    """Markdown in the style of BR 7.1.2.7 from the profiles issuance enforces."""
    from certkeeper.ca.home import CaHome
    from certkeeper.ct.policy import statement
    from certkeeper.errors import NotFound
    from certkeeper.profiles.cps import render_cps

    ca = CaHome.open(resolve_home(home))
    try:
        stored = ca.inventory.profile_versions()
        ids = sorted({pid for pid, _, _ in stored})
        for wanted in profile or []:
            if wanted not in ids:
                raise NotFound(f"unknown profile {wanted!r}; known profiles: {', '.join(ids)}")
        chosen = [pid for pid in ids if not profile or pid in profile]
        if all_versions:
            profiles = [ca.profiles.get(pid, v) for pid, v, _ in stored if pid in chosen]
        else:
            profiles = [ca.profiles.get(pid) for pid in chosen]
        ct = ca.config.ct
        text = render_cps(
            profiles,
            cps_version=ca.config.cps_version,
            ca_name=ca.config.ca_name,
            ct_statement=statement(ct.submission.policies) if ct.enabled else None,
        )
    finally:
        ca.close()
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        from certkeeper.errors import InputError

        raise InputError(f"--out {out}: cannot write: {exc.strerror or exc}") from None
    err_console.print(f"wrote {len(profiles)} profile(s) to {out}", highlight=False)


@cps_app.command("check")
@handle_errors
def check(
    cps_file: Path = typer.Argument(..., help="The CPS (Markdown) whose profile tables to check."),
    cps_version: str | None = typer.Option(
        None,
        "--cps-version",
        help="Compare certificates issued under this CPS version; 'all' for every version "
        "(default: the version the document states, else all).",
    ),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format", help="table or json."),
    workers: int | None = typer.Option(
        None, "--workers", min=1, help="Processes parsing certificates (default: config)."
    ),
    home: Path | None = home_option(),
) -> None:
    """Name every contradiction between the CPS, the profiles and the issued certificates.

    Exit 1 when there is any, 0 when the CPS agrees with both."""
    from certkeeper.audit.cps_check import read_cps
    from certkeeper.wiring import build

    text = read_cps(str(cps_file))
    ca = build(resolve_home(home))
    try:
        checker = ca.cps_checker
        job = checker.plan(text, str(cps_file), cps_version)
        with progress(job.certificates, "comparing certificates") as advance:
            report = checker.run(job, advance, workers or ca.config.issuance_workers)
    finally:
        ca.close()
    if fmt is OutputFormat.json:
        print_json(
            {
                "cps": str(cps_file),
                "cps_version": report.cps_version,
                "profile_parts": report.parts,
                "certificates": report.certificates,
                "contradictions": [f.to_dict() for f in report.findings],
                "skipped": report.skipped,
            }
        )
    else:
        for line in report.skipped:
            err_console.print(f"note: {line}", highlight=False, markup=False)
        for finding in report.findings:
            typer.echo(finding.text)
        scope = f"CPS {report.cps_version}" if report.cps_version else "every CPS version"
        err_console.print(
            f"{report.parts} profile part(s), {report.certificates:,} certificates under "
            f"{scope}: {len(report.findings)} contradiction(s)",
            highlight=False,
            markup=False,
        )
    if report.findings:
        raise typer.Exit(EXIT_FINDINGS)
