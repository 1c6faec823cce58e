"""`certkeeper incident`: open, scope, plan, execute, status, notify, drill, and the
CCADB report: details, action, report, update."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any

import typer

from certkeeper.cli import selection as sel
from certkeeper.cli.common import (
    EXIT_DEADLINE_MISSED,
    OutputFormat,
    actor_option,
    err_console,
    handle_errors,
    home_option,
    print_json,
    print_rows,
    progress,
    resolve_actor,
    resolve_home,
)
from certkeeper.cli.selection import build_filter
from certkeeper.errors import EXIT_PARTIAL, InputError

if TYPE_CHECKING:
    from certkeeper.revocation.drill import DrillReport

incident_app = typer.Typer(
    help="Incidents: deadline clock, affected set, mass revocation.", no_args_is_help=True
)


def register(app: typer.Typer) -> None:
    app.add_typer(incident_app, name="incident")


_OVERRIDE_BUDGET = typer.Option(
    None,
    "--override-budget",
    min=1,
    help="Plan under this per-shard CRL budget in bytes instead of [crl] budget_bytes; "
    "execute then publishes the shards over the configured budget.",
)


@incident_app.command("open")
@handle_errors
def open_cmd(
    title: str = typer.Option(..., "--title"),
    aware_at: str = typer.Option(
        ..., "--aware-at", help="When the CA was made aware (ISO 8601 with zone)."
    ),
    reason: int = typer.Option(..., "--reason", help="The BR 4.9.1.1 item number (1-16)."),
    explanation_url: str | None = typer.Option(
        None, "--explanation-url", help="Served to ACME clients by ARI."
    ),
    issuer: str | None = sel.ISSUER,
    profile: str | None = sel.PROFILE,
    cps_version: str | None = sel.CPS_VERSION,
    issued_after: str | None = sel.ISSUED_AFTER,
    issued_before: str | None = sel.ISSUED_BEFORE,
    key_type: str | None = sel.KEY_TYPE,
    domain: str | None = sel.DOMAIN,
    lint_finding: str | None = sel.LINT_FINDING,
    serials_file: Path | None = sel.SERIALS_FILE,
    sha256_file: Path | None = sel.SHA256_FILE,
    subscriber: str | None = sel.SUBSCRIBER,
    disable_profile: bool = typer.Option(
        False,
        "--disable-profile",
        help="Disable the --profile first, so nothing more is issued under it.",
    ),
    actor: str | None = actor_option(),
    home: Path | None = home_option(),
) -> None:
    """Open an incident: deadline from the BR item, affected set from the selector."""
    from certkeeper.cli.revoke import parse_time
    from certkeeper.wiring import build

    selector = build_filter(
        issuer=issuer,
        profile=profile,
        cps_version=cps_version,
        issued_after=issued_after,
        issued_before=issued_before,
        key_type=key_type,
        domain=domain,
        lint_finding=lint_finding,
        serials_file=serials_file,
        sha256_file=sha256_file,
        subscriber=subscriber,
    )
    who = resolve_actor(actor)
    ca = build(resolve_home(home))
    aware = parse_time(aware_at, "--aware-at")
    if disable_profile:
        from certkeeper.cli.profile import disable_for_incident

        disable_for_incident(ca, profile, title, who)
    record = ca.incidents.open_incident(
        title=title,
        aware_at=aware,
        br_item_number=reason,
        selector=selector,
        now=datetime.now(UTC),
        explanation_url=explanation_url,
        who=who,
    )
    assert record.id is not None
    ledger = ca.incidents.status(record.id, record.created_at)
    typer.echo(
        f"incident {record.id}: {_affected(ledger)}; deadline {record.deadline.isoformat()} "
        f"(BR 4.9.1.1 item {record.br_item})"
    )


def _affected(ledger: Any) -> str:
    """Certificates and precertificates apart, as the ledger counts them."""
    return (
        f"{ledger.counts.affected} certificates affected (distinct by SHA-256), "
        f"{ledger.precertificates.affected} precertificates without a final certificate"
    )


@incident_app.command("list")
@handle_errors
def list_cmd(
    home: Path | None = home_option(),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Every incident."""
    from certkeeper.wiring import build

    ca = build(resolve_home(home))
    rows = [
        {
            "id": i.id,
            "title": i.title,
            "item": i.br_item,
            "aware_at": i.aware_at.isoformat(),
            "deadline": i.deadline.isoformat(),
            "state": i.state,
        }
        for i in ca.incidents.all()
    ]
    print_rows(
        rows, ["id", "title", "item", "aware_at", "deadline", "state"], fmt, title="Incidents"
    )


