"""Relint the whole inventory when the lints or their data change.

Seed 002: a certificate for a name under a TLD that never existed passed the CA's own
linter. When a lint is added or the TLD data is refreshed, every stored certificate
and precertificate is linted again, in worker processes, and the report names the
findings that are new since the previous run and the certificates they hit.
"""

from __future__ import annotations

import hashlib
import multiprocessing
from collections import Counter
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import TYPE_CHECKING, Protocol

from cryptography import x509

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.config import Config
from certkeeper.issuance.tbs import profile_expectations
from certkeeper.lint.catalogue import all_lints, run_lints
from certkeeper.lint.context import LintContext
from certkeeper.lint.document import CertificateDocument
from certkeeper.lint.engine import AUDIT, CertType
from certkeeper.store.inventory import Inventory
from certkeeper.store.lint_runs import LintRunStore, RunFinding

if TYPE_CHECKING:
    from certkeeper.ca.profile_registry import ProfileRegistry
    from certkeeper.store.stores import Stores


class WorkerCa(Protocol):
    """What a relint worker reads of the CA it builds for itself (`wiring.build`)."""

    @property
    def stores(self) -> Stores: ...

    @property
    def profiles(self) -> ProfileRegistry: ...


CHUNK = 200


@dataclass(frozen=True)
class Job:
    serial: str
    document: str  # certificate | precertificate
    der: bytes
    issuer_id: int
    profile_id: str | None
    profile_version: int | None
    crl_shard: int | None


@dataclass
class RelintReport:
    run_id: int
    previous_run_id: int | None
    documents: int = 0
    findings: list[RunFinding] = field(default_factory=list)
    new: list[RunFinding] = field(default_factory=list)

    def by_lint(self) -> list[dict[str, object]]:
        total = Counter(f.lint_id for f in self.findings)
        new = Counter(f.lint_id for f in self.new)
        linter = {f.lint_id: f.linter for f in self.findings}
        severity = {f.lint_id: f.severity for f in self.findings}
        return [
            {
                "lint_id": lint_id,
                "linter": linter[lint_id],
                "severity": severity[lint_id],
                "findings": count,
                "new": new.get(lint_id, 0),
            }
            for lint_id, count in total.most_common()
        ]

    def new_by_certificate(self) -> dict[tuple[str, str], list[str]]:
        hit: dict[tuple[str, str], list[str]] = {}
        for f in self.new:
            hit.setdefault((f.serial, f.document), []).append(f.lint_id)
        return hit


class _Worker:
    """Per-process state: the linters, issuer certificates and profile expectations,
    from the process's own CA, built once."""

    def __init__(
        self,
        build: Callable[[Config], WorkerCa],
        config: Config,
        use_pkilint: bool,
        only: frozenset[str] | None,
    ) -> None:
        self.ca = build(config)
        self.base_url = config.base_url
        self.only = only
        self.issuers = {
            rec.id: (rec.name, x509.load_der_x509_certificate(rec.cert_der))
            for rec in self.ca.stores.inventory.issuers()
        }
        self.pkilint = None
        if use_pkilint:
            from certkeeper.lint.pkilint_adapter import PkilintLinter

            self.pkilint = PkilintLinter()

    def lint(self, job: Job) -> list[RunFinding]:
        name, issuer = self.issuers[job.issuer_id]
        expectations = None
        if (
            job.profile_id is not None
            and job.profile_version is not None
            and job.crl_shard is not None
        ):
            profile = self.ca.profiles.get(job.profile_id, job.profile_version)
            expectations = profile_expectations(profile, self.base_url, name, job.crl_shard)
        ctype = CertType.PRECERTIFICATE if job.document == "precertificate" else CertType.SUBSCRIBER
        doc = CertificateDocument.from_der(job.der, ctype)
        found = run_lints(
            doc, LintContext(issuer=issuer, expectations=expectations), AUDIT, self.only
        )
        if self.pkilint is not None:
            found += [
                f
                for f in self.pkilint.lint_certificate(job.der, ctype)
                if self.only is None or f.lint_id in self.only
            ]
        return [
            RunFinding(
                job.serial,
                job.document,
                f.linter,
                f.lint_id,
                str(f.severity),
                f.location,
                f.message,
            )
            for f in found
        ]


_state: dict[str, _Worker] = {}


def _init(
    build: Callable[[Config], WorkerCa],
    config: Config,
    use_pkilint: bool,
    only: frozenset[str] | None,
) -> None:
    _state["worker"] = _Worker(build, config, use_pkilint, only)


