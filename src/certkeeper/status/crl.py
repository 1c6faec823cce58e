"""Publishing partitioned CRLs under a byte budget, and reporting how full they are.

Seed 000: a CA could not revoke ~75M certificates on time because one CRL per issuer
would have grown past 600 MB. Here every issuing CA publishes `crl_shards` shard CRLs;
a certificate's shard is fixed at issuance (serial % shards) and named in its CRLDP, and
each shard CRL carries a critical IDP whose URI is byte-identical to that CRLDP URI.
Each shard is built from the revocations table, linted by certkeeper's CRL lints
(ERROR or FATAL: the file is not replaced), checked against the per-shard byte budget,
numbered above every earlier CRL of the shard, and written atomically. The rules are
written out in docs/crl-shards.md.

    crl = wiring.build(home).crl                      # the CrlPublisher of a home
    report = crl.publish(out_dir, now)                # every shard of every issuing CA
    rows = crl.status(now, CertificateFilter(profile_id="tls-dv-rsa"))
"""

from __future__ import annotations

import hashlib
import json
import logging
import multiprocessing
import threading
import time
from collections.abc import Callable, Iterable
from concurrent.futures import ProcessPoolExecutor, as_completed
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass, field, replace
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from certkeeper import crl_files
from certkeeper.certificate_filter import CertificateFilter
from certkeeper.errors import CertkeeperError
from certkeeper.issuer_keys import OFFLINE_KEY
from certkeeper.lint.gate import crl_blocking_findings
from certkeeper.status.lease_owner import default_owner, owner_is_dead
from certkeeper.store.crl_repo import FULL_SCOPE, CrlStore, ShardState, next_crl_number
from certkeeper.store.inventory import Inventory
from certkeeper.store.records import IssuerRecord
from certkeeper.urls import ca_crl_url, crl_url
from certkeeper.x509 import crl as crlenc
from certkeeper.x509.signer import KEY_SPECS
from certkeeper.x509.time import truncate

if TYPE_CHECKING:
    from certkeeper.issuer_keys import IssuerKeys
    from certkeeper.settings.crl import CrlSettings

log = logging.getLogger(__name__)

# nextUpdate of shard and CA CRLs and how long entries outlive their certificate are
# settings ([crl] in certkeeper.toml, see config.py for the BR 4.9.7 / RFC 5280 3.3
# reasoning behind the defaults; CrlSettings carries them here); the default lookback,
# for code without a CA home:
LOOKBACK = timedelta(days=10)
# A publisher holds a shard's lease this long past its last renewal, and renews it
# every LEASE_RENEWAL seconds while it works: a publisher that dies (kill -9, power) on
# another host frees its shards within a minute; on this host at once (lease_owner).
LEASE_DURATION = timedelta(seconds=60)
LEASE_RENEWAL = 15.0

Kind = Literal["shard", "full", "ca"]
Progress = Callable[[int], None]
Clock = Callable[[], datetime]


class CrlPublishRefused(CertkeeperError):
    """At least one CRL was not published (over budget, failed its lints, could not be
    written, or its shard holds unpublished revocations and another publisher's lease
    outlived the wait); the others were. The message names each; `report` has all."""

    exit_code = 3

    def __init__(self, message: str, report: PublishReport) -> None:
        super().__init__(message)
        self.report = report


class PublishWorkerDied(CertkeeperError):
    """A worker process of `crl publish --workers N` ended without a result (killed,
    out of memory, or it could not open the CA home)."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class CrlTask:
    """One CRL to build: a shard of an issuing CA, its full CRL, or a root's CA CRL."""

    issuer_id: int
    issuer_name: str
    kind: Kind
    shard: int  # FULL_SCOPE for "full" and "ca"


