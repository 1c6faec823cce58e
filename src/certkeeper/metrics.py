"""Prometheus metrics, health and readiness for every server, and a textfile export
for batch commands (node_exporter's textfile collector).

Counters and histograms are per process; servers run several worker processes, so
`certkeeper serve` points PROMETHEUS_MULTIPROC_DIR at a fresh directory before any
worker starts and `/metrics` merges every worker's values. The figures an operator
alerts on (OCSP and CRL freshness against their BR limits, shard bytes against the
budget, unpublished revocations, each open incident's time to deadline) are read from
the inventory at scrape time, so every worker answers the same: the status server's
collector (status/inventory_metrics.py) reads them and the functions here shape them.
docs/metrics.md lists every name defined here.
"""

from __future__ import annotations

import asyncio
import atexit
import functools
import json
import logging
import os
import time
from collections.abc import Callable, Iterable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol, TypeVar, cast

from prometheus_client import (
    CollectorRegistry,
    Counter,
    Histogram,
    generate_latest,
    write_to_textfile,
)
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.multiprocess import MultiProcessCollector
from prometheus_client.registry import REGISTRY, Collector
from sqlalchemy import Engine

from certkeeper import br
from certkeeper.logs import REQUEST_ID, new_request_id
from certkeeper.metrics_env import MULTIPROC_ENV, TEXTFILE_ENV

log = logging.getLogger("certkeeper.metrics")
access = logging.getLogger("certkeeper.http")

CONTENT_TYPE = b"text/plain; version=0.0.4; charset=utf-8"

HTTP_REQUESTS = Counter(
    "certkeeper_http_requests_total",
    "HTTP requests answered, by service, route and status code.",
    ["service", "route", "code"],
)
HTTP_SECONDS = Histogram(
    "certkeeper_http_request_seconds",
    "Time to answer an HTTP request, by service and route.",
    ["service", "route"],
    buckets=(0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10),
)
OCSP_LOOKUPS = Counter(
    "certkeeper_ocsp_lookups_total",
    "OCSP statuses looked up in the inventory (answer-cache misses) by result: good, "
    "revoked, unauthorized (never assigned or expired), try_later (no fresh response).",
    ["result"],
)
ISSUANCE = Counter(
    "certkeeper_issuance_total",
    "Issuance attempts by profile and result (issued, refused, failed).",
    ["profile", "result"],
)
LINT_REFUSALS = Counter(
    "certkeeper_lint_refusals_total",
    "Issuance refused by the lint gate, by lint id.",
    ["lint"],
)
VALIDATIONS = Counter(
    "certkeeper_validations_total",
    "Domain validation checks by method, outcome and perspective.",
    ["method", "outcome", "perspective"],
)
EXTERNAL_ERRORS = Counter(
    "certkeeper_external_errors_total",
    "Errors talking to DNS resolvers, CT logs and remote perspectives, by kind.",
    ["kind"],
)


F = TypeVar("F", bound=Callable[..., Any])
issuance_log = logging.getLogger("certkeeper.issuance")


def counted_issuance(method: F) -> F:
    """Count what an IssuanceService method did (certkeeper_issuance_total, and each
    blocking lint in certkeeper_lint_refusals_total) and log it as one structured line."""

    @functools.wraps(method)
    def wrapper(self: Any, what: Any, *args: Any, **kwargs: Any) -> Any:
        from certkeeper.errors import IssuanceRefused

        profile = str(getattr(what, "profile_id", None) or "resume")
        try:
            issued = method(self, what, *args, **kwargs)
        except IssuanceRefused as exc:
            lints = sorted({f.lint_id for f in getattr(exc, "findings", None) or ()})
            for lint in lints:
                LINT_REFUSALS.labels(lint).inc()
            ISSUANCE.labels(profile, "refused").inc()
            issuance_log.info(
                "issuance refused",
                extra={
                    "profile": profile,
                    "refusal": type(exc).__name__,
                    "reason": str(exc),
                    "lints": lints,
                    "serial": getattr(exc, "serial", None),
                },
            )
            raise
        except Exception as exc:
            ISSUANCE.labels(profile, "failed").inc()
            issuance_log.error(
                "issuance failed", extra={"profile": profile, "error": type(exc).__name__}
            )
            raise
        ISSUANCE.labels(profile, "issued").inc()
        issuance_log.info(
            "certificate issued",
            extra={"profile": profile, "serial": getattr(issued, "serial", None)},
        )
        return issued

    return cast(F, wrapper)