def _lint_chunk(jobs: Sequence[Job]) -> list[RunFinding]:
    worker = _state["worker"]
    out: list[RunFinding] = []
    for job in jobs:
        out.extend(worker.lint(job))
    return out


def _jobs(inventory: Inventory, since: datetime | None) -> Iterator[Job]:
    flt = CertificateFilter(issued_after=since)
    for cert in inventory.list_certificates(flt):
        yield Job(
            cert.serial,
            "certificate",
            cert.der,
            cert.issuer_id,
            cert.profile_id,
            cert.profile_version,
            cert.crl_shard,
        )
    for pre in inventory.list_precertificates(flt):
        yield Job(pre.serial, "precertificate", pre.der, pre.issuer_id, None, None, None)


def _chunks(jobs: Iterator[Job], size: int) -> Iterator[list[Job]]:
    while chunk := list(islice(jobs, size)):
        yield chunk


def documents_to_lint(inventory: Inventory, since: datetime | None = None) -> int:
    """Certificates plus precertificates a relint with `since` visits (progress total)."""
    flt = CertificateFilter(issued_after=since)
    return inventory.count_certificates(flt) + inventory.count_precertificates(flt)


def lint_set_description(use_pkilint: bool, only: frozenset[str] | None) -> str:
    ids = sorted(only) if only else sorted(lint.id for lint in all_lints())
    digest = hashlib.sha256(",".join(ids).encode()).hexdigest()[:16]
    linters = "certkeeper+pkilint" if use_pkilint else "certkeeper"
    return f"{linters}; {len(ids)} lints ({digest})"


class Relinter:
    """Relints the inventory (certificates and precertificates, in worker processes that
    each build their own CA from `config`) and keeps each run's findings."""

    def __init__(
        self,
        stores: Stores,
        config: Config,
        clock: Callable[[], datetime],
        *,
        worker_ca: Callable[[Config], WorkerCa],
    ) -> None:
        self.stores = stores
        self.config = config
        self.clock = clock
        self.worker_ca = worker_ca

    def documents(self, since: datetime | None = None) -> int:
        """Certificates plus precertificates a relint with `since` visits."""
        return documents_to_lint(self.stores.inventory, since)

    def relint(
        self,
        *,
        since: datetime | None = None,
        only: Sequence[str] | None = None,
        use_pkilint: bool = True,
        workers: int = 2,
        advance: Callable[[int], None] | None = None,
        now: datetime | None = None,
    ) -> RelintReport:
        """Lint every stored certificate and precertificate; store and compare findings."""
        now = now or self.clock().replace(microsecond=0)
        wanted = frozenset(only) if only else None
        if wanted:
            known = {lint.id for lint in all_lints()}
            unknown = sorted(i for i in wanted if i not in known and "." not in i)
            if unknown:
                from certkeeper.errors import InputError

                raise InputError(
                    f"unknown lint id(s): {', '.join(unknown)} (see `certkeeper lint --list`)"
                )
        store = self.stores.lint_runs
        run_id = store.start(lint_set_description(use_pkilint, wanted), now)
        previous = store.previous_finished(run_id)
        report = RelintReport(run_id, previous.id if previous else None)
        context = multiprocessing.get_context("fork")
        self.stores.dispose()  # no pooled connection crosses the fork
        with ProcessPoolExecutor(
            workers,
            mp_context=context,
            initializer=_init,
            initargs=(self.worker_ca, self.config, use_pkilint, wanted),
        ) as pool:
            pending: list[tuple[int, Future[list[RunFinding]]]] = []
            for chunk in _chunks(_jobs(self.stores.inventory, since), CHUNK):
                pending.append((len(chunk), pool.submit(_lint_chunk, chunk)))
                if len(pending) >= workers * 4:
                    _drain(pending.pop(0), store, run_id, now, report, advance)
            for item in pending:
                _drain(item, store, run_id, now, report, advance)
        store.finish(run_id, report.documents, len(report.findings), now)
        before = store.keys(previous.id if previous else None)
        report.new = [f for f in report.findings if f.key not in before]
        return report


def _drain(
    item: tuple[int, Future[list[RunFinding]]],
    store: LintRunStore,
    run_id: int,
    now: datetime,
    report: RelintReport,
    advance: Callable[[int], None] | None,
) -> None:
    """Collect one chunk's findings and store them (bounded memory in flight)."""
    count, future = item
    findings = future.result()
    store.add(run_id, findings, now)
    report.findings.extend(findings)
    report.documents += count
    if advance is not None:
        advance(count)
