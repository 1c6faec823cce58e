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
import ssl
import threading
import time
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import wait as wait_futures
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlsplit

from certkeeper.errors import ConfigError
from certkeeper.validation.model import (
    CaaResult,
    ChallengeAttempt,
    CheckResult,
    Corroboration,
    PerspectiveResult,
)
from certkeeper.validation.quorum import decide, policy_at
from certkeeper.validation.remote_requests import CaaQuery
from certkeeper.validation.settings import PerspectiveConfig, ValidationSettings

MAX_ANSWER_BYTES = 64 * 1024
MAX_IDLE_PER_PERSPECTIVE = 64
CONCURRENT_CORROBORATIONS = 64
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
        self._idle: dict[str, list[http.client.HTTPSConnection]] = {}

    @property
    def configured(self) -> int:
        return len(self.settings.perspectives)

    def corroborate_challenge(self, attempt: ChallengeAttempt) -> Corroboration:
        """A perspective corroborates when its own check of the challenge succeeded."""

        def judge(result: dict[str, Any]) -> tuple[bool, str]:
            check = CheckResult.from_json(result)
            return check.ok, check.detail

        return self._corroborate("/v1/challenge", attempt.to_json(), judge)

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

        def judge(result: dict[str, Any]) -> tuple[bool, str]:
            caa = CaaResult.from_json(result)
            if caa.problem_type == "dns":
                return False, caa.detail
            return caa.allowed == expected_allowed, caa.detail

        return self._corroborate("/v1/caa", query.to_json(), judge)

    def health(self) -> list[PerspectiveResult]:
        """Ask each perspective for /v1/health (operators: `certkeeper mpic check`)."""
        if not self.settings.perspectives:
            return []
        return self._ask_all("GET", "/v1/health", None, lambda _r: (True, "healthy"))

    def close(self) -> None:
        with self._lock:
            pool, self._pool = self._pool, None
            idle = [conn for conns in self._idle.values() for conn in conns]
            self._idle.clear()
        if pool is not None:
            pool.shutdown(wait=False, cancel_futures=True)
        for conn in idle:
            conn.close()

    def _corroborate(
        self,
        path: str,
        body: dict[str, Any],
        judge: Callable[[dict[str, Any]], tuple[bool, str]],
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
        decision = decide(self.clock().date(), [(r.region, r.ok) for r in results])
        return Corroboration(
            results=results,
            required=decision.required,
            passed=decision.passed,
            detail=decision.detail,
        )

    def _ask_all(
        self,
        method: str,
        path: str,
        body: dict[str, Any] | None,
        judge: Callable[[dict[str, Any]], tuple[bool, str]],
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
        judge: Callable[[dict[str, Any]], tuple[bool, str]],
        timeout: float,
    ) -> PerspectiveResult:
        started = time.monotonic()

        def result(ok: bool, detail: str) -> PerspectiveResult:
            return PerspectiveResult(
                perspective=perspective.name,
                region=perspective.region,
                ok=ok,
                detail=detail[:500],
                seconds=round(time.monotonic() - started, 3),
            )

        try:
            status, answer = self._exchange(perspective, method, path, payload, timeout)
        except ssl.SSLCertVerificationError as exc:
            return result(False, f"TLS failure: certificate verify failed: {exc.verify_message}")
        except ssl.SSLError as exc:
            return result(False, f"TLS failure: {exc.reason or exc}")
        except (OSError, http.client.HTTPException) as exc:
            return result(False, f"unreachable: {type(exc).__name__}: {exc}")
        if status != 200:
            detail = answer.get("detail") if isinstance(answer, dict) else None
            return result(False, f"HTTP {status}: {detail or 'no problem document'}")
        if not isinstance(answer, dict):
            return result(False, "the answer is not a JSON object")
        # A perspective must be the one configured at this URL: two entries pointing at
        # one service would otherwise count one network location twice.
        if answer.get("perspective") != perspective.name or answer.get("region") != (
            perspective.region
        ):
            return result(
                False,
                f"answered as {answer.get('perspective')!r} in {answer.get('region')!r}, "
                f"configured as {perspective.name!r} in {perspective.region!r}",
            )
        if method == "GET":
            return result(*judge(answer))
        inner = answer.get("result")
        if not isinstance(inner, dict):
            return result(False, "the answer has no result object")
        try:
            ok, detail = judge(inner)
        except (KeyError, TypeError, ValueError) as exc:
            return result(False, f"the result cannot be read: {exc}")
        return result(ok, detail)

    def _exchange(
        self,
        perspective: PerspectiveConfig,
        method: str,
        path: str,
        payload: bytes | None,
        timeout: float,
    ) -> tuple[int, Any]:
        """One request, on a kept-alive connection when there is one.

        A perspective may close an idle connection at any time; a failure on a reused
        connection (other than a timeout) is retried once on a fresh one. Only the TLS
        session is reused, never an answer: each call is a new check."""
        for first in (True, False):
            conn, reused = self._checkout(perspective, timeout)
            try:
                status, answer, keep = self._send(conn, method, path, payload)
            except TimeoutError:
                conn.close()
                raise
            except (OSError, http.client.HTTPException):
                conn.close()
                if reused and first:
                    continue
                raise
            if keep:
                self._checkin(perspective, conn)
            else:
                conn.close()
            return status, answer
        raise AssertionError("unreachable")

    def _checkout(
        self, perspective: PerspectiveConfig, timeout: float
    ) -> tuple[http.client.HTTPSConnection, bool]:
        with self._lock:
            idle = self._idle.get(perspective.url)
            conn = idle.pop() if idle else None
        if conn is not None:
            conn.timeout = timeout
            if conn.sock is not None:
                conn.sock.settimeout(timeout)
            return conn, True
        parts = urlsplit(perspective.url)
        assert parts.hostname is not None and self._context is not None
        fresh = http.client.HTTPSConnection(
            parts.hostname, parts.port, timeout=timeout, context=self._context
        )
        return fresh, False

    def _checkin(self, perspective: PerspectiveConfig, conn: http.client.HTTPSConnection) -> None:
        with self._lock:
            idle = self._idle.setdefault(perspective.url, [])
            if len(idle) < MAX_IDLE_PER_PERSPECTIVE and self._pool is not None:
                idle.append(conn)
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
