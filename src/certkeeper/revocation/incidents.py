"""Incidents: a deadline clock, a saved selector, a plan, its execution and a ledger.

An incident is opened under one BR 4.9.1.1 item, which fixes both the deadline (24
hours or 5 days from when the CA was made aware) and the CRLReason every revocation
carries. Its selector is a saved CertificateFilter: the affected set is re-runnable,
and it is frozen into campaign items at opening, so the ledger's total never moves.
"""

from __future__ import annotations

import getpass
import multiprocessing
import os
import time
from collections import Counter
from collections.abc import Callable, Iterator, Mapping, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from certkeeper import br
from certkeeper.auditlog.record import Home
from certkeeper.auditlog.record import record as audit
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.config import Config
from certkeeper.errors import InputError
from certkeeper.revocation import details as detailsmod
from certkeeper.revocation import ledger as ledgermod
from certkeeper.revocation import planner
from certkeeper.revocation.incident_audit import recorder
from certkeeper.revocation.reasons import CrlReason, br_item, deadline, encoded_reason
from certkeeper.revocation.verdict import Done, Verdict
from certkeeper.store.incidents import CampaignItem, IncidentRecord, IncidentStore
from certkeeper.store.ocsp_repo import OcspRecord, OcspStore
from certkeeper.x509 import crl as crlenc
from certkeeper.x509.time import truncate

if TYPE_CHECKING:
    from certkeeper.status.ocsp import OcspSigner
    from certkeeper.store.stores import Stores
    from certkeeper.x509.crl import CrlFraming

# The CRL publisher's part (status/crl.py): (issuer id, shard) -> the framing of the
# shard's next CRL, for sizing plans.
ShardFramings = Callable[[set[tuple[int, int]], datetime], Mapping[tuple[int, int], "CrlFraming"]]
# A new OCSP signer (status/ocsp.py) for "revoked" responses, linting 1 in N.
RevokedSigners = Callable[[int], "OcspSigner"]
# A worker process's signer, built from its own CA (config, lint_every): a module-level
# function, so a pool's initializer can be handed it by name.
WorkerSigner = Callable[["Config", int], "OcspSigner"]

CLOCK_SKEW = timedelta(minutes=5)  # aware-at may not be later than now by more than this


def actor() -> str:
    """Who is acting: $CERTKEEPER_ACTOR, else the login name."""
    return os.environ.get("CERTKEEPER_ACTOR") or getpass.getuser()


@dataclass
class Scope:
    incident: IncidentRecord
    certificates: list[CampaignItem]
    precertificates_only: list[CampaignItem]  # precertificates with no final certificate
    now: datetime

    def unexpired(self, at: datetime, kind: str = "certificate") -> int:
        items = self.certificates if kind == "certificate" else self.precertificates_only
        return sum(1 for i in items if i.not_after > at)

    def per_issuer_shard(self) -> list[dict[str, Any]]:
        counts = Counter((i.issuer_id, i.crl_shard) for i in self.certificates)
        return [
            {"issuer_id": iss, "shard": shard, "certificates": n}
            for (iss, shard), n in sorted(counts.items())
        ]

    def to_dict(self) -> dict[str, Any]:
        return {
            "incident": self.incident.id,
            "distinct_certificates": len(self.certificates),
            "precertificates_without_final": len(self.precertificates_only),
            "unexpired_at_aware": self.unexpired(self.incident.aware_at),
            "unexpired_now": self.unexpired(self.now),
            "per_issuer_shard": self.per_issuer_shard(),
        }


def select_affected(
    store: IncidentStore, selector: CertificateFilter, aware_at: datetime
) -> list[CampaignItem]:
    """Distinct final certificates (by SHA-256) matching the selector and valid at
    aware-at, plus precertificates with no final certificate, kept apart by kind."""
    flt = CertificateFilter(
        **{**_fields(selector), "expiring_after": _later(selector.expiring_after, aware_at)}
    )
    items: dict[str, CampaignItem] = {}
    for item in store.affected(flt):
        items.setdefault(item.sha256, item)
    return sorted(items.values(), key=lambda i: (i.kind, i.serial))


def _fields(flt: CertificateFilter) -> dict[str, Any]:
    return {name: getattr(flt, name) for name in flt.__slots__}