@dataclass(frozen=True, slots=True)
class CrlResult:
    issuer: str
    kind: Kind
    shard: int | None
    status: Literal["published", "refused", "skipped"]
    path: str
    url: str | None
    crl_number: int | None = None
    entries: int = 0
    size_bytes: int = 0
    budget_bytes: int | None = None
    sha256: str | None = None
    message: str = ""
    findings: tuple[str, ...] = ()
    pending: int = 0  # revocations of the shard on no published CRL after the run

    @property
    def failed(self) -> bool:
        """Refused, or skipped while its shard still holds unpublished revocations."""
        return self.status == "refused" or (self.status == "skipped" and self.pending > 0)

    def to_dict(self) -> dict[str, object]:
        return {
            "issuer": self.issuer,
            "kind": self.kind,
            "shard": self.shard,
            "status": self.status,
            "path": self.path,
            "url": self.url,
            "crl_number": self.crl_number,
            "entries": self.entries,
            "size_bytes": self.size_bytes,
            "budget_bytes": self.budget_bytes,
            "sha256": self.sha256,
            "pending": self.pending,
            "message": self.message,
        }


@dataclass(frozen=True)
class PublishReport:
    this_update: datetime
    results: tuple[CrlResult, ...]
    shard_lists: tuple[str, ...] = field(default_factory=tuple)  # CCADB JSON files written

    def with_status(self, status: str) -> list[CrlResult]:
        return [r for r in self.results if r.status == status]

    @property
    def published(self) -> list[CrlResult]:
        return self.with_status("published")

    @property
    def refused(self) -> list[CrlResult]:
        return self.with_status("refused")

    @property
    def skipped(self) -> list[CrlResult]:
        return self.with_status("skipped")

    @property
    def failed(self) -> list[CrlResult]:
        return [r for r in self.results if r.failed]


def lease_clock(now: datetime, started: float | None = None) -> Clock:
    """Lease times continue the run's `now` (a clock the caller controls) by the
    monotonic time elapsed since `started`, so a renewal or a wait moves forward
    from the run's instant rather than from the wall clock."""
    origin = time.monotonic() if started is None else started
    return lambda: now + timedelta(seconds=max(0.0, time.monotonic() - origin))


class _HeldLease:
    """Renews a shard's lease from a background thread while the shard is built,
    linted and written, so a short lease never runs out under a live publisher."""

    def __init__(self, store: CrlStore, task: CrlTask, owner: str, clock: Clock) -> None:
        self.store, self.task, self.owner, self.clock = store, task, owner, clock
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._renew, name="crl-lease", daemon=True)

    def __enter__(self) -> _HeldLease:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()

    def _renew(self) -> None:
        while not self._stop.wait(LEASE_RENEWAL):
            at = self.clock()
            try:
                held = self.store.acquire(
                    self.task.issuer_id, self.task.shard, self.owner, at + LEASE_DURATION, at
                )
            except Exception as exc:  # the database is away: recording will find out
                log.warning("lease renewal failed", extra={"error": str(exc)})
                continue
            if not held:  # taken over: recording the CRL will refuse (LeaseLost)
                log.warning("lease lost", extra={"shard": self.task.shard, "owner": self.owner})
                return


def _shard_framing(
    settings: CrlSettings,
    rec: IssuerRecord,
    issuer: crlenc.CrlIssuer,
    shard: int,
    state: ShardState | None,
    now: datetime,
) -> crlenc.CrlFraming:
    """The shard's next CRL around its entries (the longest signature of its key)."""
    spec = KEY_SPECS[rec.key_type]
    return crlenc.crl_framing(
        issuer,
        now,
        now + settings.shard_validity,
        next_crl_number(0 if state is None else state.crl_number, now),
        spec.algorithm_identifier(),
        crlenc.max_signature_size(spec),
        idp_uri=crl_url(settings.base_url, rec.name, shard),
    )


def _publishing_issuers(inventory: Inventory, now: datetime) -> list[IssuerRecord]:
    """Issuing CAs whose certificate is unexpired: active, standby and retired alike,
    because a rotated-out CA's certificates stay valid and must stay revocable."""
    return [
        rec
        for rec in inventory.issuers()
        if rec.role in ("root", "issuing") and rec.not_after > now
    ]


