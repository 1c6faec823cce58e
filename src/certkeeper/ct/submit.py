"""Submitting a precertificate to CT logs until the policy is met (RFC 6962 4.1).

Enough logs are asked at once to meet the requirement (distinct operators first);
each request has a timeout, a log that fails is retried with backoff while its
replacement (a log of a missing operator if there is one) is asked in parallel, and
the whole collection stops at a deadline. Every SCT is decoded and its signature
verified against the key in the log list before it counts: an SCT from the wrong log,
or over other data, is a failure of that log, never something embedded.
"""

from __future__ import annotations

import base64
import json
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from datetime import datetime

from cryptography import x509

from certkeeper.ct.loglist import CtLog, LogList, iter_submittable
from certkeeper.ct.policy import Requirement, required_for
from certkeeper.ct.sct import (
    Sct,
    SctError,
    SignedEntry,
    decode_digitally_signed,
    precert_entry,
    verify_sct,
)
from certkeeper.ct.tls import TlsDecodeError
from certkeeper.settings.ct import SubmissionSettings

# How far ahead of our clock a log's SCT timestamp may be before the SCT is refused.
MAX_SCT_CLOCK_SKEW_MS = 60_000


@dataclass(frozen=True)
class CollectedSct:
    log: CtLog
    sct: Sct


@dataclass
class Collection:
    requirement: Requirement
    scts: list[CollectedSct] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)  # "log: what went wrong", in order

    def unmet(self) -> str | None:
        return self.requirement.unmet((c.log.log_id, c.log.operator) for c in self.scts)


class LogFailure(Exception):
    """One attempt at one log failed; `retry` says whether another attempt may help."""

    def __init__(self, message: str, *, retry: bool) -> None:
        super().__init__(message)
        self.retry = retry


# POST body to URL with a timeout -> (status, body); raises OSError on transport failure.
Post = Callable[[str, bytes, float], tuple[int, bytes]]


