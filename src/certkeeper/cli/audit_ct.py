"""`certkeeper audit ct`: what CT logs show an issuer signed, against what is known."""

from __future__ import annotations

from collections import Counter
from pathlib import Path

import typer

from certkeeper.cli.common import err_console, handle_errors, home_option, progress, resolve_home
from certkeeper.errors import EXIT_FINDINGS, InputError


def register_audit(audit_app: typer.Typer) -> None:
    audit_app.command("ct")(audit_ct)


@handle_errors
def audit_ct(
    log: list[str] = typer.Option(..., "--log", help="RFC 6962 log base URL (repeatable)."),
    issuer: list[Path] | None = typer.Option(
        None, "--issuer", help="Audit this issuing CA (PEM/DER; repeatable) instead of the home's."
    ),
    state: Path = typer.Option(
        Path("ct-audit"), "--state", help="Directory for the resumable position and findings."
    ),
    out: Path | None = typer.Option(
        None, "--out", help="Write every matching entry here (for `audit coverage --certs`)."
    ),
    embedded: bool = typer.Option(
        False, "--embedded", help="Also check every stored certificate's SCTs and inclusion."
    ),
    home: Path | None = home_option(),
) -> None:
    """Walk the logs' entries of an issuer: with a CA home, report logged (pre)certificates
    the inventory does not know, without a precertificate or OCSP status, or different
    from the stored one; with --issuer only, collect them for `audit coverage`."""
    from certkeeper.audit import ct_audit
    from certkeeper.audit.status_sources import load_issuer
    from certkeeper.ca.home import CaHome

    ca = None
    if not issuer or home is not None:
        ca = CaHome.open(resolve_home(home))
    if issuer:
        hashes = ct_audit.issuer_hashes_of(load_issuer(p).cert_der for p in issuer)
    else:
        assert ca is not None
        hashes = ct_audit.issuer_hashes_of(
            rec.cert_der for rec in ca.inventory.issuers(role="issuing")
        )
    if ca is None and out is None:
        raise InputError("without a CA home, give --out DIR to collect the entries")
    if out is not None:
        out.mkdir(parents=True, exist_ok=True)
    urls = list(dict.fromkeys(u if u.endswith("/") else u + "/" for u in log))
    state.mkdir(parents=True, exist_ok=True)
    total = ct_audit.remaining(urls, state)
    with progress(total, "reading CT entries") as advance:
        result = ct_audit.walk(
            urls,
            hashes,
            state,
            facts=ct_audit.home_facts(ca.stores.scts) if ca is not None else None,
            out_dir=out,
            advance=advance,
        )
    findings = list(result.findings)
    if embedded:
        if ca is None or ca.config.ct.log_list is None:
            raise InputError("--embedded needs a CA home whose [ct] names a log list")
        from certkeeper.ct.loglist import load_log_list

        loglist = load_log_list(str(ca.config.ct.log_list))
        findings += ct_audit.home_embedded(ca.inventory, ca.stores.scts, loglist)
    for f in findings:
        where = f"{f.log}#{f.index}" if f.index is not None else f.log
        typer.echo(f"{f.kind}\t{f.serial}\t{where}\t{f.detail}")
    counts = Counter(f.kind for f in findings)
    summary = ", ".join(f"{n} {k}" for k, n in sorted(counts.items())) or "no findings"
    err_console.print(
        f"read {result.entries} entries from {len(urls)} log(s); {result.matched} of the "
        f"audited issuer(s); {summary}"
        + (f"; entries written to {out}" if out is not None else ""),
        highlight=False,
    )
    if findings:
        raise typer.Exit(EXIT_FINDINGS)
