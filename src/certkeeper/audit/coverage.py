"""Status coverage audit: does every serial have the status it should, everywhere?

For every assigned serial (precertificates included: seed 003 was precertificates
logged to CT that the responder did not know) the live OCSP responder is asked over
HTTP and the serial is looked up in the published CRL shards; the answers are judged
by `coverage_model.classify` and every response is linted (`ocsp_lint_cache`). A
sample of never-assigned serials is probed too: none may be "good" (BR 4.9.10).

The same audit runs against another CA from a directory of its certificates or
precertificates and its issuing CA certificate (`foreign_targets`).

Work is split into chunks of serials; each chunk is fetched, parsed, linted and
classified in a worker process (`workers` > 1) or in this one, so the client uses
every core the responder leaves free.
"""

from __future__ import annotations

import multiprocessing
import os
import secrets
import time
from collections import Counter
from collections.abc import Callable, Iterable, Iterator, Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from certkeeper.audit.coverage_model import (
    CRL_NOT_LOADED,
    AuditFinding,
    CrlView,
    Expect,
    Kind,
    Revoked,
    Target,
    classify,
    ocsp_view,
)
from certkeeper.audit.ocsp_client import (
    DEFAULT_BACKOFF,
    DEFAULT_CONNECTIONS,
    DEFAULT_PIPELINE,
    DEFAULT_RETRIES,
    DEFAULT_TIMEOUT,
    OcspHttpClient,
    TransportFailure,
)
from certkeeper.audit.ocsp_lint_cache import OcspLintCache
from certkeeper.audit.ocsp_request import RequestTemplate
from certkeeper.audit.status_sources import (
    AuditInputError,
    CrlIndex,
    ForeignCertificate,
    IssuerInfo,
    issuer_info,
)
from certkeeper.lint.engine import Severity
from certkeeper.lint.tld import TldData

if TYPE_CHECKING:
    from certkeeper.store.inventory import Inventory

CHUNK = 5000


@dataclass(frozen=True)
class ClientOptions:
    """How hard to press the responder, and how patiently."""

    connections: int = DEFAULT_CONNECTIONS
    pipeline: int = DEFAULT_PIPELINE
    timeout: float = DEFAULT_TIMEOUT
    retries: int = DEFAULT_RETRIES
    backoff: float = DEFAULT_BACKOFF
    method: str = "POST"

    def client(self, url: str) -> OcspHttpClient:
        return OcspHttpClient(
            url,
            connections=self.connections,
            pipeline=self.pipeline,
            timeout=self.timeout,
            retries=self.retries,
            backoff=self.backoff,
            method=self.method,
        )


@dataclass
class ChunkResult:
    """What one chunk produced: findings and counters to add up."""

    findings: list[AuditFinding] = field(default_factory=list)
    statuses: Counter[str] = field(default_factory=Counter)
    attempts: int = 0
    retried: int = 0
    lint_full_runs: int = 0
    lint_cached: int = 0
    count: int = 0

    def merge(self, other: ChunkResult) -> None:
        self.findings.extend(other.findings)
        self.statuses.update(other.statuses)
        self.attempts += other.attempts
        self.retried += other.retried
        self.lint_full_runs += other.lint_full_runs
        self.lint_cached += other.lint_cached
        self.count += other.count


@dataclass(frozen=True)
class CoverageJob:
    """One chunk of serials for one responder URL; picklable for worker processes."""

    url: str
    issuers: dict[str, bytes]  # name -> certificate DER
    targets: list[Target]
    now: datetime
    client: ClientOptions
    lint: bool = True


_worker_lints: OcspLintCache | None = None


def _lint_cache() -> OcspLintCache:
    global _worker_lints
    if _worker_lints is None:
        _worker_lints = OcspLintCache()
    return _worker_lints


def lint_findings(
    cache: OcspLintCache, body: bytes, parsed: Any, issuer_der: bytes
) -> list[tuple[str, str]]:
    """(lint id, message) of every ERROR or worse finding on a response."""
    outcome = cache.check(body, parsed, issuer_der)
    return [(f.lint_id, f.message) for f in outcome.at_least(Severity.ERROR)]