class ShardPublisher:
    """Builds, lints and writes CRLs one at a time; one per publication run and
    process (`CrlPublisher.shard_publisher`)."""

    def __init__(self, crl: CrlPublisher) -> None:
        self.store, self.inventory, self.issuers = crl.store, crl.inventory, crl.issuers
        self.settings = crl.settings
        self.encoder = crlenc.EntryEncoder()
        self._issuers: dict[int, IssuerRecord] = {}
        self._served_dir = crl.settings.dir.resolve()

    def _issuer(self, issuer_id: int) -> IssuerRecord:
        if issuer_id not in self._issuers:
            self._issuers[issuer_id] = self.inventory.issuer(issuer_id)
        return self._issuers[issuer_id]

    def _where(self, task: CrlTask, out_dir: Path) -> tuple[Path, str]:
        base = self.settings.base_url
        if task.kind == "shard":
            path = crl_files.shard_path(out_dir, task.issuer_name, task.shard)
            return path, crl_url(base, task.issuer_name, task.shard)
        if task.kind == "ca":
            return crl_files.ca_crl_path(out_dir, task.issuer_name), ca_crl_url(
                base, task.issuer_name
            )
        path = crl_files.full_crl_path(out_dir, task.issuer_name)
        return path, f"{base}/crl/{task.issuer_name}/{crl_files.FULL_NAME}"

    def build(self, task: CrlTask, now: datetime, number: int) -> tuple[bytes, int, str | None]:
        """(CRL DER, entry count, IDP URI) for the task at `now` with CRL number `number`."""
        rec = self._issuer(task.issuer_id)
        settings = self.settings
        rows = self.store.entries(task.issuer_id, task.shard, now, settings.lookback)
        entries = self.encoder.encode_rows(rows)
        if task.kind == "shard":
            idp: str | None = crl_url(settings.base_url, task.issuer_name, task.shard)
            scope: crlenc.IdpScope = "user"
            validity = settings.shard_validity
        elif task.kind == "ca":
            idp, scope, validity = (
                ca_crl_url(settings.base_url, rec.name),
                "ca",
                settings.ca_validity,
            )
        else:
            idp, scope, validity = None, "all", settings.shard_validity
        signer = self.issuers.signer(rec)
        tbs = crlenc.encode_tbs(
            crlenc.CrlIssuer.from_certificate(rec.cert_der),
            entries,
            now,
            now + validity,
            number,
            signer.spec.algorithm_identifier(),
            idp_uri=idp,
            scope=scope,
        )
        return crlenc.sign_crl(tbs, signer), len(entries), idp

    def publish_one(
        self,
        task: CrlTask,
        now: datetime,
        out_dir: Path,
        *,
        override_budget: bool = False,
        owner: str,
        clock: Clock | None = None,
    ) -> CrlResult:
        """Publish one CRL under its lease. `clock` gives lease times (default: `now`
        moving on with the monotonic clock); the CRL itself is dated `now`."""
        path, url = self._where(task, out_dir)
        budget = self.settings.budget_bytes if task.kind == "shard" else None
        shard = task.shard if task.kind == "shard" else None
        clock = clock or lease_clock(now)
        what = _describe(task)

        def result(status: Literal["published", "refused", "skipped"], **kw: Any) -> CrlResult:
            return CrlResult(
                task.issuer_name,
                task.kind,
                shard,
                status,
                str(path),
                url,
                budget_bytes=budget,
                **kw,
            )

        at = clock()
        if not self.store.acquire(
            task.issuer_id, task.shard, owner, at + LEASE_DURATION, at, dead=owner_is_dead
        ):
            holder = self.store.holder(task.issuer_id, task.shard, at) or "another publisher"
            return result("skipped", message=f"{what}: lease held by {holder}")
        try:
            with _HeldLease(self.store, task, owner, clock):
                return self._publish_leased(task, now, path, budget, override_budget, owner, result)
        finally:
            self.store.release(task.issuer_id, task.shard, owner)

    def _publish_leased(
        self,
        task: CrlTask,
        now: datetime,
        path: Path,
        budget: int | None,
        override_budget: bool,
        owner: str,
        result: Callable[..., CrlResult],
    ) -> CrlResult:
        what = _describe(task)
        # The revision is read before the entries: every revocation it counts is
        # committed, so it is in the entries read next.
        state = self.store.state(task.issuer_id, task.shard)
        revision = 0 if state is None else state.revision
        number = next_crl_number(0 if state is None else state.crl_number, now)
        der, count, _ = self.build(task, now, number)

        def refused(message: str, **kw: Any) -> CrlResult:
            return result(
                "refused",
                crl_number=number,
                entries=count,
                size_bytes=len(der),
                message=f"{what}: {message}",
                **kw,
            )

        blocking = crl_blocking_findings(der, self._issuer(task.issuer_id).cert_der)
        if blocking:
            return refused(
                f"{len(blocking)} lint finding(s) at ERROR or above; "
                f"first: {blocking[0].lint_id}: {blocking[0].message}",
                findings=tuple(f"{f.lint_id}: {f.message}" for f in blocking),
            )
        if budget is not None and len(der) > budget and not override_budget:
            return refused(
                f"{len(der):,} bytes ({count:,} entries) is over the budget "
                f"of {budget:,} bytes (crl.budget_bytes); not published, use "
                "--override-budget to publish anyway",
            )
        digest = hashlib.sha256(der).hexdigest()
        # The number is recorded before the file is replaced, so a crash in between
        # skips a number rather than ever reusing it.
        self.store.record_published(
            task.issuer_id,
            task.shard,
            owner,
            number,
            now,
            now
            + (self.settings.ca_validity if task.kind == "ca" else self.settings.shard_validity),
            count,
            len(der),
            digest,
            now,
        )
        try:
            crl_files.write_atomic(path, der)
        except OSError as exc:
            left = "; its revocations stay pending" if task.kind == "shard" else ""
            return refused(f"cannot write {path}: {exc.strerror or exc}{left}")
        if task.kind == "shard" and path.parent.parent.resolve() == self._served_dir:
            # Only a file in the directory `serve` serves ([crl] dir) publishes the
            # revocations; a copy written with --out elsewhere leaves them pending.
            self.store.mark_published(task.issuer_id, task.shard, owner, revision)
        over = budget is not None and len(der) > budget
        return result(
            "published",
            crl_number=number,
            entries=count,
            size_bytes=len(der),
            sha256=digest,
            message="over budget, published with --override-budget" if over else "",
        )