@incident_app.command("scope")
@handle_errors
def scope_cmd(
    incident_id: int,
    home: Path | None = home_option(),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """The affected set: distinct certificates, precertificates apart, per issuer and shard."""
    from certkeeper.wiring import build

    ca = build(resolve_home(home))
    result = ca.incidents.scope(incident_id, datetime.now(UTC))
    data = result.to_dict()
    if fmt is OutputFormat.json:
        print_json(data)
        return
    names = {r.id: r.name for r in ca.stores.inventory.issuers()}
    typer.echo(
        f"incident {incident_id}: {data['distinct_certificates']} distinct certificates "
        f"({data['unexpired_at_aware']} valid at aware-at, {data['unexpired_now']} now); "
        f"{data['precertificates_without_final']} precertificates without a final certificate"
    )
    rows = [
        {"issuer": names[r["issuer_id"]], "shard": r["shard"], "certificates": r["certificates"]}
        for r in data["per_issuer_shard"]
    ]
    print_rows(rows, ["issuer", "shard", "certificates"], fmt, title="Per issuer and shard")


@incident_app.command("plan")
@handle_errors
def plan_cmd(
    incident_id: int,
    policy: str = typer.Option(
        "soonest-expiry", "--policy", help="soonest-expiry, in-use-first or latest-expiry."
    ),
    notify: bool = typer.Option(True, "--notify/--no-notify", help="Email affected subscribers."),
    override_budget: int | None = _OVERRIDE_BUDGET,
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Plan every affected certificate's revocation under the shard budgets.

    Exits 4 when the plan leaves any item valid and unrevoked past the deadline; the
    verdict names the per-shard budget that would meet it."""
    from certkeeper.revocation.planner import Policy
    from certkeeper.wiring import build

    try:
        chosen = Policy(policy)
    except ValueError:
        raise InputError(
            f"--policy {policy!r}: use one of {', '.join(p.value for p in Policy)}"
        ) from None
    ca = build(resolve_home(home))
    report = ca.incidents.make_plan(
        incident_id, datetime.now(UTC), chosen, budget=override_budget, who=resolve_actor(actor)
    )
    data = report.to_dict()
    if notify:
        sent = ca.notifier.notify(incident_id)
        data["notifications"] = {
            "sent": sent.sent,
            "failed": sent.failed,
            "without_contact": sent.without_contact,
        }
    if fmt is OutputFormat.json:
        print_json(data)
    else:
        typer.echo(data["summary"])
        print_rows(
            data["batches"],
            ["batch", "at", "certificates", "precertificates"],
            fmt,
            title="Batches",
        )
        if notify:
            n = data["notifications"]
            typer.echo(
                f"notifications: {n['sent']} sent, {n['failed']} failed; "
                f"no contact: {len(n['without_contact'])}"
            )
    if not report.verdict.met:
        raise typer.Exit(EXIT_DEADLINE_MISSED)


@incident_app.command("execute")
@handle_errors
def execute_cmd(
    incident_id: int,
    workers: int = typer.Option(2, "--workers", min=1),
    lint_every: int = typer.Option(
        1,
        "--lint-every",
        min=1,
        help="Lint 1 in N re-signed OCSP responses after each response shape passed in full "
        "(default: every one; see docs/ocsp.md).",
    ),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Revoke the batches whose planned time has come; resumable, never revokes twice.

    Later batches wait for entries to leave their shards (the plan keeps every shard
    under its byte budget): run this again when they are due."""
    from certkeeper.revocation.incidents import verdict_sentence
    from certkeeper.wiring import build

    ca = build(resolve_home(home))
    now = datetime.now(UTC)
    incidents = ca.incidents
    incident = incidents.get(incident_id)
    plan = incidents.latest_plan(incident_id)
    left = incident.deadline - now
    err_console.print(
        f"deadline {incident.deadline.isoformat()} ({_span(left)} left)", highlight=False
    )
    # The plan decided the budget: one made with --override-budget is published over
    # [crl] budget_bytes (the event log names who planned it).
    overridden = bool(plan and plan.get("budget_overridden"))
    with progress(incidents.size(incident_id), f"incident {incident_id}: revoking") as advance:
        result = incidents.execute(
            incident_id,
            now,
            workers=workers,
            publish=ca.republisher.publisher(override_budget=overridden),
            advance=advance,
            who=resolve_actor(actor),
            lint_every=lint_every,
        )
    ledger = incidents.status(incident_id, datetime.now(UTC))
    counts = ledger.counts
    typer.echo(
        f"revoked {result.revoked}, already revoked {result.already_revoked}, "
        f"expired {result.expired}; {result.published} shard(s) republished; "
        f"remaining {counts.remaining} of {counts.affected} certificates, "
        f"{ledger.precertificates.remaining} of {ledger.precertificates.affected} "
        "precertificates without a final certificate"
    )
    typer.echo(verdict_sentence(incident_id, plan))


def _span(delta: Any) -> str:
    seconds = int(delta.total_seconds())
    sign = "-" if seconds < 0 else ""
    seconds = abs(seconds)
    return f"{sign}{seconds // 86400}d {seconds % 86400 // 3600}h {seconds % 3600 // 60}m"


@incident_app.command("status")
@handle_errors
def status_cmd(
    incident_id: int,
    home: Path | None = home_option(),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """The ledger: revoked + expired + remaining = affected, plan against actual, weekly table."""
    from certkeeper.wiring import build

    ca = build(resolve_home(home))
    result = ca.incidents.status(incident_id, datetime.now(UTC)).to_dict()
    if fmt is OutputFormat.json:
        print_json(result)
        return
    c = result["certificates"]
    typer.echo(
        f"incident {incident_id} '{result['title']}': deadline {result['deadline']} "
        f"({_span(timedelta(seconds=result['deadline_in_seconds']))} left)"
    )
    typer.echo(
        f"affected {c['affected']} = revoked {c['revoked']} + expired before revocation "
        f"{c['expired_before_revocation']} + remaining {c['remaining']}"
        f"{'' if result['reconciles'] else '  (DOES NOT RECONCILE)'}"
    )
    p = result["precertificates_without_final"]
    typer.echo(
        f"precertificates without a final certificate: affected {p['affected']} = revoked "
        f"{p['revoked']} + expired before revocation {p['expired_before_revocation']} + "
        f"remaining {p['remaining']}"
    )
    typer.echo(
        f"planned by now {c['planned_by_now']} of {result['planned_total']} planned "
        f"certificates; {p['planned_by_now']} of {result['planned_total_precertificates']} "
        "planned precertificates"
    )
    typer.echo(result["plan"]["summary"])
    print_rows(
        result["weeks"],
        [
            "week",
            "start",
            "revoked_in_week",
            "revoked_cumulative",
            "expired_in_week",
            "expired_cumulative",
            "remaining_at_end",
        ],
        fmt,
        title="Week by week",
    )
    if result["undelivered_notifications"]:
        print_rows(
            result["undelivered_notifications"],
            ["subscriber", "address", "kind", "state", "attempts", "error"],
            fmt,
            title="Undelivered notifications",
        )


@incident_app.command("notify")
@handle_errors
def notify_cmd(
    incident_id: int,
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
    dry_run: bool = typer.Option(
        False, "--dry-run", help="Print the notices that are due; send and record nothing."
    ),
) -> None:
    """Send or retry (with backoff) the subscriber notices of an incident.

    Exits non-zero while any notice failed this run or used up its attempts, so a timer
    running it never fails silently."""
    from certkeeper.wiring import build

    if not dry_run:
        resolve_actor(actor)  # the audit log records who sent
    ca = build(resolve_home(home))
    report = ca.notifier.notify(incident_id, dry_run=dry_run)
    if dry_run:
        for message in report.messages:
            typer.echo(message.as_string())
        typer.echo(f"{len(report.messages)} notice(s) due; nothing sent (--dry-run)")
        return
    typer.echo(
        f"sent {report.sent}, failed {report.failed}, waiting to retry {report.waiting}, "
        f"abandoned {len(report.abandoned)}, subscribers without contact: "
        f"{', '.join(report.without_contact or []) or 'none'}"
    )
    for error in report.errors:
        err_console.print(f"failed: {error}", markup=False, highlight=False, soft_wrap=True)
    for item in report.abandoned:
        err_console.print(
            f"abandoned after {ca.config.notify_attempts} attempts: {item}",
            markup=False,
            highlight=False,
            soft_wrap=True,
        )
    if report.failed or report.abandoned:
        raise typer.Exit(EXIT_PARTIAL)  # failed notices stay queued; abandoned need a person


@incident_app.command("drill")
@handle_errors
def drill_cmd(
    incident_id: int | None = typer.Argument(
        None, help="An existing incident (default: open one from the selector)."
    ),
    title: str = typer.Option("mass revocation drill", "--title"),
    reason: int = typer.Option(12, "--reason", help="BR 4.9.1.1 item."),
    policy: str = typer.Option("soonest-expiry", "--policy"),
    keep: Path | None = typer.Option(
        None, "--keep", help="Keep the drill's copy in this directory."
    ),
    override_budget: int | None = _OVERRIDE_BUDGET,
    issuer: str | None = sel.ISSUER,
    profile: str | None = sel.PROFILE,
    cps_version: str | None = sel.CPS_VERSION,
    issued_after: str | None = sel.ISSUED_AFTER,
    issued_before: str | None = sel.ISSUED_BEFORE,
    key_type: str | None = sel.KEY_TYPE,
    domain: str | None = sel.DOMAIN,
    lint_finding: str | None = sel.LINT_FINDING,
    serials_file: Path | None = sel.SERIALS_FILE,
    sha256_file: Path | None = sel.SHA256_FILE,
    subscriber: str | None = sel.SUBSCRIBER,
    home: Path | None = home_option(),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Plan and execute a mass revocation on a copy of the inventory (BR 5.7.1.2).

    Exits 4 when the deadline would be missed (by the plan, or by the time the work
    takes)."""
    from certkeeper.ca.home import CaHome
    from certkeeper.revocation.drill import drill
    from certkeeper.revocation.planner import Policy
    from certkeeper.wiring import build

    selector = None
    if incident_id is None:
        selector = build_filter(
            issuer=issuer,
            profile=profile,
            cps_version=cps_version,
            issued_after=issued_after,
            issued_before=issued_before,
            key_type=key_type,
            domain=domain,
            lint_finding=lint_finding,
            serials_file=serials_file,
            sha256_file=sha256_file,
            subscriber=subscriber,
        )
    report = drill(
        CaHome.open(resolve_home(home)).config,
        now=datetime.now(UTC),
        incident_id=incident_id,
        title=title,
        br_item=reason,
        selector=selector,
        policy=Policy(policy),
        keep=keep,
        budget=override_budget,
        build=build,
    )
    data = report.to_dict()
    if fmt is OutputFormat.json:
        print_json(data)
    else:
        _print_drill(report, fmt)
    if not report.deadline_met:
        raise typer.Exit(EXIT_DEADLINE_MISSED)


def _print_drill(report: DrillReport, fmt: OutputFormat) -> None:
    typer.echo(
        f"drill: {report.certificates} certificates, {report.precertificates} precertificates "
        f"without a final certificate planned; {report.summary()}"
    )
    print_rows(
        [{"stage": k, "seconds": f"{v:.2f}"} for k, v in report.seconds.items()],
        ["stage", "seconds"],
        fmt,
        title="Time per stage",
    )
    typer.echo(
        f"revoked {report.revoked}; shards published {report.shards_published}, refused "
        f"{report.shards_refused}; largest shard {report.largest_shard_bytes:,} of "
        f"{report.budget_bytes:,} bytes"
    )
    typer.echo(
        f"deadline {report.deadline.isoformat()}: {'MET' if report.deadline_met else 'MISSED'}"
    )


# -- report data, action items, the CCADB report and the weekly update ---------------------

action_app = typer.Typer(
    help="Action items of the incident report (CCADB: Prevent, Detect, Mitigate).",
    no_args_is_help=True,
)
incident_app.add_typer(action_app, name="action")


@incident_app.command("details")
@handle_errors
def details_cmd(
    incident_id: int,
    set_: list[str] = typer.Option([], "--set", help="key=value: set a report field (repeatable)."),
    add: list[str] = typer.Option(
        [], "--add", help="key=value: append to a list field (repeatable)."
    ),
    unset: list[str] = typer.Option([], "--unset", help="Remove a report field (repeatable)."),
    from_file: Path | None = typer.Option(
        None, "--from-file", help="A TOML file of report fields (replaces those it names)."
    ),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """Enter the report fields (description, dates, root cause, lessons, ...) or show them.

    Fields: ca_owner_id, description, non_compliance_start, non_compliance_end,
    relevant_policies, source_of_disclosure, affected_types, issuance_stopped (yes/no),
    issuance_stopped_at, issuance_resumed_at, issuance_explanation, analysis,
    additional_considerations, timeline ('TIME|event'), related_incidents
    ('BUG|YYYY-MM-DD|description'), root_cause_analysis, rca_methodology, went_well,
    went_poorly, got_lucky, lessons_additional, next_update. Every change is logged."""
    from certkeeper.revocation import details as detailsmod
    from certkeeper.wiring import build

    sets = [detailsmod.split_assignment(s, "--set") for s in set_]
    adds = [detailsmod.split_assignment(s, "--add") for s in add]
    document = detailsmod.load_document(from_file) if from_file is not None else None
    incidents = build(resolve_home(home)).incidents
    if sets or adds or unset or document is not None:
        current = incidents.update_details(
            incident_id,
            who=resolve_actor(actor),
            sets=sets,
            adds=adds,
            unsets=unset,
            document=document,
        )
    else:
        current = incidents.details(incident_id)
    fields = {k: v for k, v in current.items() if k != detailsmod.ACTIONS_KEY}
    if fmt is OutputFormat.json:
        print_json(fields)
        return
    rows = [
        {"field": f.key, "value": _show(fields.get(f.key))}
        for f in detailsmod.FIELDS
        if f.key in fields or fmt is OutputFormat.table
    ]
    print_rows(rows, ["field", "value"], fmt, title=f"Incident {incident_id} report fields")


def _show(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, list):
        return "\n".join(
            " | ".join(str(v) for v in item.values()) if isinstance(item, dict) else str(item)
            for item in value
        )
    return str(value)


_ACTION_COLUMNS = ["number", "kind", "description", "root_cause", "criteria", "due", "status"]


@action_app.command("add")
@handle_errors
def action_add_cmd(
    incident_id: int,
    kind: str = typer.Option(..., "--kind", help="Prevent, Detect or Mitigate."),
    description: str = typer.Option(..., "--description"),
    root_cause: str = typer.Option(
        ..., "--root-cause", help="Which root cause it answers, e.g. 'Root Cause #1'."
    ),
    criteria: str = typer.Option(
        ..., "--criteria", help="Evaluation criteria: how success is judged."
    ),
    due: str = typer.Option(..., "--due", help="Due date, YYYY-MM-DD."),
    status: str = typer.Option(
        "Not Started", "--status", help="Not Started, In Progress, Complete or Cancelled."
    ),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Add an action item to the incident report."""
    from certkeeper.wiring import build

    item = build(resolve_home(home)).incidents.add_action(
        incident_id,
        {
            "kind": kind,
            "description": description,
            "root_cause": root_cause,
            "criteria": criteria,
            "due": due,
            "status": status,
        },
        who=resolve_actor(actor),
    )
    typer.echo(
        f"incident {incident_id}: action item #{item.number} ({item.kind.value}, due "
        f"{item.due.isoformat()}, {item.status.value})"
    )


@action_app.command("set")
@handle_errors
def action_set_cmd(
    incident_id: int,
    number: int = typer.Argument(..., help="The action item's number (see 'action list')."),
    kind: str | None = typer.Option(None, "--kind"),
    description: str | None = typer.Option(None, "--description"),
    root_cause: str | None = typer.Option(None, "--root-cause"),
    criteria: str | None = typer.Option(None, "--criteria"),
    due: str | None = typer.Option(None, "--due"),
    status: str | None = typer.Option(None, "--status"),
    home: Path | None = home_option(),
    actor: str | None = actor_option(),
) -> None:
    """Change an action item (its status, due date, ...); the change is logged."""
    from certkeeper.wiring import build

    item = build(resolve_home(home)).incidents.set_action(
        incident_id,
        number,
        {
            "kind": kind,
            "description": description,
            "root_cause": root_cause,
            "criteria": criteria,
            "due": due,
            "status": status,
        },
        who=resolve_actor(actor),
    )
    typer.echo(
        f"incident {incident_id}: action item #{item.number} ({item.kind.value}, due "
        f"{item.due.isoformat()}, {item.status.value})"
    )


@action_app.command("list")
@handle_errors
def action_list_cmd(
    incident_id: int,
    home: Path | None = home_option(),
    fmt: OutputFormat = typer.Option(OutputFormat.table, "--format"),
) -> None:
    """The incident's action items."""
    from certkeeper.wiring import build

    items = build(resolve_home(home)).incidents.actions(incident_id)
    print_rows(
        [a.to_dict() for a in items],
        _ACTION_COLUMNS,
        fmt,
        title=f"Incident {incident_id} action items",
    )


@incident_app.command("report")
@handle_errors
def report_cmd(
    incident_id: int,
    fmt: str = typer.Option("md", "--format", help="md, html or json."),
    out: Path | None = typer.Option(
        None, "--out", help="Directory for the report and CSV files (default incident-ID)."
    ),
    csv_rows: int = typer.Option(
        10_000, "--csv-rows", help="At most this many rows per affected-certificate CSV file."
    ),
    home: Path | None = home_option(),
) -> None:
    """The CCADB incident report, with the affected certificates as CSV files."""
    from dataclasses import replace

    from certkeeper.report import data, html, markdown
    from certkeeper.report.csvfiles import AffectedCsvWriter
    from certkeeper.wiring import build

    renderers = {
        "md": markdown.render_report,
        "html": html.render_report,
        "json": data.render_report,
    }
    if fmt not in renderers:
        raise InputError(f"--format {fmt!r}: use md, html or json")
    if csv_rows < 1:
        raise InputError(f"--csv-rows {csv_rows}: must be at least 1")
    ca = build(resolve_home(home))
    ca.incidents.get(incident_id)
    directory = out if out is not None else Path(f"incident-{incident_id}")
    if directory.exists() and not directory.is_dir():
        raise InputError(f"--out {directory}: exists and is not a directory")
    try:
        directory.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise InputError(f"--out {directory}: cannot create: {exc.strerror}") from None
    for old in [*directory.glob("affected-*.csv"), *directory.glob("precertificates-*.csv")]:
        old.unlink()  # a shorter list must not leave files of an earlier report behind
    writer = AffectedCsvWriter(directory, csv_rows)
    try:
        with progress(ca.incidents.size(incident_id), f"incident {incident_id}: report") as advance:
            report = ca.reports.build_report(
                incident_id, datetime.now(UTC), on_row=writer.add, advance=advance
            )
    except BaseException:
        for path in writer.close():
            path.unlink(missing_ok=True)  # no half-written or inconsistent list is left
        raise
    files = writer.close()
    report = replace(report, csv_files=[f.name for f in files])
    target = directory / f"incident-{incident_id}-report.{fmt}"
    target.write_text(renderers[fmt](report), encoding="utf-8")
    c = report.counts
    typer.echo(
        f"{target}: {c.affected} affected = {c.revoked} revoked + {c.expired} expired + "
        f"{c.remaining} remaining; {len(files)} CSV file(s) in {directory}"
    )


@incident_app.command("update")
@handle_errors
def update_cmd(
    incident_id: int,
    fmt: str = typer.Option("md", "--format", help="md (Markdown)."),
    out: Path | None = typer.Option(None, "--out", help="Write to this file (default stdout)."),
    home: Path | None = home_option(),
) -> None:
    """The weekly status update: reconciled ledger, weeks, undelivered notices, next steps."""
    from certkeeper.report import markdown
    from certkeeper.wiring import build

    if fmt != "md":
        raise InputError(f"--format {fmt!r}: the weekly update is written as md")
    report = build(resolve_home(home)).reports.build_report(
        incident_id, datetime.now(UTC), with_rows=False
    )
    text = markdown.render_update(report)
    if out is None:
        typer.echo(text, nl=False)
        return
    try:
        out.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise InputError(f"--out {out}: cannot write: {exc.strerror}") from None
    typer.echo(f"{out}: weekly update for incident {incident_id}")