def http_post(url: str, body: bytes, timeout: float) -> tuple[int, bytes]:
    request = urllib.request.Request(
        url, data=body, method="POST", headers={"Content-Type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            return int(response.status), response.read(1_000_000)
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read(10_000)


class Submitter:
    def __init__(
        self,
        loglist: LogList,
        settings: SubmissionSettings,
        *,
        post: Post = http_post,
        monotonic: Callable[[], float] = time.monotonic,
        wall_ms: Callable[[], int] = lambda: time.time_ns() // 1_000_000,
    ) -> None:
        self.loglist = loglist
        self.settings = settings
        self.post = post
        self.monotonic = monotonic
        self.wall_ms = wall_ms

    def collect(self, precertificate_der: bytes, chain: Sequence[bytes]) -> Collection:
        """SCTs for the precertificate; `chain` is its issuer first, up to a root.

        Returns when the requirement is met, or with what was gathered and every
        problem once the deadline passes or no log is left to ask."""
        pre = x509.load_der_x509_certificate(precertificate_der)
        issuer = x509.load_der_x509_certificate(chain[0])
        entry = precert_entry(precertificate_der, issuer)
        requirement = required_for(
            pre.not_valid_before_utc, pre.not_valid_after_utc, self.settings.policies
        )
        result = Collection(requirement)
        candidates = list(iter_submittable(self.loglist, pre.not_valid_after_utc))
        possible = requirement.unmet((log.log_id, log.operator) for log in candidates)
        if possible is not None:
            result.problems.append(
                f"the log list has too few usable logs for notAfter "
                f"{_day(pre.not_valid_after_utc)}: {possible}"
            )
            return result
        body = json.dumps(
            {"chain": [base64.b64encode(d).decode() for d in (precertificate_der, *chain)]}
        ).encode()
        deadline = self.monotonic() + self.settings.deadline_seconds
        stop = threading.Event()
        pool = ThreadPoolExecutor(max_workers=len(candidates), thread_name_prefix="ct-submit")
        running: dict[Future[Sct], CtLog] = {}
        try:
            while True:
                for log in self._next_logs(requirement, result, candidates, list(running.values())):
                    candidates.remove(log)
                    running[pool.submit(self._one_log, log, body, entry, deadline, stop)] = log
                if result.unmet() is None or not running:
                    break
                remaining = deadline - self.monotonic()
                if remaining <= 0:
                    break
                done, _ = wait(list(running), timeout=remaining, return_when=FIRST_COMPLETED)
                for future in done:
                    log = running.pop(future)
                    try:
                        result.scts.append(CollectedSct(log, future.result()))
                    except LogFailure as exc:
                        result.problems.append(f"{_name(log)}: {exc}")
            if result.unmet() is not None and self.monotonic() >= deadline:
                result.problems.append(
                    f"submission deadline of {self.settings.deadline_seconds:g}s passed"
                )
            for log in running.values():
                result.problems.append(f"{_name(log)}: no answer by the deadline")
        finally:
            stop.set()
            pool.shutdown(wait=False, cancel_futures=True)
        return result

    @staticmethod
    def _next_logs(
        requirement: Requirement,
        result: Collection,
        candidates: list[CtLog],
        running: list[CtLog],
    ) -> list[CtLog]:
        """Logs to ask now so that, if all in flight succeed, the requirement is met;
        operators not yet covered first."""
        chosen: list[CtLog] = []
        pending = [c.log for c in result.scts] + running
        pool = list(candidates)
        while True:
            have = pending + chosen
            operators = {log.operator for log in have}
            short_logs = requirement.logs - len(have)
            short_ops = requirement.operators - len(operators)
            if short_logs <= 0 and short_ops <= 0:
                return chosen
            fresh = [log for log in pool if log.operator not in operators]
            pick = fresh[0] if fresh else (pool[0] if pool and short_logs > 0 else None)
            if pick is None:
                return chosen
            pool.remove(pick)
            chosen.append(pick)

    def _one_log(
        self, log: CtLog, body: bytes, entry: SignedEntry, deadline: float, stop: threading.Event
    ) -> Sct:
        delay = self.settings.backoff_seconds
        last: LogFailure | None = None
        for _attempt in range(self.settings.attempts_per_log):
            remaining = deadline - self.monotonic()
            if remaining <= 0 or stop.is_set():
                break
            try:
                return self._attempt(
                    log, body, entry, min(self.settings.timeout_seconds, remaining)
                )
            except LogFailure as exc:
                last = exc
                if not exc.retry:
                    raise
            if stop.wait(min(delay, max(0.0, deadline - self.monotonic()))):
                break
            delay *= 2
        raise last or LogFailure("no attempt before the deadline", retry=False)

    def _attempt(self, log: CtLog, body: bytes, entry: SignedEntry, timeout: float) -> Sct:
        try:
            status, answer = self.post(log.endpoint("add-pre-chain"), body, timeout)
        except TimeoutError:
            raise LogFailure(f"timed out after {timeout:g}s", retry=True) from None
        except OSError as exc:
            reason = getattr(exc, "reason", exc)
            if isinstance(reason, TimeoutError):
                raise LogFailure(f"timed out after {timeout:g}s", retry=True) from None
            raise LogFailure(f"cannot connect: {reason}", retry=True) from None
        if status >= 500 or status == 429:
            raise LogFailure(f"HTTP {status}", retry=True)
        if status != 200:
            raise LogFailure(f"HTTP {status}: {_message(answer)}", retry=False)
        try:
            sct = sct_from_json(answer)
            verify_sct(sct, log.key, entry)
            ahead = sct.timestamp - self.wall_ms()
            if ahead > MAX_SCT_CLOCK_SKEW_MS:
                # clients refuse an SCT from the future (OpenSSL does, to the second)
                raise SctError(f"timestamp {ahead / 1000:.0f}s in the future")
        except (SctError, TlsDecodeError, ValueError) as exc:
            raise LogFailure(f"SCT refused: {exc}", retry=False) from None
        return sct


def sct_from_json(body: bytes) -> Sct:
    """The SCT in an add-chain/add-pre-chain answer (RFC 6962 4.1)."""
    try:
        doc = json.loads(body)
        version = doc["sct_version"]
        log_id = base64.b64decode(doc["id"], validate=True)
        timestamp = doc["timestamp"]
        extensions = base64.b64decode(doc.get("extensions", ""), validate=True)
        signed = base64.b64decode(doc["signature"], validate=True)
    except (ValueError, KeyError, TypeError) as exc:
        raise ValueError(f"not an add-pre-chain answer ({exc})") from None
    if version != 0:
        raise ValueError(f"sct_version {version!r} is not v1")
    if not isinstance(timestamp, int) or not 0 <= timestamp < 1 << 64:
        raise ValueError(f"timestamp {timestamp!r} is not a uint64")
    if len(log_id) != 32:
        raise ValueError("log id is not 32 octets")
    hash_alg, sig_alg, signature = decode_digitally_signed(signed)
    return Sct(log_id, timestamp, extensions, hash_alg, sig_alg, signature)


def _message(body: bytes) -> str:
    try:
        return str(json.loads(body).get("error_message", ""))[:200]
    except (ValueError, AttributeError):
        return body[:200].decode(errors="replace")


def _name(log: CtLog) -> str:
    return log.description or log.url


def _day(when: datetime) -> str:
    return when.date().isoformat()