def _later(a: datetime | None, b: datetime) -> datetime:
    return b if a is None else max(a, b)


# -- planning ---------------------------------------------------------------------------


def _targets(
    items: Sequence[CampaignItem],
    reason: int | None,
    now: datetime,
    not_befores: Mapping[str, datetime],
) -> list[planner.Target]:
    return [
        planner.Target(
            i.serial,
            (i.issuer_id, i.crl_shard),
            i.not_after,
            crlenc.entry_size(crlenc.serial_octets(i.serial), now, reason),
            kind=i.kind,
            short_lived=_short_lived(i, not_befores),
        )
        for i in items
        if i.revoked_at is None
    ]


def _short_lived(item: CampaignItem, not_befores: Mapping[str, datetime]) -> bool:
    not_before = not_befores.get(item.serial)
    return not_before is not None and br.is_short_lived(not_before, item.not_after)


@dataclass
class PlanReport:
    plan: planner.Plan
    incident: IncidentRecord
    verdict: Verdict
    budget_overridden: bool = False  # planned under --override-budget, not [crl] budget_bytes

    def to_dict(self) -> dict[str, Any]:
        p = self.plan
        assert self.incident.id is not None
        batches = Counter(i.batch for i in p.items if i.batch >= 0)
        return {
            "incident": self.incident.id,
            "summary": self.verdict.summary(self.incident.id),
            "deadline": p.deadline.isoformat(),
            "deadline_met": self.verdict.met,
            "all_at_once": p.all_at_once,
            "verdict": self.verdict.to_dict(),
            "batches": [
                {
                    "batch": b,
                    "certificates": sum(
                        1 for i in p.items if i.batch == b and i.kind == "certificate"
                    ),
                    "precertificates": sum(
                        1 for i in p.items if i.batch == b and i.kind == "precertificate"
                    ),
                    "at": min(
                        i.planned_at for i in p.items if i.batch == b and i.planned_at
                    ).isoformat(),
                }
                for b in sorted(batches)
            ],
            "budget_bytes": self.verdict.budget_bytes,
            "budget_overridden": self.budget_overridden,
            "budget_to_meet_deadline": self.verdict.budget_to_meet_deadline,
        }


def latest_plan(store: IncidentStore, incident_id: int) -> dict[str, Any] | None:
    """The detail of the incident's latest "planned" event (None: never planned)."""
    plans = [e for e in store.events(incident_id) if e.event == "planned"]
    return plans[-1].detail if plans else None


def plan_verdict(detail: dict[str, Any] | None) -> Verdict | None:
    """The verdict recorded with a plan; None for no plan, or one recorded before
    verdicts were (its figures are not trusted: plan again)."""
    if detail is None or not isinstance(detail.get("verdict"), dict):
        return None
    try:
        return Verdict.from_dict(detail["verdict"])
    except (KeyError, TypeError, ValueError):
        return None


def verdict_sentence(incident_id: int, detail: dict[str, Any] | None) -> str:
    """The plan's verdict as every surface words it."""
    if detail is None:
        return "No revocation plan has been made."
    verdict = plan_verdict(detail)
    if verdict is None:
        return (
            "The latest plan has no recorded verdict (made by an earlier version): "
            f"run certkeeper incident plan {incident_id} again."
        )
    return verdict.summary(incident_id)


# -- execution --------------------------------------------------------------------------


@dataclass
class ExecuteReport:
    revoked: int = 0
    already_revoked: int = 0
    expired: int = 0
    batches_run: list[int] = field(default_factory=list)
    shards: set[tuple[int, int]] = field(default_factory=set)
    published: int = 0
    seconds: dict[str, float] = field(default_factory=dict)


_worker_signer: dict[str, Any] = {}


def _init_signer(make: WorkerSigner, config: Config, lint_every: int) -> None:
    """A worker process's own CA, built once (`make`, the composition root's
    `worker_revoked_signer`), and its signer."""
    _worker_signer["signer"] = make(config, lint_every)