def run_chunk(job: CoverageJob) -> ChunkResult:
    """Fetch, parse, lint and classify one chunk (in a worker process or this one)."""
    cache = _lint_cache()
    full0, cached0 = cache.full_runs, cache.cached
    templates = {name: RequestTemplate.for_issuer(name, der) for name, der in job.issuers.items()}
    result = ChunkResult(count=len(job.targets))
    client = job.client.client(job.url)

    def handle(target: Target, answer: bytes | TransportFailure) -> None:
        prefix = templates[target.issuer].cert_id_prefix
        if isinstance(answer, TransportFailure):
            detail = f"{answer.reason} (after {answer.attempts} attempt(s))"
            view, parsed = ocsp_view(None, prefix, target.serial, detail)
        else:
            view, parsed = ocsp_view(answer, prefix, target.serial)
        result.statuses[view.status] += 1
        result.findings.extend(classify(target, view, parsed, job.now))
        if not job.lint or isinstance(answer, TransportFailure):
            return
        if parsed is not None and parsed.response_status != 0:
            return  # the fixed unsigned error responses: judged by classify
        hits = lint_findings(cache, answer, parsed, job.issuers[target.issuer])
        if hits:
            text = "; ".join(f"{lint_id}: {message}" for lint_id, message in hits)
            result.findings.append(AuditFinding(Kind.ocsp_lint, target.hex, target.issuer, text))

    client.fetch_all(((t, templates[t.issuer].request(t.serial)) for t in job.targets), handle)
    result.attempts = client.attempts
    result.retried = client.retried
    result.lint_full_runs = cache.full_runs - full0
    result.lint_cached = cache.cached - cached0
    return result


def run_jobs(
    jobs: Sequence[Any],
    fn: Callable[[Any], ChunkResult],
    workers: int,
    advance: Callable[[int], None] | None = None,
    total: ChunkResult | None = None,
) -> ChunkResult:
    """Run chunk jobs in `workers` processes (1: in this process), adding the results
    into `total` (a fresh ChunkResult when None)."""
    total = ChunkResult() if total is None else total
    if workers <= 1 or len(jobs) <= 1:
        for job in jobs:
            got = fn(job)
            total.merge(got)
            if advance is not None:
                advance(got.count)
        return total
    context = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(
        max_workers=workers,
        mp_context=context,
        initializer=_same_reference_data,
        initargs=(TldData.installed_at,),
    ) as pool:
        for got in pool.map(fn, jobs):
            total.merge(got)
            if advance is not None:
                advance(got.count)
    return total


def _same_reference_data(installed: Path | None) -> None:
    """A spawned worker lints with the TLD data its parent was told of (`data update`),
    not only the packaged copy: nothing else of the parent's set-up reaches it."""
    if installed is not None:
        TldData.use_installed(installed)


def default_workers() -> int:
    return max(1, min(4, os.cpu_count() or 1))


# -- targets ---------------------------------------------------------------------------


@dataclass
class TargetSet:
    """What to audit: serials grouped by responder URL, and the issuers they need."""

    by_url: dict[str, list[Target]]
    issuers: dict[str, IssuerInfo]
    skipped_expired: int = 0

    @property
    def count(self) -> int:
        return sum(len(v) for v in self.by_url.values())


def crl_view(index: CrlIndex | None, issuer: str, url: str | None, serial: int) -> CrlView:
    return CRL_NOT_LOADED if index is None else index.lookup(issuer, url, serial)


def inventory_targets(
    rows: Iterable[Any],
    issuers_by_id: dict[int, str],
    crl_url: Callable[[str, int], str],
    index: CrlIndex | None,
) -> tuple[list[Target], int]:
    """Targets from `store.status_audit.iter_assigned` rows; expired serials skipped
    (status is provided until expiry; afterwards the responder may say anything but
    "good" with a live response, and the CRL may drop the entry after LOOKBACK)."""
    out: list[Target] = []
    skipped = 0
    for row in rows:
        if row.expired:
            skipped += 1
            continue
        issuer = issuers_by_id.get(row.issuer_id)
        if issuer is None:
            continue
        serial = int(row.serial, 16)
        signed = row.state in ("precertificate", "issued") and row.signed
        revoked = Revoked(row.revoked_at, row.reason) if row.revoked_at is not None else None
        url = crl_url(issuer, row.crl_shard)
        out.append(
            Target(
                serial=serial,
                issuer=issuer,
                expect=Expect.issued if signed else Expect.unused,
                inventory_revoked=revoked,
                crl=crl_view(index, issuer, url, serial) if signed else CRL_NOT_LOADED,
                check_crl=index is not None and signed,
            )
        )
    return out, skipped


