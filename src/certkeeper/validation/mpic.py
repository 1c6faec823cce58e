"""The primary's side of Multi-Perspective Issuance Corroboration (BR 3.2.2.9).

Every configured remote perspective is asked at once, over HTTPS with mutual TLS (TLS 1.3
only, the perspective's certificate checked against the private mTLS CA, ours presented
to it). Each answer, or its absence, becomes a `PerspectiveResult`; the quorum module
decides. A perspective that times out, refuses us, or answers something we cannot read
is a non-corroboration: the quorum table exists precisely to tolerate a few of those.
"""

from __future__ import annotations

import http.client
import json
import logging
import select
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from dataclasses import replace
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from certkeeper.errors import ConfigError
from certkeeper.metrics import EXTERNAL_ERRORS, VALIDATIONS
from certkeeper.settings.validation import PerspectiveConfig, ValidationSettings
from certkeeper.validation.model import (
    CaaResult,
    ChallengeAttempt,
    CheckResult,
    Corroboration,
    PerspectiveResult,
)
from certkeeper.validation.quorum import decide, policy_at
from certkeeper.validation.remote_requests import CaaQuery

log = logging.getLogger(__name__)

MAX_ANSWER_BYTES = 64 * 1024
MAX_IDLE_PER_PERSPECTIVE = 64
# A judge reads one perspective's answer: (corroborates, detail, its own problem type).
Judge = Callable[[dict[str, Any]], tuple[bool, str, str | None]]
CONCURRENT_CORROBORATIONS = 64
CORROBORATED, DISAGREED, UNREACHABLE = "corroborated", "disagreed", "unreachable"
USER_AGENT = "certkeeper-mpic/1"


def utc_now() -> datetime:
    return datetime.now(UTC)


def client_context(settings: ValidationSettings) -> ssl.SSLContext:
    """TLS 1.3 only, our client certificate, perspectives verified by the mTLS CA alone."""
    paths = {
        "mpic_client_cert": settings.mpic_client_cert,
        "mpic_client_key": settings.mpic_client_key,
        "mpic_ca_file": settings.mpic_ca_file,
    }
    for key, path in paths.items():
        if path is None:
            raise ConfigError(f"[validation] {key} is not set (remote perspectives need mTLS)")
        if not path.is_file():
            raise ConfigError(f"[validation] {key}: {path} does not exist")
    assert settings.mpic_client_cert and settings.mpic_client_key and settings.mpic_ca_file
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    context.minimum_version = ssl.TLSVersion.TLSv1_3
    context.verify_mode = ssl.CERT_REQUIRED
    context.check_hostname = True
    try:
        # Only the private CA: a publicly-trusted certificate must not pass for a perspective.
        context.load_verify_locations(cafile=str(settings.mpic_ca_file))
        context.load_cert_chain(str(settings.mpic_client_cert), str(settings.mpic_client_key))
    except (ssl.SSLError, OSError) as exc:
        raise ConfigError(f"[validation] cannot load the mTLS material: {exc}") from None
    return context