def _sign_chunk(
    items: Sequence[tuple[str, int, datetime]], now: datetime, reason: int | None
) -> list[OcspRecord]:
    from certkeeper.x509.ocsp import Revocation

    signer = _worker_signer["signer"]
    revocation = Revocation(now, reason)
    by_issuer: dict[int, list[tuple[str, datetime]]] = {}
    for serial, issuer_id, not_after in items:
        by_issuer.setdefault(issuer_id, []).append((serial, not_after))
    records: dict[str, OcspRecord] = {}
    for issuer_id, group in by_issuer.items():
        for record in signer.sign_many(issuer_id, group, now=now, revocation=revocation):
            records[record.serial] = record
    return [records[serial] for serial, _, _ in items]


class _ChunkSigner:
    """Signs chunks' "revoked" responses in worker processes (or in this one)."""

    def __init__(
        self,
        stores: Stores,
        config: Config,
        signers: RevokedSigners,
        worker_signer: WorkerSigner,
        workers: int,
        lint_every: int,
    ) -> None:
        self.pool: ProcessPoolExecutor | None = None
        if workers > 1:
            stores.dispose()  # no pooled connection crosses the fork
            self.pool = ProcessPoolExecutor(
                workers,
                mp_context=multiprocessing.get_context("fork"),
                initializer=_init_signer,
                initargs=(worker_signer, config, lint_every),
            )
        else:
            _worker_signer["signer"] = signers(lint_every)

    def sign(
        self, chunks: Sequence[Sequence[CampaignItem]], now: datetime, reason: int | None
    ) -> Iterator[list[OcspRecord]]:
        inputs = [[(i.serial, i.issuer_id, i.not_after) for i in part] for part in chunks]
        if self.pool is None:
            for part in inputs:
                yield _sign_chunk(part, now, reason)
            return
        futures = [self.pool.submit(_sign_chunk, part, now, reason) for part in inputs]
        for future in futures:  # in order: each chunk is written as soon as it is signed
            yield future.result()

    def close(self) -> None:
        if self.pool is not None:
            self.pool.shutdown(cancel_futures=True)


# -- ledger -----------------------------------------------------------------------------


@dataclass
class Status:
    incident: IncidentRecord
    counts: ledgermod.Counts
    precertificates: ledgermod.Counts
    weeks: list[ledgermod.Week]
    planned_total: int  # certificates with a planned time
    planned_total_precertificates: int  # precertificates without final, apart
    undelivered: list[dict[str, Any]]
    plan: dict[str, Any] | None = None  # the latest plan event's detail

    @property
    def verdict(self) -> Verdict | None:
        return plan_verdict(self.plan)

    def plan_sentence(self) -> str:
        assert self.incident.id is not None
        return verdict_sentence(self.incident.id, self.plan)

    def to_dict(self) -> dict[str, Any]:
        i = self.incident
        remaining_time = i.deadline - self.counts.at
        verdict = self.verdict
        return {
            "incident": i.id,
            "title": i.title,
            "aware_at": i.aware_at.isoformat(),
            "deadline": i.deadline.isoformat(),
            "deadline_in_seconds": int(remaining_time.total_seconds()),
            "certificates": self.counts.to_dict(),
            "precertificates_without_final": self.precertificates.to_dict(),
            "reconciles": self.counts.reconciles() and self.precertificates.reconciles(),
            "planned_total": self.planned_total,
            "planned_total_precertificates": self.planned_total_precertificates,
            "plan": {
                "summary": self.plan_sentence(),
                "deadline_met": None if verdict is None else verdict.met,
                "verdict": None if verdict is None else verdict.to_dict(),
            },
            "weeks": [w.to_dict() for w in self.weeks],
            "undelivered_notifications": self.undelivered,
        }