def foreign_targets(
    certs: Sequence[ForeignCertificate],
    issuer: IssuerInfo,
    ocsp_url: str | None,
    index: CrlIndex | None,
    now: datetime,
) -> TargetSet:
    """Targets from another CA's certificates. Certificates not issued by `issuer` are
    an input error: their CertID would be wrong and every answer meaningless."""
    strangers = [c for c in certs if not c.issuer_matches]
    if strangers:
        raise AuditInputError(
            f"{strangers[0].path} (and {len(strangers) - 1} more) was not issued by {issuer.name}"
            if len(strangers) > 1
            else f"{strangers[0].path} was not issued by {issuer.name}"
        )
    by_url: dict[str, list[Target]] = {}
    skipped = 0
    for cert in certs:
        if cert.not_after < now:
            skipped += 1  # status is provided until expiry
            continue
        url = ocsp_url or (cert.ocsp_urls[0] if cert.ocsp_urls else None)
        if url is None:
            raise AuditInputError(
                f"{cert.path} names no OCSP responder (AIA); give one with --ocsp"
            )
        crl_url = cert.crl_urls[0] if cert.crl_urls else None
        check = index is not None and (crl_url is not None or issuer.name in index.full)
        by_url.setdefault(url, []).append(
            Target(
                serial=cert.serial,
                issuer=issuer.name,
                expect=Expect.foreign,
                crl=crl_view(index, issuer.name, crl_url, cert.serial),
                check_crl=check,
            )
        )
    if not by_url:
        raise AuditInputError(f"every one of the {len(certs)} certificates has expired")
    return TargetSet(by_url, {issuer.name: issuer}, skipped)


def probe_serials(count: int, octets: int, taken: Callable[[list[int]], set[int]]) -> list[int]:
    """`count` random positive serials of `octets` octets that `taken` says were never
    assigned. Shaped like real serials (same length, top bit clear, next bit set when
    there is room) so a responder cannot tell them apart by size."""
    if count <= 0:
        return []
    bits = octets * 8 - 1
    out: list[int] = []
    while len(out) < count:
        batch = [
            secrets.randbits(bits - 1) | (1 << (bits - 1)) if bits > 1 else 1
            for _ in range(count - len(out))
        ]
        used = taken(batch)
        out.extend(s for s in batch if s not in used and s > 0)
    return out[:count]


def home_targets(
    inventory: Inventory, base_url: str, index: CrlIndex | None, now: datetime, ocsp_url: str
) -> TargetSet:
    """Every assigned serial of every issuing CA in `inventory`, whose CRL shards are
    published under `base_url`."""
    from certkeeper.store.status_audit import iter_assigned
    from certkeeper.urls import crl_url

    records = [r for r in inventory.issuers() if r.role == "issuing"]
    issuers = {r.name: issuer_info(r.name, r.cert_der) for r in records}
    by_id = {r.id: r.name for r in records if r.id is not None}  # stored: always set
    targets, skipped = inventory_targets(
        iter_assigned(inventory.engine, now),
        by_id,
        lambda issuer, shard: crl_url(base_url, issuer, shard),
        index,
    )
    return TargetSet({ocsp_url: targets}, issuers, skipped)


def home_shard_urls(inventory: Inventory, base_url: str, shards: int) -> list[str]:
    """Every CRL shard URL of every issuing CA in `inventory`, as certificates name them."""
    from certkeeper.urls import crl_url

    return [
        crl_url(base_url, r.name, shard)
        for r in inventory.issuers()
        if r.role == "issuing"
        for shard in range(shards)
    ]