class RemotePerspectives:
    """Calls every configured remote perspective concurrently and applies the quorum."""

    def __init__(
        self, settings: ValidationSettings, *, clock: Callable[[], datetime] = utc_now
    ) -> None:
        self.settings = settings
        self.clock = clock
        self._context = client_context(settings) if settings.perspectives else None
        self._pool: ThreadPoolExecutor | None = None
        self._lock = threading.Lock()
        # per perspective URL: (connection, when it was returned), most recent last
        self._idle: dict[str, list[tuple[http.client.HTTPSConnection, float]]] = {}

    @property
    def configured(self) -> int:
        return len(self.settings.perspectives)

    def corroborate_challenge(self, attempt: ChallengeAttempt) -> Corroboration:
        """A perspective corroborates when its own check of the challenge succeeded."""

        def judge(result: dict[str, Any]) -> tuple[bool, str, str | None]:
            check = CheckResult.from_json(result)
            return check.ok, check.detail, check.problem_type

        subject = f"{attempt.challenge_type} {attempt.identifier}"
        return self._corroborate("/v1/challenge", attempt.to_json(), judge, subject)

    def corroborate_caa(
        self,
        fqdn: str,
        *,
        wildcard: bool,
        account_uri: str,
        method: str,
        expected_allowed: bool = True,
    ) -> Corroboration:
        """A perspective corroborates when it reaches the primary's CAA decision.

        The primary only asks after its own lookup allowed issuance, hence the default;
        a perspective whose lookup failed has no decision and never corroborates."""
        query = CaaQuery(
            fqdn=fqdn,
            wildcard=wildcard,
            account_uri=account_uri,
            method=method,
            caa_identities=self.settings.caa_identities,
        )

        def judge(result: dict[str, Any]) -> tuple[bool, str, str | None]:
            caa = CaaResult.from_json(result)
            if caa.problem_type == "dns":
                return False, caa.detail, "dns"
            return caa.allowed == expected_allowed, caa.detail, caa.problem_type

        return self._corroborate("/v1/caa", query.to_json(), judge, f"CAA {fqdn}")

    def health(self) -> list[PerspectiveResult]:
        """Ask each perspective for /v1/health (operators: `certkeeper mpic check`)."""
        if not self.settings.perspectives:
            return []
        return self._ask_all("GET", "/v1/health", None, lambda _r: (True, "healthy", None))

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        for conn, _ in idle:
            conn.close()

    def _corroborate(
        self, path: str, body: dict[str, Any], judge: Judge, subject: str
    ) -> Corroboration:
        if not self.settings.perspectives:
            if not self.settings.mpic_required:
                return Corroboration(
                    results=(), required=0, passed=True, detail="MPIC not required (development)"
                )
            policy = policy_at(self.clock().date())
            return Corroboration(
                results=(),
                required=policy.minimum_remote,
                passed=False,
                detail="no remote perspectives are configured and [validation] mpic_required "
                "is true: BR 3.2.2.9 needs at least "
                f"{policy.minimum_remote} remote perspectives",
            )
        results = tuple(self._ask_all("POST", path, body, judge))
        for r in results:
            VALIDATIONS.labels(path.rsplit("/", 1)[-1], r.outcome, r.perspective).inc()
            if r.outcome == UNREACHABLE:
                EXTERNAL_ERRORS.labels("perspective").inc()
            log.info(
                "perspective outcome",
                extra={
                    "subject": subject,
                    "perspective": r.perspective,
                    "region": r.region,
                    "outcome": r.outcome,
                    "problem_type": r.problem_type,
                    "detail": r.detail,
                    "seconds": r.seconds,
                },
            )
        decision = decide(self.clock().date(), [(r.region, r.ok) for r in results])
        detail = decision.detail
        if not decision.passed:
            failures = [f"{r.perspective} ({r.region}): {r.detail}" for r in results if not r.ok]
            if failures:
                detail = f"{detail}: {'; '.join(failures)}"
        return Corroboration(
            results=results,
            required=decision.required,
            passed=decision.passed,
            detail=detail,
        )

    def _ask_all(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        judge: Judge,
    ) -> list[PerspectiveResult]:
        """One thread per perspective; whatever is not back by the deadline failed."""
        timeout = self.settings.mpic_timeout_seconds
        payload = None if body is None else json.dumps(body).encode()
        pool = self._executor()
        started = time.monotonic()
        futures: list[Future[PerspectiveResult]] = [
            pool.submit(self._ask_one, p, method, path, payload, judge, timeout)
            for p in self.settings.perspectives
        ]
        wait_futures(futures, timeout=timeout + 0.5)
        results = []
        for perspective, future in zip(self.settings.perspectives, futures, strict=True):
            if future.done():
                results.append(future.result())
            else:
                future.cancel()
                results.append(
                    PerspectiveResult(
                        perspective=perspective.name,
                        region=perspective.region,
                        ok=False,
                        detail=f"no answer within {timeout:g}s",
                        seconds=round(time.monotonic() - started, 3),
                        outcome=UNREACHABLE,
                    )
                )
        return results

    def _executor(self) -> ThreadPoolExecutor:
        with self._lock:
            if self._pool is None:
                # The deadline runs from submission, so a call must never queue behind
                # others: room for many validations at once (an ACME server validates in
                # parallel, CAA for every name of an order) and for calls left behind by a
                # timeout. Threads are only started when needed.
                self._pool = ThreadPoolExecutor(
                    max_workers=CONCURRENT_CORROBORATIONS * len(self.settings.perspectives),
                    thread_name_prefix="mpic",
                )
            return self._pool

    def _ask_one(
        self,
        perspective: PerspectiveConfig,
        method: str,
        path: str,
        payload: bytes | None,
        judge: Judge,
        timeout: float,
    ) -> PerspectiveResult:
        started = time.monotonic()

        def result(ok: bool, detail: str, problem: str | None = None) -> PerspectiveResult:
            """A usable answer: it corroborates or, having checked, it disagrees."""
            return PerspectiveResult(
                perspective=perspective.name,
                region=perspective.region,
                ok=ok,
                detail=detail[:500],
                seconds=round(time.monotonic() - started, 3),
                outcome=CORROBORATED if ok else DISAGREED,
                problem_type=None if ok else problem,
            )

        def unreachable(detail: str) -> PerspectiveResult:
            return replace(result(False, detail), outcome=UNREACHABLE)

        try:
            status, answer = self._exchange(perspective, method, path, payload, timeout)
        except ssl.SSLCertVerificationError as exc:
            return unreachable(f"TLS failure: certificate verify failed: {exc.verify_message}")
        except ssl.SSLError as exc:
            return unreachable(f"TLS failure: {exc.reason or exc}")
        except (OSError, http.client.HTTPException) as exc:
            return unreachable(f"unreachable: {type(exc).__name__}: {exc}")
        if status != 200:
            detail = answer.get("detail") if isinstance(answer, dict) else None
            return unreachable(f"HTTP {status}: {detail or 'no problem document'}")
        if not isinstance(answer, dict):
            return unreachable("the answer is not a JSON object")
        # A perspective must be the one configured at this URL: two entries pointing at
        # one service would otherwise count one network location twice.
        if answer.get("perspective") != perspective.name or answer.get("region") != (
            perspective.region
        ):
            return unreachable(
                f"answered as {answer.get('perspective')!r} in {answer.get('region')!r}, "
                f"configured as {perspective.name!r} in {perspective.region!r}",
            )
        if method == "GET":
            return result(*judge(answer))
        inner = answer.get("result")
        if not isinstance(inner, dict):
            return unreachable("the answer has no result object")
        try:
            ok, detail, problem = judge(inner)
        except (KeyError, TypeError, ValueError) as exc:
            return unreachable(f"the result cannot be read: {exc}")
        return result(ok, detail, problem)

    def _exchange(
        self,
        perspective: PerspectiveConfig,
        method: str,
        path: str,
        payload: bytes | None,
        timeout: float,
    ) -> tuple[int, Any]:
        """One request, on a kept-alive connection when a live one is pooled.

        A perspective closes idle connections (its keep-alive timeout), restarts, or a
        middlebox forgets the flow. Pooled connections are dropped once idle longer than
        `mpic_pool_idle_seconds` and checked for a pending close before use; if a reused
        one still fails (other than by timeout), every pooled connection to that
        perspective is dropped (they share its fate) and the request is sent once more on a
        fresh connection. Only the TLS session is reused, never an answer."""
        conn, reused = self._checkout(perspective, timeout)
        while True:
            try:
                status, answer, keep = self._send(conn, method, path, payload)
            except TimeoutError:
                conn.close()
                raise
            except (OSError, http.client.HTTPException) as exc:
                conn.close()
                if not reused:
                    raise
                log.info(
                    "stale perspective connection",
                    extra={"perspective": perspective.name, "error": f"{type(exc).__name__}"},
                )
                self._drop_idle(perspective)
                conn, reused = self._fresh(perspective, timeout), False
                continue
            if keep:
                self._checkin(perspective, conn)
            else:
                conn.close()
            return status, answer

    def _checkout(
        self, perspective: PerspectiveConfig, timeout: float
    ) -> tuple[http.client.HTTPSConnection, bool]:
        """The most recently used live pooled connection, else a fresh one."""
        limit = self.settings.mpic_pool_idle_seconds
        stale: list[http.client.HTTPSConnection] = []
        found: http.client.HTTPSConnection | None = None
        now = time.monotonic()
        with self._lock:
            idle = self._idle.get(perspective.url, [])
            while idle:
                conn, since = idle.pop()
                if now - since <= limit and _still_open(conn):
                    found = conn
                    break
                stale.append(conn)
            if found is None:
                stale.extend(conn for conn, _ in idle)  # older than the first stale one
                idle.clear()
        for conn in stale:
            conn.close()
        if found is not None:
            found.timeout = timeout
            if found.sock is not None:
                found.sock.settimeout(timeout)
            return found, True
        return self._fresh(perspective, timeout), False

    def _fresh(self, perspective: PerspectiveConfig, timeout: float) -> http.client.HTTPSConnection:
        parts = urlsplit(perspective.url)
        assert parts.hostname is not None and self._context is not None
        return http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=self._context
        )

    def _drop_idle(self, perspective: PerspectiveConfig) -> None:
        with self._lock:
            dropped = self._idle.pop(perspective.url, [])
        for conn, _ in dropped:
            conn.close()

    def _checkin(self, perspective: PerspectiveConfig, conn: http.client.HTTPSConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(perspective.url, [])
            if len(idle) < MAX_IDLE_PER_PERSPECTIVE and self._pool is not None:
                idle.append((conn, time.monotonic()))
                return
        conn.close()

    @staticmethod
    def _send(
        conn: http.client.HTTPSConnection, method: str, path: str, payload: bytes | None
    ) -> tuple[int, Any, bool]:
        headers = {"User-Agent": USER_AGENT, "Accept": "application/json"}
        if payload is not None:
            headers["Content-Type"] = "application/json"
        conn.request(method, path, body=payload, headers=headers)
        response = conn.getresponse()
        raw = response.read(MAX_ANSWER_BYTES + 1)
        if len(raw) > MAX_ANSWER_BYTES:
            return 502, {"detail": f"answer larger than {MAX_ANSWER_BYTES} bytes"}, False
        keep = response.isclosed() and not response.will_close
        try:
            return response.status, json.loads(raw), keep
        except (UnicodeDecodeError, json.JSONDecodeError):
            return response.status, {"detail": "the answer is not JSON"}, keep


def _still_open(conn: http.client.HTTPSConnection) -> bool:
    """An idle keep-alive connection has nothing to read: readable means the peer sent a
    close (FIN, close_notify) or something we never asked for. Either way, not reusable."""
    sock = conn.sock
    if sock is None or sock.fileno() < 0:
        return False
    try:
        readable, _, _ = select.select([sock], [], [], 0)
    except (OSError, ValueError):
        return False
    return not readable
