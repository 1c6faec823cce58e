"""`certkeeper audit coverage` and `certkeeper audit compare-responders`.

Exit codes: 0 clean, 4 (findings) when anything was found, 1 (bad input) when the audit
could not run: a missing directory, an unreadable certificate, a bad URL, no CA home.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import typer

from certkeeper.cli.common import (
    OutputFormat,
    err_console,
    handle_errors,
    home_option,
    print_json,
    print_rows,
    progress,
    resolve_home,
)
from certkeeper.errors import EXIT_FINDINGS


def _client_options(
    connections: int, pipeline: int, timeout: float, retries: int, method: str
) -> Any:
    from certkeeper.audit.coverage import ClientOptions
    from certkeeper.audit.status_sources import AuditInputError

    method = method.upper()
    if method not in ("GET", "POST"):
        raise AuditInputError(f"--method {method!r}: use GET or POST")
    return ClientOptions(
        connections=connections,
        pipeline=pipeline,
        timeout=timeout,
        retries=retries,
        method=method,
    )


def _check_foreign(certs: Path | None, issuer: Path | None) -> bool:
    from certkeeper.audit.status_sources import AuditInputError

    if (certs is None) != (issuer is None):
        raise AuditInputError("--certs and --issuer go together (another CA's certificates)")
    return certs is not None


def _print_findings(findings: list[Any], fmt: OutputFormat, limit: int) -> None:
    rows = [f.to_dict() for f in findings]
    shown = rows if limit <= 0 else rows[:limit]
    if shown:
        print_rows(shown, ["kind", "serial", "issuer", "detail"], fmt, title="Findings")
    if len(shown) < len(rows):
        err_console.print(
            f"{len(rows) - len(shown)} more findings not shown (--limit 0 or --format json "
            "lists them all)",
            highlight=False,
        )


def _summary_rows(summary: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for key, value in summary.items():
        if isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items()) or "-"
        rows.append({"item": key.replace("_", " "), "value": value})
    return rows


ConnectionsOpt = typer.Option(16, "--connections", min=1, max=1024, help="Keep-alive connections.")
PipelineOpt = typer.Option(
    16, "--pipeline", min=1, max=256, help="Requests pipelined per connection."
)
TimeoutOpt = typer.Option(5.0, "--timeout", min=0.01, help="Seconds per request attempt.")
RetriesOpt = typer.Option(3, "--retries", min=0, max=20, help="Retries per request.")
MethodOpt = typer.Option("POST", "--method", help="POST (RFC 6960 A.1) or GET (RFC 5019).")


def register_audit(audit_app: typer.Typer) -> None:
    audit_app.command("coverage")(coverage)
    audit_app.command("compare-responders")(compare_responders)


@handle_errors
def coverage(
    ocsp: str | None = typer.Option(
        None, "--ocsp", help="OCSP responder URL (default: the CA's, or each certificate's AIA)."
    ),
    crl: list[str] | None = typer.Option(
        None,
        "--crl",
        help="CRL directory, CRL URL, CCADB JSON shard list, or base URL (repeatable). "
        "Default: the home's CRL directory, or each certificate's CRLDP.",
    ),
    certs: Path | None = typer.Option(
        None, "--certs", help="Another CA's certificates/precertificates (PEM/DER directory)."
    ),
    issuer: Path | None = typer.Option(
        None, "--issuer", help="That CA's issuing certificate (PEM or DER)."
    ),
    ct_log: list[str] | None = typer.Option(
        None,
        "--ct-log",
        help="Take that CA's serials from this RFC 6962 log instead of --certs (repeatable; "
        "with --issuer).",
    ),
    probes: int = typer.Option(
        100, "--probes", min=0, help="Never-assigned serials probed per issuer."
    ),
    no_crl: bool = typer.Option(False, "--no-crl", help="Audit OCSP only."),
    lint: bool = typer.Option(True, "--lint/--no-lint", help="Lint every OCSP response."),
    workers: int = typer.Option(0, "--workers", min=0, help="Client processes (0: automatic)."),
    connections: int = ConnectionsOpt,
    pipeline: int = PipelineOpt,
    timeout: float = TimeoutOpt,
    retries: int = RetriesOpt,
    method: str = MethodOpt,
    limit: int = typer.Option(200, "--limit", min=0, help="Findings shown in a table (0: all)."),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    home: Path | None = home_option(),
) -> None:
    """Ask the live OCSP responder about every assigned serial, look each up in the
    published CRL shards, probe never-assigned serials; report every gap. With --issuer,
    audit another CA: its certificates from --certs, or from its CT logs (--ct-log)."""
    from certkeeper.audit import coverage as cov

    client = _client_options(connections, pipeline, timeout, retries, method)
    now = datetime.now(UTC).replace(microsecond=0)
    workers = workers or cov.default_workers()
    with tempfile.TemporaryDirectory(prefix="certkeeper-ct-") as scratch:
        if ct_log:
            certs = _from_ct_logs(ct_log, certs, issuer, Path(scratch))
        _coverage(
            certs, issuer, ocsp, crl, no_crl, probes, client, workers, lint, now, home, fmt, limit
        )


def _from_ct_logs(logs: list[str], certs: Path | None, issuer: Path | None, scratch: Path) -> Path:
    """Another CA's (pre)certificates as its CT logs hold them, in `scratch`: how an
    outsider finds what a CA logged but never gave a status (seed 003)."""
    from certkeeper.audit import ct_audit
    from certkeeper.audit.status_sources import AuditInputError, load_issuer

    if issuer is None or certs is not None:
        raise AuditInputError("--ct-log takes the place of --certs, and needs --issuer")
    info = load_issuer(issuer)
    urls = list(dict.fromkeys(u if u.endswith("/") else u + "/" for u in logs))
    out = scratch / "entries"
    out.mkdir()
    state = scratch / "state"
    state.mkdir()
    with progress(ct_audit.remaining(urls, state), "reading CT entries") as advance:
        walked = ct_audit.walk(
            urls, ct_audit.issuer_hashes_of([info.cert_der]), state, out_dir=out, advance=advance
        )
    if walked.matched == 0:
        raise AuditInputError(
            f"the {walked.entries} entries of {len(urls)} log(s) hold nothing issued by {info.name}"
        )
    err_console.print(
        f"{walked.matched} of {walked.entries} log entries were issued by {info.name}",
        highlight=False,
    )
    return out


def _coverage(
    certs: Path | None,
    issuer: Path | None,
    ocsp: str | None,
    crl: list[str] | None,
    no_crl: bool,
    probes: int,
    client: Any,
    workers: int,
    lint: bool,
    now: datetime,
    home: Path | None,
    fmt: OutputFormat,
    limit: int,
) -> None:
    from certkeeper.audit import coverage as cov
    from certkeeper.audit.coverage_plan import foreign_plan, home_plan

    if _check_foreign(certs, issuer):
        assert certs is not None and issuer is not None
        plan = foreign_plan(certs, issuer, ocsp, crl, no_crl, probes, now)
    else:
        from certkeeper.wiring import build, crl_settings

        ca = build(resolve_home(home))
        try:
            plan = home_plan(
                ca.stores.inventory, crl_settings(ca.config), ocsp, crl, no_crl, probes, now
            )
        finally:
            ca.close()
    with progress(plan.total, "OCSP coverage") as advance:
        report = cov.audit_coverage(
            plan.targets,
            now,
            probes=plan.probes,
            client=client,
            workers=workers,
            lint=lint,
            index=plan.index,
            advance=advance,
        )
    summary = report.summary()
    if fmt is OutputFormat.json:
        print_json({"summary": summary, "findings": [f.to_dict() for f in report.findings]})
    else:
        print_rows(_summary_rows(summary), ["item", "value"], fmt, title="Status coverage")
        _print_findings(report.findings, fmt, limit)
    if report.findings:
        raise typer.Exit(EXIT_FINDINGS)


@handle_errors
def compare_responders(
    url_a: str = typer.Argument(..., help="The responder in service."),
    url_b: str = typer.Argument(..., help="The responder to compare with it."),
    certs: Path | None = typer.Option(
        None, "--certs", help="Certificates/precertificates to ask about (PEM/DER directory)."
    ),
    issuer: Path | None = typer.Option(
        None, "--issuer", help="Their issuing CA certificate (PEM or DER)."
    ),
    show_all: bool = typer.Option(False, "--all", help="List agreeing, clean serials too."),
    workers: int = typer.Option(0, "--workers", min=0, help="Client processes (0: automatic)."),
    connections: int = ConnectionsOpt,
    pipeline: int = PipelineOpt,
    timeout: float = TimeoutOpt,
    retries: int = RetriesOpt,
    method: str = MethodOpt,
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
    home: Path | None = home_option(),
) -> None:
    """Ask two responders about the same serials: status agreement and each side's
    lint findings, side by side. Without --certs, every unexpired issued serial of the
    CA home is asked about."""
    from certkeeper.audit import coverage as cov
    from certkeeper.audit import status_sources as src
    from certkeeper.audit.coverage_model import Expect, Target
    from certkeeper.audit.ocsp_client import Endpoint
    from certkeeper.audit.responders import compare_responders as run_compare

    Endpoint.parse(url_a)
    Endpoint.parse(url_b)
    client = _client_options(connections, pipeline, timeout, retries, method)
    now = datetime.now(UTC).replace(microsecond=0)
    if _check_foreign(certs, issuer):
        assert certs is not None and issuer is not None
        info = src.load_issuer(issuer)
        found = src.load_certificates(certs, info)
        foreign = cov.foreign_targets(found, info, url_a, None, now)
        targets = [t for items in foreign.by_url.values() for t in items]
        issuers = {info.name: info.cert_der}
    else:
        from certkeeper.wiring import build

        ca = build(resolve_home(home))
        try:
            got = cov.home_targets(ca.stores.inventory, ca.config.base_url, None, now, url_a)
        finally:
            ca.close()
        targets = [
            Target(t.serial, t.issuer, Expect.foreign)
            for items in got.by_url.values()
            for t in items
            if t.expect is Expect.issued
        ]
        issuers = {name: i.cert_der for name, i in got.issuers.items()}
    if not targets:
        raise src.AuditInputError("no serials to compare")
    with progress(len(targets), "comparing responders") as advance:
        report = run_compare(
            url_a,
            url_b,
            targets,
            issuers,
            client=client,
            workers=workers or cov.default_workers(),
            advance=advance,
        )
    shown = report.comparisons if show_all else report.problems
    if fmt is OutputFormat.json:
        print_json({"summary": report.summary(), "serials": [c.to_dict() for c in shown]})
    else:
        print_rows(
            _summary_rows(report.summary()), ["item", "value"], fmt, title="Responder comparison"
        )
        rows = [
            {
                "serial": c.serial,
                "A": c.a.describe(),
                "B": c.b.describe(),
                "agree": "yes" if c.agree else "NO",
                "A lints": ", ".join(c.a.lint_ids()) or "-",
                "B lints": ", ".join(c.b.lint_ids()) or "-",
            }
            for c in shown
        ]
        if rows:
            print_rows(
                rows,
                ["serial", "A", "B", "agree", "A lints", "B lints"],
                fmt,
                title="Per serial (A: " + url_a + ", B: " + url_b + ")",
            )
    if report.problems:
        raise typer.Exit(EXIT_FINDINGS)