def home_probes(
    inventory: Inventory, issuers: Iterable[str], count: int, ocsp_url: str
) -> dict[str, list[Target]]:
    """`count` never-assigned serials per issuing CA, checked against the inventory."""
    from certkeeper.issuance.serials import serial_hex

    def taken(batch: list[int]) -> set[int]:
        states = inventory.serial_states([serial_hex(s) for s in batch])
        return {int(s, 16) for s in states}

    out: list[Target] = []
    for issuer in issuers:
        out.extend(
            Target(serial=s, issuer=issuer, expect=Expect.unassigned)
            for s in probe_serials(count, 16, taken)
        )
    return {ocsp_url: out} if out else {}


def foreign_probes(targets: TargetSet, count: int) -> dict[str, list[Target]]:
    """`count` random serials per responder of a foreign CA, shaped like its own."""
    out: dict[str, list[Target]] = {}
    for url, items in targets.by_url.items():
        known = {t.serial for t in items}
        octets = max((t.serial.bit_length() + 8) // 8 for t in items)
        issuer = items[0].issuer
        serials = probe_serials(count, octets, known.intersection)
        out[url] = [Target(serial=s, issuer=issuer, expect=Expect.unassigned) for s in serials]
    return out


# -- the audit ------------------------------------------------------------------------


@dataclass
class CoverageReport:
    audited: int
    probes: int
    skipped_expired: int
    crls_loaded: int
    crl_entries: int
    seconds: float
    result: ChunkResult

    @property
    def findings(self) -> list[AuditFinding]:
        return self.result.findings

    def by_kind(self) -> dict[str, int]:
        return dict(sorted(Counter(f.kind.value for f in self.findings).items()))

    def summary(self) -> dict[str, Any]:
        rate = (self.audited + self.probes) / self.seconds if self.seconds else 0.0
        return {
            "serials": self.audited,
            "probes": self.probes,
            "skipped_expired": self.skipped_expired,
            "crls_loaded": self.crls_loaded,
            "crl_entries": self.crl_entries,
            "seconds": round(self.seconds, 3),
            "serials_per_second": round(rate, 1),
            "ocsp_answers": dict(sorted(self.result.statuses.items())),
            "http_attempts": self.result.attempts,
            "http_retries": self.result.retried,
            "lint_full_runs": self.result.lint_full_runs,
            "lint_cached": self.result.lint_cached,
            "findings": len(self.findings),
            "findings_by_kind": self.by_kind(),
        }


def chunk_jobs(
    targets: TargetSet, now: datetime, client: ClientOptions, lint: bool, size: int = CHUNK
) -> Iterator[CoverageJob]:
    issuers = {name: info.cert_der for name, info in targets.issuers.items()}
    for url, items in targets.by_url.items():
        for start in range(0, len(items), size):
            yield CoverageJob(url, issuers, items[start : start + size], now, client, lint)


def audit_coverage(
    targets: TargetSet,
    now: datetime,
    *,
    probes: dict[str, list[Target]] | None = None,
    client: ClientOptions | None = None,
    workers: int = 1,
    lint: bool = True,
    index: CrlIndex | None = None,
    advance: Callable[[int], None] | None = None,
) -> CoverageReport:
    """Ask the responder(s) about every target and every probe; judge the answers."""
    client = client or ClientOptions()
    started = time.perf_counter()
    all_targets = TargetSet(
        {url: list(items) for url, items in targets.by_url.items()},
        targets.issuers,
        targets.skipped_expired,
    )
    probe_count = 0
    for url, items in (probes or {}).items():
        all_targets.by_url.setdefault(url, []).extend(items)
        probe_count += len(items)
    jobs = list(chunk_jobs(all_targets, now, client, lint))
    result = run_jobs(jobs, run_chunk, workers, advance)
    if index is not None:
        result.findings[:0] = index.findings  # CRLs that could not be fetched or verified
    result.findings.sort(key=lambda f: (f.kind.value, f.issuer, f.serial or ""))
    return CoverageReport(
        audited=targets.count,
        probes=probe_count,
        skipped_expired=targets.skipped_expired,
        crls_loaded=index.loaded if index is not None else 0,
        crl_entries=index.entries if index is not None else 0,
        seconds=time.perf_counter() - started,
        result=result,
    )
