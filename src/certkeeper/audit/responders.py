"""Responder comparison: two OCSP responders asked about the same serials.

Run before moving OCSP traffic to new infrastructure (seed 001: a new responder
emitted times with fractional seconds that relying parties rejected): for every serial
both responders are asked, their statuses compared (good/revoked/unknown, revocation
time and reason, or the error they answered), and each side's response linted, so a
difference in what they say or in how they encode it shows up side by side.
"""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from certkeeper.audit.coverage import ChunkResult, ClientOptions, run_jobs
from certkeeper.audit.coverage_model import OcspView, Target, ocsp_view
from certkeeper.audit.ocsp_client import TransportFailure
from certkeeper.audit.ocsp_lint_cache import OcspLintCache
from certkeeper.audit.ocsp_request import RequestTemplate
from certkeeper.lint.engine import Severity

CHUNK = 5000


@dataclass(frozen=True, slots=True)
class Side:
    """One responder's answer about one serial."""

    status: str
    revoked_at: datetime | None
    reason: int | None
    this_update: datetime | None
    next_update: datetime | None
    detail: str
    lints: tuple[tuple[str, str, str], ...]  # (lint id, severity, message)

    def key(self) -> tuple[Any, ...]:
        """What two responders must agree on."""
        return (self.status, self.revoked_at, self.reason or None)

    def describe(self) -> str:
        if self.status == "revoked" and self.revoked_at is not None:
            reason = "" if not self.reason else f", reason {self.reason}"
            return f"revoked {self.revoked_at.isoformat()}{reason}"
        return self.status

    def lint_ids(self, minimum: Severity = Severity.WARNING) -> list[str]:
        return sorted({i for i, sev, _ in self.lints if Severity[sev] >= minimum})

    def has_errors(self) -> bool:
        return bool(self.lint_ids(Severity.ERROR))


@dataclass(frozen=True, slots=True)
class Comparison:
    serial: str
    issuer: str
    a: Side
    b: Side

    @property
    def agree(self) -> bool:
        return self.a.key() == self.b.key()

    @property
    def problem(self) -> bool:
        return not self.agree or self.a.has_errors() or self.b.has_errors()

    def to_dict(self) -> dict[str, Any]:
        def side(s: Side) -> dict[str, Any]:
            return {
                "status": s.status,
                "revoked_at": s.revoked_at.isoformat() if s.revoked_at else None,
                "reason": s.reason,
                "this_update": s.this_update.isoformat() if s.this_update else None,
                "next_update": s.next_update.isoformat() if s.next_update else None,
                "detail": s.detail,
                "lints": [{"lint_id": i, "severity": sev, "message": m} for i, sev, m in s.lints],
            }

        return {
            "serial": self.serial,
            "issuer": self.issuer,
            "agree": self.agree,
            "a": side(self.a),
            "b": side(self.b),
        }


@dataclass
class CompareResult(ChunkResult):
    comparisons: list[Comparison] = field(default_factory=list)

    def merge(self, other: ChunkResult) -> None:
        super().merge(other)
        if isinstance(other, CompareResult):
            self.comparisons.extend(other.comparisons)


@dataclass(frozen=True)
class CompareJob:
    url_a: str
    url_b: str
    issuers: dict[str, bytes]
    targets: list[Target]
    client: ClientOptions


_cache: OcspLintCache | None = None


def _side(answer: bytes | TransportFailure, prefix: bytes, serial: int, issuer_der: bytes) -> Side:
    global _cache
    if _cache is None:
        _cache = OcspLintCache()
    if isinstance(answer, TransportFailure):
        view, parsed = ocsp_view(None, prefix, serial, answer.reason)
        return _from_view(view, ())
    view, parsed = ocsp_view(answer, prefix, serial)
    outcome = _cache.check(answer, parsed, issuer_der)
    lints = tuple(
        (f.lint_id, f.severity.name, f.message)
        for f in outcome.findings
        if f.severity >= Severity.WARNING
    )
    return _from_view(view, lints)


def _from_view(view: OcspView, lints: tuple[tuple[str, str, str], ...]) -> Side:
    revoked = view.revoked
    return Side(
        status=view.status,
        revoked_at=revoked.time if revoked else None,
        reason=revoked.reason if revoked else None,
        this_update=view.this_update,
        next_update=view.next_update,
        detail=view.detail,
        lints=lints,
    )


def compare_chunk(job: CompareJob) -> CompareResult:
    templates = {n: RequestTemplate.for_issuer(n, d) for n, d in job.issuers.items()}
    answers: dict[str, dict[int, bytes | TransportFailure]] = {"a": {}, "b": {}}
    result = CompareResult(count=len(job.targets))
    for side, url in (("a", job.url_a), ("b", job.url_b)):
        client = job.client.client(url)
        got = answers[side]
        client.fetch_all(
            ((t.serial, templates[t.issuer].request(t.serial)) for t in job.targets),
            lambda serial, answer, got=got: got.__setitem__(serial, answer),  # type: ignore[misc]
        )
        result.attempts += client.attempts
        result.retried += client.retried
    for t in job.targets:
        prefix = templates[t.issuer].cert_id_prefix
        der = job.issuers[t.issuer]
        a = _side(answers["a"][t.serial], prefix, t.serial, der)
        b = _side(answers["b"][t.serial], prefix, t.serial, der)
        comparison = Comparison(t.hex, t.issuer, a, b)
        result.statuses["agree" if comparison.agree else "disagree"] += 1
        result.comparisons.append(comparison)
    return result


@dataclass
class CompareReport:
    url_a: str
    url_b: str
    comparisons: list[Comparison]
    seconds: float

    def summary(self) -> dict[str, Any]:
        agree = sum(1 for c in self.comparisons if c.agree)
        a_status = Counter(c.a.status for c in self.comparisons)
        b_status = Counter(c.b.status for c in self.comparisons)
        return {
            "a": self.url_a,
            "b": self.url_b,
            "serials": len(self.comparisons),
            "agree": agree,
            "disagree": len(self.comparisons) - agree,
            "a_statuses": dict(sorted(a_status.items())),
            "b_statuses": dict(sorted(b_status.items())),
            "a_lint_errors": sum(1 for c in self.comparisons if c.a.has_errors()),
            "b_lint_errors": sum(1 for c in self.comparisons if c.b.has_errors()),
            "seconds": round(self.seconds, 3),
        }

    @property
    def problems(self) -> list[Comparison]:
        return [c for c in self.comparisons if c.problem]


def compare_responders(
    url_a: str,
    url_b: str,
    targets: list[Target],
    issuers: dict[str, bytes],
    *,
    client: ClientOptions | None = None,
    workers: int = 1,
    advance: Any = None,
) -> CompareReport:
    """Ask both responders about every target; compare statuses and lint both sides."""
    client = client or ClientOptions()
    started = time.perf_counter()
    jobs = [
        CompareJob(url_a, url_b, issuers, targets[i : i + CHUNK], client)
        for i in range(0, len(targets), CHUNK)
    ]
    total = CompareResult()
    run_jobs(jobs, compare_chunk, workers, advance, total)
    comparisons = total.comparisons
    comparisons.sort(key=lambda c: (c.issuer, c.serial))
    return CompareReport(url_a, url_b, comparisons, time.perf_counter() - started)