def _describe(task: CrlTask) -> str:
    if task.kind == "shard":
        return f"issuer {task.issuer_name} shard {task.shard}"
    if task.kind == "ca":
        return f"CA CRL of root {task.issuer_name}"
    return f"full CRL of issuer {task.issuer_name}"


# -- worker processes ----------------------------------------------------------------

_WORKER: ShardPublisher | None = None


def _init_worker(make: Callable[[Path], ShardPublisher], home_dir: str) -> None:
    """Each worker builds its own CA from the home once (`make`, the composition root's
    `worker_crl_publisher`): no engine or key crosses a process boundary."""
    global _WORKER
    _WORKER = make(Path(home_dir))


def _run_in_worker(
    task: CrlTask, now: datetime, out_dir: str, override_budget: bool, started: float
) -> CrlResult:
    assert _WORKER is not None, "worker process not initialised"
    # The worker's own identity, so a worker killed alone is seen to be dead.
    return _WORKER.publish_one(
        task,
        now,
        Path(out_dir),
        override_budget=override_budget,
        owner=default_owner(),
        clock=lease_clock(now, started),
    )


def failure_message(failed: Iterable[CrlResult]) -> str:
    """One line naming every CRL that a run left unpublished, and why."""
    parts = []
    for r in failed:
        if r.status == "skipped":
            parts.append(f"{r.message}; {r.pending} revocation(s) still on no CRL")
        else:
            parts.append(r.message)
    return f"{len(parts)} CRL(s) not published: " + "; ".join(parts)