def _route(path: str, service: str) -> str:
    if service == "ocsp":
        return "ocsp"
    for prefix, route in (
        ("/ocsp", "ocsp"),
        ("/crl/", "crl"),
        ("/issuers/", "issuers"),
        ("/acme/", "acme"),
    ):
        if path.startswith(prefix):
            return route
    return "acme" if service == "acme" else "other"


# -- the inventory's gauges, from figures the status server's collector reads ----------


def database_up(up: bool) -> Metric:
    gauge = GaugeMetricFamily("certkeeper_database_up", "1 when the inventory answered.")
    gauge.add_metric([], 1 if up else 0)
    return gauge


def pool_gauges(engine: Engine) -> Iterator[Metric]:
    """Pooled connections in use, where the engine's pool counts them."""
    pool = getattr(engine.pool, "checkedout", None)
    if callable(pool):
        used = GaugeMetricFamily(
            "certkeeper_database_connections_in_use", "Pooled connections checked out."
        )
        used.add_metric([], float(pool()))
        yield used


class CeremonyFigures(Protocol):
    """When one offline root's CA CRL needs its next ceremony (status.ceremony_due)."""

    @property
    def root(self) -> str: ...
    @property
    def state(self) -> str: ...
    @property
    def next_update(self) -> datetime | None: ...
    @property
    def due(self) -> datetime | None: ...


def ceremony_gauges(
    dues: Iterable[CeremonyFigures], now: datetime, margin: timedelta
) -> Iterable[Metric]:
    """When each offline root's CA CRL needs its next ceremony (docs/key-ceremony.md)."""
    to_ceremony = GaugeMetricFamily(
        "certkeeper_ca_crl_seconds_to_ceremony",
        "Seconds until the next CA-CRL key ceremony is due: the root CRL's nextUpdate "
        "minus the margin (alert at 0).",
        labels=["root"],
    )
    to_next = GaugeMetricFamily(
        "certkeeper_ca_crl_seconds_to_next_update",
        "Seconds until the installed root CA CRL's nextUpdate.",
        labels=["root"],
    )
    warning = GaugeMetricFamily(
        "certkeeper_ca_crl_ceremony_warning",
        "1 when the CA-CRL ceremony is within the margin, overdue, or no CA CRL is installed.",
        labels=["root"],
    )
    for due in dues:
        if due.due is not None and due.next_update is not None:
            to_ceremony.add_metric([due.root], (due.due - now).total_seconds())
            to_next.add_metric([due.root], (due.next_update - now).total_seconds())
        warning.add_metric([due.root], 0 if due.state == "ok" else 1)
    margin_gauge = GaugeMetricFamily(
        "certkeeper_ca_crl_ceremony_margin_seconds",
        "How long before the root CRL's nextUpdate the ceremony is due.",
    )
    margin_gauge.add_metric([], margin.total_seconds())
    yield from (to_ceremony, to_next, warning, margin_gauge)