class IncidentService:
    """Opens, scopes, plans, executes and reports incidents: the incident and revocation
    stores written together, OCSP responses signed as revoked, the audit log told."""

    def __init__(
        self,
        stores: Stores,
        config: Config,
        framings: ShardFramings,
        signers: RevokedSigners,
        audit: Home,
        clock: Callable[[], datetime],
        *,
        worker_signer: WorkerSigner,
    ) -> None:
        self.stores = stores
        self.config = config
        self.framings = framings
        self.signers = signers
        self.worker_signer = worker_signer
        self.audit = audit
        self.clock = clock

    # -- what commands read and enter ------------------------------------------------------

    def all(self) -> list[IncidentRecord]:
        return self.stores.incidents.all()

    def get(self, incident_id: int) -> IncidentRecord:
        return self.stores.incidents.get(incident_id)

    def size(self, incident_id: int) -> int:
        """Affected items (certificates and precertificates) frozen at opening."""
        return self.stores.incidents.count(incident_id)

    def latest_plan(self, incident_id: int) -> dict[str, Any] | None:
        return latest_plan(self.stores.incidents, incident_id)

    def details(self, incident_id: int) -> dict[str, Any]:
        """The report fields entered so far, validated."""
        return detailsmod.validate(self.get(incident_id).details)

    def actions(self, incident_id: int) -> list[detailsmod.ActionItem]:
        return detailsmod.actions(self.get(incident_id).details)

    def update_details(
        self,
        incident_id: int,
        *,
        who: str,
        sets: Sequence[tuple[str, Any]] = (),
        adds: Sequence[tuple[str, Any]] = (),
        unsets: Sequence[str] = (),
        document: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Report fields changed, in the incident's event log and the audit log."""
        return detailsmod.update_details(
            self.stores.incidents,
            incident_id,
            now=self.clock(),
            who=who,
            audit=recorder(self.audit, incident_id),
            sets=sets,
            adds=adds,
            unsets=unsets,
            document=document,
        )

    def add_action(
        self, incident_id: int, values: Mapping[str, Any], *, who: str
    ) -> detailsmod.ActionItem:
        return detailsmod.add_action(
            self.stores.incidents,
            incident_id,
            values,
            now=self.clock(),
            who=who,
            audit=recorder(self.audit, incident_id),
        )

    def set_action(
        self, incident_id: int, number: int, changes: Mapping[str, Any], *, who: str
    ) -> detailsmod.ActionItem:
        return detailsmod.set_action(
            self.stores.incidents,
            incident_id,
            number,
            changes,
            now=self.clock(),
            who=who,
            audit=recorder(self.audit, incident_id),
        )

    # -- the campaign ----------------------------------------------------------------------

    def open_incident(
        self,
        *,
        title: str,
        aware_at: datetime,
        br_item_number: int,
        selector: CertificateFilter,
        now: datetime,
        explanation_url: str | None = None,
        who: str | None = None,
    ) -> IncidentRecord:
        """Open an incident: validate, compute the deadline, freeze the affected set."""
        if not title.strip():
            raise InputError("an incident needs a title")
        if aware_at.tzinfo is None:
            raise InputError("--aware-at needs a time zone, e.g. 2026-11-20T09:00:00Z")
        aware_at = truncate(aware_at)
        now = truncate(now)
        if aware_at > now + CLOCK_SKEW:
            raise InputError(
                f"--aware-at {aware_at.isoformat()} is in the future (now {now.isoformat()})"
            )
        item = br_item(br_item_number)
        if selector.is_empty():
            raise InputError(
                "the selector is empty: name the affected certificates (profile, issuer, ...)"
            )
        if explanation_url is not None and not explanation_url.startswith(("https://", "http://")):
            raise InputError(f"--explanation-url {explanation_url!r} is not an http(s) URL")
        affected = select_affected(self.stores.incidents, selector, aware_at)
        if not affected:
            raise InputError(
                f"the selector matches no certificate valid at {aware_at.isoformat()}: "
                f"{selector.to_dict()}"
            )
        store = self.stores.incidents
        record = IncidentRecord(
            id=None,
            title=title.strip(),
            br_item=item.number,
            reason=int(item.reason),
            aware_at=aware_at,
            deadline=deadline(aware_at, item.number),
            selector=selector.to_dict(),
            state="open",
            explanation_url=explanation_url,
            details={},
            created_at=now,
        )
        incident_id = store.create(record, who or actor(), affected)
        audit(
            self.audit,
            "incident.opened",
            f"incident {incident_id}",
            detail={
                "title": record.title,
                "br_item": item.number,
                "deadline": record.deadline,
                "selector": record.selector,
                "affected": len(affected),
            },
            actor=who,
        )
        # ARI (RFC 9773): every affected certificate should be renewed now.
        store.set_renewal_windows(
            incident_id,
            [i.serial for i in affected],
            now - timedelta(days=1),
            now - timedelta(seconds=1),
            explanation_url,
        )
        return store.get(incident_id)

    def scope(self, incident_id: int, now: datetime) -> Scope:
        store = self.stores.incidents
        incident = store.get(incident_id)
        items = list(store.items(incident_id))
        return Scope(
            incident,
            [i for i in items if i.kind == "certificate"],
            [i for i in items if i.kind == "precertificate"],
            truncate(now),
        )

    def shard_loads(
        self, keys: set[tuple[int, int]], now: datetime, budget: int | None = None
    ) -> list[planner.ShardLoad]:
        """Each touched shard as it stands: its entries (with when they leave) and the
        framing of its next CRL, under `budget` bytes (default `[crl] budget_bytes`)."""
        framings = self.framings(keys, now)
        store = self.stores.incidents
        limit = self.config.crl_budget_bytes if budget is None else budget
        loads = []
        for key in sorted(keys):
            entries = []
            for serial, revoked_at, reason, not_after in store.shard_revocations(*key):
                leaves = not_after + self.config.crl_lookback
                if leaves > now:
                    entries.append(
                        (
                            leaves,
                            crlenc.entry_size(crlenc.serial_octets(serial), revoked_at, reason),
                        )
                    )
            framing = framings[key]
            loads.append(planner.ShardLoad(key, limit, framing.size(0), entries, framing))
        return loads

    def make_plan(
        self,
        incident_id: int,
        now: datetime,
        policy: planner.Policy = planner.Policy.soonest_expiry,
        who: str | None = None,
        budget: int | None = None,
    ) -> PlanReport:
        """Plan every unrevoked item under the shard budgets (`budget` bytes per shard
        overrides `[crl] budget_bytes`) and record the rows and the verdict together."""
        if budget is not None and budget < 1:
            raise InputError(f"--override-budget {budget}: must be a positive number of bytes")
        store = self.stores.incidents
        incident = store.get(incident_id)
        now = truncate(now)
        items = list(store.items(incident_id))
        reason = encoded_reason(CrlReason(incident.reason))
        not_befores = store.not_befores(incident_id)
        targets = _targets(items, reason, now, not_befores)
        keys = {t.shard_key for t in targets}
        result = planner.plan(
            targets,
            self.shard_loads(keys, now, budget),
            now,
            incident.deadline,
            self.config.crl_lookback,
            policy,
        )
        done = [
            Done(i.kind, i.not_after, i.revoked_at, _short_lived(i, not_befores))
            for i in items
            if i.revoked_at is not None
        ]
        verdict = result.verdict(done, budget or self.config.crl_budget_bytes)
        overridden = budget is not None and budget != self.config.crl_budget_bytes
        report = PlanReport(result, incident, verdict, overridden)
        summary = report.to_dict()
        summary["policy"] = str(policy)
        store.set_plan(
            incident_id,
            [(p.serial, p.planned_at, p.batch) for p in result.items],
            now,
            who or actor(),
            summary,
        )
        audit(self.audit, "incident.planned", f"incident {incident_id}", detail=summary, actor=who)
        return report

    def execute(
        self,
        incident_id: int,
        now: datetime,
        *,
        workers: int = 2,
        until: datetime | None = None,
        chunk: int = 5000,
        publish: Callable[[set[tuple[int, int]], datetime], int] | None = None,
        advance: Callable[[int], None] | None = None,
        who: str | None = None,
        lint_every: int = 1,
    ) -> ExecuteReport:
        """Revoke every planned batch due by `until` (default: now), chunk by chunk.

        Worker processes sign the "revoked" OCSP responses (the CPU-bound part); this
        process writes each chunk in one transaction: the revocation rows, the responses
        and the ledger marks commit together or not at all. Idempotent: certificates
        already revoked (by an earlier run or otherwise) are skipped, so a stopped run
        resumes where it stopped and a second run revokes nothing twice.

        `lint_every` > 1 lints one re-signed OCSP response in N after each response shape
        has passed in full (see OcspSigner); the default lints every one."""
        store = self.stores.incidents
        incident = store.get(incident_id)
        revocations = self.stores.revocations
        now = truncate(now)
        due_by = until or now
        reason = encoded_reason(CrlReason(incident.reason))
        evidence = f"incident {incident_id}: {incident.title}"[:500]
        report = ExecuteReport()
        who = who or actor()
        started = time.perf_counter()
        store.log(
            incident_id,
            now,
            who,
            "execution started",
            {"until": due_by.isoformat(), "workers": workers},
        )
        signer = _ChunkSigner(
            self.stores, self.config, self.signers, self.worker_signer, workers, lint_every
        )
        try:
            for batch in store.batches(incident_id):
                pending = [
                    i
                    for i in store.pending_in_batch(incident_id, batch)
                    if i.planned_at is not None and i.planned_at <= due_by
                ]
                if not pending:
                    continue
                already = set()
                for start in range(0, len(pending), 900):
                    already |= revocations.revoked_serials(
                        i.serial for i in pending[start : start + 900]
                    )
                expired = [i for i in pending if i.serial not in already and i.not_after <= now]
                todo = [i for i in pending if i.serial not in already and i.not_after > now]
                report.already_revoked += len(already)
                report.expired += len(expired)
                if already:
                    with self.stores.transaction() as conn:
                        store.mark_revoked(conn, incident_id, sorted(already), now)
                if advance is not None and (already or expired):
                    advance(len(already) + len(expired))
                chunks = [todo[i : i + chunk] for i in range(0, len(todo), chunk)]
                for part, records in zip(chunks, signer.sign(chunks, now, reason), strict=True):
                    part_serials = [i.serial for i in part]
                    with self.stores.transaction() as conn:
                        store.revoke_items(conn, incident_id, part_serials, now, reason, evidence)
                        OcspStore.replace_many_in(conn, records)
                        store.mark_revoked(conn, incident_id, part_serials, now)
                    report.revoked += len(part)
                    report.shards.update((i.issuer_id, i.crl_shard) for i in part)
                    if advance is not None:
                        advance(len(part))
                report.batches_run.append(batch)
                store.log(
                    incident_id,
                    truncate(self.clock()),
                    who,
                    "batch revoked",
                    {
                        "batch": batch,
                        "revoked": len(todo),
                        "already_revoked": len(already),
                        "expired": len(expired),
                    },
                )
        finally:
            signer.close()
        report.seconds["revoke"] = time.perf_counter() - started
        if publish is not None:
            # Also when this run revoked nothing: shards an earlier, killed run committed
            # but never published are pending, and `publish` finishes them.
            t = time.perf_counter()
            report.published = publish(report.shards, now)
            report.seconds["publish"] = time.perf_counter() - t
        store.log(
            incident_id,
            truncate(self.clock()),
            who,
            "execution finished",
            {
                "revoked": report.revoked,
                "already_revoked": report.already_revoked,
                "expired": report.expired,
                "shards_republished": report.published,
            },
        )
        audit(
            self.audit,
            "incident.executed",
            f"incident {incident_id}",
            detail={
                "batches": report.batches_run,
                "revoked": report.revoked,
                "expired": report.expired,
            },
            actor=who,
        )
        return report

    def status(self, incident_id: int, now: datetime) -> Status:
        store = self.stores.incidents
        incident = store.get(incident_id)
        now = truncate(now)
        revoked = store.revocation_times(incident_id)
        certs: list[ledgermod.Entry] = []
        pres: list[ledgermod.Entry] = []
        planned: Counter[str] = Counter()
        for item in store.items(incident_id):
            entry = ledgermod.Entry(
                item.sha256, item.not_after, revoked.get(item.serial), item.planned_at
            )
            (certs if item.kind == "certificate" else pres).append(entry)
            planned[item.kind] += item.planned_at is not None
        undelivered = [
            {
                "subscriber": n.subscriber_id,
                "address": n.address,
                "kind": n.kind,
                "state": n.state,
                "attempts": n.attempts,
                "error": n.last_error,
            }
            for n in store.notifications(incident_id, ("pending", "failed"))
        ]
        return Status(
            incident,
            ledgermod.status(certs, now),
            ledgermod.status(pres, now),
            ledgermod.weekly(certs, incident.aware_at, max(now, incident.aware_at)),
            planned["certificate"],
            planned["precertificate"],
            undelivered,
            latest_plan(store, incident_id),
        )