# -- status ----------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class ShardStatus:
    """How full one shard is now, and would be if the selection were revoked now.

    `bytes` is the size of the CRL a publication at `now` would produce, computed from
    the exact entry encodings; only an ECDSA signature may come out a few octets shorter
    than the maximum counted here."""

    issuer: str
    shard: int
    entries: int
    bytes: int
    budget_bytes: int
    used_pct: float
    projected_entries: int
    projected_bytes: int
    projected_pct: float
    crl_number: int | None  # last published
    published_at: datetime | None
    published_bytes: int | None
    pending: int = 0  # revocations recorded but on no published CRL yet

    @property
    def over_budget(self) -> bool:
        return self.projected_bytes > self.budget_bytes

    def to_dict(self) -> dict[str, object]:
        return {
            "issuer": self.issuer,
            "shard": self.shard,
            "entries": self.entries,
            "bytes": self.bytes,
            "budget_bytes": self.budget_bytes,
            "used_pct": round(self.used_pct, 2),
            "projected_entries": self.projected_entries,
            "projected_bytes": self.projected_bytes,
            "projected_pct": round(self.projected_pct, 2),
            "over_budget": self.over_budget,
            "crl_number": self.crl_number,
            "published_at": self.published_at.isoformat() if self.published_at else None,
            "published_bytes": self.published_bytes,
            "pending": self.pending,
        }


# -- the service -----------------------------------------------------------------------