def status_gauges(figures: Any, now: datetime, budget: int) -> Iterable[Metric]:
    oldest = GaugeMetricFamily(
        "certkeeper_ocsp_oldest_response_age_seconds",
        "Age of the oldest OCSP response for an unexpired certificate.",
    )
    oldest.add_metric(
        [],
        0.0
        if figures.oldest_ocsp_this_update is None
        else (now - figures.oldest_ocsp_this_update).total_seconds(),
    )
    yield oldest
    limit = GaugeMetricFamily(
        "certkeeper_ocsp_response_age_limit_seconds",
        "BR 4.9.10: the longest an OCSP response may be valid.",
    )
    limit.add_metric([], br.OCSP_MAX_VALIDITY.total_seconds())
    yield limit
    stale = GaugeMetricFamily(
        "certkeeper_ocsp_stale_responses",
        "OCSP responses for unexpired certificates past their nextUpdate (alert on > 0).",
    )
    stale.add_metric([], figures.stale_ocsp)
    yield stale
    statuses = GaugeMetricFamily(
        "certkeeper_ocsp_responses", "Stored OCSP responses by status.", labels=["status"]
    )
    for status, count in sorted(figures.ocsp_by_status.items()):
        statuses.add_metric([status], count)
    yield statuses
    age = GaugeMetricFamily(
        "certkeeper_crl_age_seconds",
        "Seconds since the shard's CRL thisUpdate.",
        labels=["issuer", "shard"],
    )
    to_next = GaugeMetricFamily(
        "certkeeper_crl_seconds_to_next_update",
        "Seconds until the shard's CRL nextUpdate (alert near 0).",
        labels=["issuer", "shard"],
    )
    size = GaugeMetricFamily(
        "certkeeper_crl_bytes", "Bytes of the shard's last CRL.", labels=["issuer", "shard"]
    )
    pending = GaugeMetricFamily(
        "certkeeper_crl_unpublished_revocations",
        "Revocations recorded but on no published CRL yet (alert on > 0 for long).",
        labels=["issuer", "shard"],
    )
    for shard in figures.shards:
        labels = [shard.issuer, str(shard.shard)]
        if shard.this_update is not None:
            age.add_metric(labels, (now - shard.this_update).total_seconds())
        if shard.next_update is not None:
            to_next.add_metric(labels, (shard.next_update - now).total_seconds())
        size.add_metric(labels, shard.size_bytes)
        pending.add_metric(labels, shard.pending)
    yield from (age, to_next, size, pending)
    age_limit = GaugeMetricFamily(
        "certkeeper_crl_age_limit_seconds",
        "BR 4.9.7: the longest between two CRLs of a shard.",
    )
    age_limit.add_metric([], br.CRL_MAX_INTERVAL.total_seconds())
    yield age_limit
    budget_gauge = GaugeMetricFamily("certkeeper_crl_budget_bytes", "Byte budget of one shard.")
    budget_gauge.add_metric([], budget)
    yield budget_gauge
    deadline = GaugeMetricFamily(
        "certkeeper_incident_seconds_to_deadline",
        "Seconds to each open incident's BR 4.9.1.1 revocation deadline (negative: missed).",
        labels=["incident"],
    )
    remaining = GaugeMetricFamily(
        "certkeeper_incident_remaining_certificates",
        "Unexpired certificates of each open incident not yet revoked.",
        labels=["incident"],
    )
    for incident in figures.incidents:
        deadline.add_metric([str(incident.incident_id)], (incident.deadline - now).total_seconds())
        remaining.add_metric([str(incident.incident_id)], incident.remaining)
    yield from (deadline, remaining)


def adopt_multiprocess_mode() -> None:
    """In a server worker: keep values in PROMETHEUS_MULTIPROC_DIR even when this module
    was imported before the launcher set it (workers are forked from the launcher).
    Every metric here has labels, and a labelled child takes its storage when first
    used, so values created from now on go to the shared directory."""
    if os.environ.get(MULTIPROC_ENV):
        from prometheus_client import values

        values.ValueClass = values.get_value_class()  # type: ignore[no-untyped-call]


def process_registry() -> CollectorRegistry:
    """This process's counters, or every worker's when running multi-process."""
    if os.environ.get(MULTIPROC_ENV):
        registry = CollectorRegistry()
        MultiProcessCollector(registry)  # type: ignore[no-untyped-call]
        return registry
    return REGISTRY


def exposition(inventory: Collector | None) -> bytes:
    body = generate_latest(process_registry())
    if inventory is not None:
        registry = CollectorRegistry(auto_describe=False)
        registry.register(inventory)
        body += generate_latest(registry)
    return body


def write_textfile_at_exit() -> None:
    """For batch commands run by timers: with $CERTKEEPER_METRICS_TEXTFILE set, write
    this process's counters there when it exits (atomically, for node_exporter)."""
    path = os.environ.get(TEXTFILE_ENV)
    if not path:
        return

    def write() -> None:
        try:
            write_to_textfile(path, REGISTRY)
        except OSError as exc:
            log.warning("cannot write metrics textfile %s: %s", path, exc)

    atexit.register(write)


# -- the ASGI wrapper ------------------------------------------------------------------

Scope = dict[str, Any]
Receive = Callable[[], Any]
Send = Callable[[dict[str, Any]], Any]
ReadyCheck = Callable[[], str | None]  # None when fine, else why not ready


def status_ready_checks(engine: Engine, clock: Callable[[], datetime]) -> list[ReadyCheck]:
    """Ready only while the database answers and no live response or CRL is stale."""
    from certkeeper.store.database import UNAVAILABLE_ERRORS, ping
    from certkeeper.store.health import health_figures

    def database() -> str | None:
        try:
            ping(engine)
        except UNAVAILABLE_ERRORS as exc:
            return f"database unreachable: {type(exc).__name__}"
        return None

    def fresh() -> str | None:
        now = clock()
        try:
            figures = health_figures(engine, now)
        except UNAVAILABLE_ERRORS:
            return "database unreachable"
        problems = []
        if figures.stale_ocsp:
            problems.append(f"{figures.stale_ocsp} OCSP responses past nextUpdate")
        late = [
            f"{s.issuer}/{s.shard}"
            for s in figures.shards
            if s.next_update is not None and s.next_update < now
        ]
        if late:
            problems.append(f"CRL shards past nextUpdate: {', '.join(late[:5])}")
        return "; ".join(problems) or None

    return [database, fresh]


class OperationsApp:
    """Wraps a service's ASGI app with /metrics, /healthz and /readyz, and counts and
    times every other request."""

    def __init__(
        self,
        inner: Callable[..., Any],
        service: str,
        *,
        inventory: Collector | None = None,
        ready_checks: list[ReadyCheck] | None = None,
        ready_cache_seconds: float = 2.0,
    ) -> None:
        self.inner = inner
        self.service = service
        self.inventory = inventory
        self.ready_checks = ready_checks or []
        self.ready_cache_seconds = ready_cache_seconds
        self._ready: tuple[float, list[str]] | None = None

    def __getattr__(self, name: str) -> Any:  # the wrapped app's own attributes
        return getattr(self.inner, name)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.inner(scope, receive, send)
            return
        path = scope["path"]
        if path in ("/metrics", "/healthz", "/readyz") and scope["method"] in ("GET", "HEAD"):
            await self._operations(path, send)
            return
        route = _route(path, self.service)
        started = time.perf_counter()
        code = {"value": 500}
        offered = dict(scope.get("headers") or ()).get(b"x-request-id")
        request_id = new_request_id(offered)
        token = REQUEST_ID.set(request_id)

        async def counting_send(message: dict[str, Any]) -> None:
            if message["type"] == "http.response.start":
                code["value"] = int(message["status"])
                headers = list(message.get("headers") or ())
                headers.append((b"x-request-id", request_id.encode()))
                message = {**message, "headers": headers}
            await send(message)

        try:
            await self.inner(scope, receive, counting_send)
        finally:
            elapsed = time.perf_counter() - started
            HTTP_REQUESTS.labels(self.service, route, str(code["value"])).inc()
            HTTP_SECONDS.labels(self.service, route).observe(elapsed)
            if route == "acme":  # one line per ACME request; OCSP is counted, not logged
                access.info(
                    "acme request",
                    extra={
                        "method": scope["method"],
                        "path": path,
                        "status": code["value"],
                        "ms": round(elapsed * 1000, 1),
                        "client": (scope.get("client") or ("", 0))[0],
                    },
                )
            REQUEST_ID.reset(token)

    async def _operations(self, path: str, send: Send) -> None:
        loop = asyncio.get_running_loop()
        if path == "/healthz":
            status, body, ctype = 200, b"ok\n", b"text/plain"
        elif path == "/readyz":
            problems = await loop.run_in_executor(None, self._readiness)
            status = 503 if problems else 200
            body = json.dumps({"ready": not problems, "problems": problems}).encode() + b"\n"
            ctype = b"application/json"
        else:
            body = await loop.run_in_executor(None, exposition, self.inventory)
            status, ctype = 200, CONTENT_TYPE
        headers = [
            (b"content-type", ctype),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})

    def _readiness(self) -> list[str]:
        now = time.monotonic()
        if self._ready is not None and now - self._ready[0] < self.ready_cache_seconds:
            return self._ready[1]
        problems: list[str] = []
        for check in self.ready_checks:
            try:
                problem = check()
            except Exception as exc:  # a failing check is "not ready", never a 500
                problem = f"{getattr(check, '__name__', 'check')}: {type(exc).__name__}"
            if problem:
                problems.append(problem)
        self._ready = (now, problems)
        return problems


def utc_now() -> datetime:
    return datetime.now(UTC).replace(microsecond=0)