class CrlPublisher:
    """Publishes the CRLs of a CA and reports how full their shards are: the CRL
    store, the inventory's issuers, their keys and the `[crl]` settings, nothing more.

    Built by `certkeeper.wiring`; a run over several processes has each worker build
    its own from the home (`settings.home`) with `worker_publisher`, a module-level
    function a spawned process is handed by name."""

    def __init__(
        self,
        store: CrlStore,
        inventory: Inventory,
        issuers: IssuerKeys,
        settings: CrlSettings,
        *,
        worker_publisher: Callable[[Path], ShardPublisher],
    ) -> None:
        self.store = store
        self.inventory = inventory
        self.issuers = issuers
        self.settings = settings
        self.worker_publisher = worker_publisher

    def shard_publisher(self) -> ShardPublisher:
        """A publisher for one run in this process (it caches issuers and encodings)."""
        return ShardPublisher(self)

    def plan(self, now: datetime, *, full: bool = False) -> list[CrlTask]:
        """Every CRL a publication run produces, shards first."""
        tasks: list[CrlTask] = []
        roots: list[CrlTask] = []
        for rec in _publishing_issuers(self.inventory, now):
            assert rec.id is not None
            if rec.role == "root":
                if rec.key_ref != OFFLINE_KEY:  # an offline root's CRL comes from its ceremony
                    roots.append(CrlTask(rec.id, rec.name, "ca", FULL_SCOPE))
                continue
            tasks.extend(CrlTask(rec.id, rec.name, "shard", s) for s in range(self.settings.shards))
            if full:
                tasks.append(CrlTask(rec.id, rec.name, "full", FULL_SCOPE))
        return tasks + roots

    def shard_framings(
        self, keys: Iterable[tuple[int, int]], now: datetime
    ) -> dict[tuple[int, int], crlenc.CrlFraming]:
        """(issuer id, shard) -> the framing its next CRL will have, for sizing plans."""
        states = {(s.issuer_id, s.shard): s for s in self.store.states()}
        out = {}
        for issuer_id, shard in keys:
            rec = self.inventory.issuer(issuer_id)
            issuer = crlenc.CrlIssuer.from_certificate(rec.cert_der)
            state = states.get((issuer_id, shard))
            out[(issuer_id, shard)] = _shard_framing(
                self.settings, rec, issuer, shard, state, truncate(now)
            )
        return out

    def _run(
        self,
        tasks: list[CrlTask],
        now: datetime,
        out_dir: Path,
        override_budget: bool,
        owner: str,
        workers: int,
        progress: Progress | None,
        started: float,
    ) -> list[CrlResult]:
        if workers <= 1 or len(tasks) <= 1:
            publisher = self.shard_publisher()
            clock = lease_clock(now, started)
            results = []
            for task in tasks:
                results.append(
                    publisher.publish_one(
                        task,
                        now,
                        out_dir,
                        override_budget=override_budget,
                        owner=owner,
                        clock=clock,
                    )
                )
                if progress is not None:
                    progress(1)
            return results
        # Spawned workers open the home themselves: no engine or key crosses a fork.
        ctx = multiprocessing.get_context("spawn")
        by_task: dict[CrlTask, CrlResult] = {}
        try:
            with ProcessPoolExecutor(
                max_workers=workers,
                mp_context=ctx,
                initializer=_init_worker,
                initargs=(self.worker_publisher, str(self.settings.home)),
            ) as pool:
                futures = {
                    pool.submit(_run_in_worker, t, now, str(out_dir), override_budget, started): t
                    for t in tasks
                }
                for future in as_completed(futures):
                    by_task[futures[future]] = future.result()
                    if progress is not None:
                        progress(1)
        except BrokenProcessPool:
            raise PublishWorkerDied(
                f"a CRL publishing worker process died ({len(by_task)} of {len(tasks)} CRLs "
                "done); shards with revocations stay pending and the dead worker's leases are "
                "reclaimed: run the publication again"
            ) from None
        return [by_task[t] for t in tasks]

    def _finish_pending(
        self,
        tasks: list[CrlTask],
        results: list[CrlResult],
        now: datetime,
        out_dir: Path,
        override_budget: bool,
        owner: str,
        started: float,
    ) -> list[CrlResult]:
        """Retry the shards that were skipped (leased elsewhere) while they hold
        unpublished revocations, until their lease is free or has had time to expire
        (a dead holder's lease lasts at most LEASE_DURATION past its last renewal); then
        note every shard's pending count on its result."""
        store = self.store
        clock = lease_clock(now, started)
        deadline = time.monotonic() + LEASE_DURATION.total_seconds() + LEASE_RENEWAL
        out = list(results)
        publisher: ShardPublisher | None = None
        while True:
            pending = store.pending_shards()
            waiting = [
                i
                for i, (task, res) in enumerate(zip(tasks, out, strict=True))
                if res.status == "skipped"
                and task.kind == "shard"
                and (task.issuer_id, task.shard) in pending
            ]
            if not waiting or time.monotonic() >= deadline:
                break
            time.sleep(0.5)
            publisher = publisher or self.shard_publisher()
            for i in waiting:
                out[i] = publisher.publish_one(
                    tasks[i],
                    now,
                    out_dir,
                    override_budget=override_budget,
                    owner=owner,
                    clock=clock,
                )
        pending = store.pending_shards()
        return [
            replace(res, pending=pending.get((task.issuer_id, task.shard), 0))
            if task.kind == "shard"
            else res
            for task, res in zip(tasks, out, strict=True)
        ]

    def publish_tasks(
        self,
        tasks: list[CrlTask],
        now: datetime,
        out_dir: Path,
        *,
        override_budget: bool = False,
        owner: str | None = None,
        workers: int = 1,
        progress: Progress | None = None,
    ) -> list[CrlResult]:
        """Publish `tasks` (over `workers` processes), then finish the skipped shards that
        hold unpublished revocations; each shard result carries its pending count."""
        owner = owner or default_owner()
        started = time.monotonic()
        results = self._run(tasks, now, out_dir, override_budget, owner, workers, progress, started)
        return self._finish_pending(tasks, results, now, out_dir, override_budget, owner, started)

    def pending_tasks(self, now: datetime, keys: Iterable[tuple[int, int]] = ()) -> list[CrlTask]:
        """Shard tasks for `keys` (issuer id, shard) and for every shard of a publishing
        CA that holds revocations on no published CRL, whoever recorded them: what a
        publisher that runs after a revocation must publish, including what a dead run
        left. (An expired CA publishes no more CRLs, as in `plan`.)"""
        publishing = {rec.id for rec in _publishing_issuers(self.inventory, now)}
        pending = self.store.pending_shards()
        wanted = set(keys) | {key for key in pending if key[0] in publishing}
        names = {rec.id: rec.name for rec in self.inventory.issuers()}
        return [CrlTask(i, names[i], "shard", s) for i, s in sorted(wanted)]

    def publish_shards(
        self, keys: set[tuple[int, int]], now: datetime, out_dir: Path, override_budget: bool
    ) -> list[CrlResult]:
        """What a revocation publishes: the shards named by (issuer id, shard) and every
        pending shard, each under its lease, into `out_dir`."""
        return self.publish_tasks(
            self.pending_tasks(now, keys), now, out_dir, override_budget=override_budget
        )

    def write_shard_lists(self, out_dir: Path, issuers: Iterable[IssuerRecord]) -> list[Path]:
        """The CCADB "JSON Array of Partitioned CRLs" per issuing CA: a JSON array of every
        shard URL, which together make up the full CRL of the CA."""
        written = []
        for rec in issuers:
            urls = [
                crl_url(self.settings.base_url, rec.name, s) for s in range(self.settings.shards)
            ]
            path = crl_files.shard_list_path(out_dir, rec.name)
            crl_files.write_atomic(path, (json.dumps(urls, indent=2) + "\n").encode())
            written.append(path)
        return written

    def publish(
        self,
        out_dir: Path,
        now: datetime,
        *,
        override_budget: bool = False,
        full: bool = False,
        owner: str | None = None,
        workers: int = 1,
        progress: Progress | None = None,
    ) -> PublishReport:
        """Publish every shard of every issuing CA (empty shards too), the roots' CA CRLs,
        and the CCADB shard lists; with `full`, also each issuing CA's full CRL.

        A shard whose lease another publisher holds is skipped; if it holds revocations on
        no published CRL, it is retried until the lease frees or expires, and still
        skipped then, it is a failure. If any CRL is refused (over budget without
        `override_budget`, a lint ERROR, a file that cannot be written), the others are
        still published and CrlPublishRefused is raised at the end."""
        now = truncate(now)
        tasks = self.plan(now, full=full)
        results = self.publish_tasks(
            tasks,
            now,
            out_dir,
            override_budget=override_budget,
            owner=owner,
            workers=workers,
            progress=progress,
        )
        issuing = [r for r in _publishing_issuers(self.inventory, now) if r.role == "issuing"]
        problems = []
        try:
            lists = [str(p) for p in self.write_shard_lists(out_dir, issuing)]
        except OSError as exc:
            lists = []
            name = exc.filename or out_dir
            problems.append(f"cannot write the CCADB shard list {name}: {exc.strerror or exc}")
        report = PublishReport(now, tuple(results), tuple(lists))
        if report.failed:
            problems.insert(0, failure_message(report.failed))
        if problems:
            raise CrlPublishRefused("; ".join(problems), report)
        return report

    def status(
        self,
        now: datetime,
        selection: CertificateFilter | None = None,
        *,
        projected_reason: int | None = crlenc.SUPERSEDED,
    ) -> list[ShardStatus]:
        """Per issuing CA and shard: entries and bytes now, and with every unexpired,
        unrevoked certificate matched by `selection` revoked now (with `projected_reason`;
        superseded is what BR 7.2.2 prescribes for compliance revocations)."""
        now = truncate(now)
        store = self.store
        settings = self.settings
        budget = settings.budget_bytes
        encoder = crlenc.EntryEncoder()
        projected = store.unrevoked_matching(selection, now) if selection is not None else {}
        states = {(s.issuer_id, s.shard): s for s in store.states()}
        out: list[ShardStatus] = []
        for rec in _publishing_issuers(self.inventory, now):
            if rec.role != "issuing":
                continue
            assert rec.id is not None
            issuer = crlenc.CrlIssuer.from_certificate(rec.cert_der)
            for shard in range(settings.shards):
                rows = store.entries(rec.id, shard, now, settings.lookback)
                length = sum(len(e) for e in encoder.encode_rows(rows))
                extra = projected.get((rec.id, shard), [])
                extra_length = sum(
                    crlenc.entry_size(crlenc.serial_octets(s), now, projected_reason) for s in extra
                )
                state = states.get((rec.id, shard))
                framing = _shard_framing(settings, rec, issuer, shard, state, now)
                now_bytes, proj_bytes = (framing.size(n) for n in (length, length + extra_length))
                published = state is not None and state.this_update is not None
                out.append(
                    ShardStatus(
                        issuer=rec.name,
                        shard=shard,
                        entries=len(rows),
                        bytes=now_bytes,
                        budget_bytes=budget,
                        used_pct=100.0 * now_bytes / budget,
                        projected_entries=len(rows) + len(extra),
                        projected_bytes=proj_bytes,
                        projected_pct=100.0 * proj_bytes / budget,
                        crl_number=state.crl_number if published and state else None,
                        published_at=state.this_update if state else None,
                        published_bytes=state.size_bytes if published and state else None,
                        pending=state.pending if state else 0,
                    )
                )
        return out
