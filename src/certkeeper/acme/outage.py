"""Answering through a database outage: 503 with Retry-After, one log line per change.

Without this, every request during an outage ended in a 500 and a logged traceback
(about 330 in 26 seconds). Now the first failure marks the database unavailable and
logs one warning; while it is unavailable, at most one request per `probe_seconds`
checks it again (one round trip) and every other request is answered 503 at once,
without touching the pool; the first successful check logs one line and lets requests
through again.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from certkeeper.acme.problems import AcmeProblem
from certkeeper.store.database import UNAVAILABLE_ERRORS

log = logging.getLogger("certkeeper.acme")

RETRY_AFTER_SECONDS = 5


def unavailable() -> AcmeProblem:
    return AcmeProblem(
        "serverInternal",
        "the database is unavailable; retry later",
        status=503,
        headers=(("Retry-After", str(RETRY_AFTER_SECONDS)),),
    )


class DatabaseOutage:
    """Thread-safe outage state shared by the worker threads of one process."""

    def __init__(
        self,
        ping: Callable[[], None],
        *,
        probe_seconds: float = 1.0,
        monotonic: Callable[[], float] = time.monotonic,
    ) -> None:
        self._ping = ping
        self._probe_seconds = probe_seconds
        self._monotonic = monotonic
        self._lock = threading.Lock()
        self._down = False
        self._next_probe = 0.0

    @property
    def down(self) -> bool:
        return self._down

    def check(self) -> None:
        """Before a request that needs the database: raise the 503 problem while it is
        down, unless this request is the one that probes it and finds it back."""
        if not self._down:
            return
        with self._lock:
            if not self._down:
                return
            now = self._monotonic()
            if now < self._next_probe:
                raise unavailable()
            self._next_probe = now + self._probe_seconds
        try:
            self._ping()
        except UNAVAILABLE_ERRORS:
            raise unavailable() from None
        with self._lock:
            if self._down:
                self._down = False
                log.warning("database reachable again: ACME requests are served")

    def failed(self, exc: Exception) -> AcmeProblem:
        """A request failed with one of UNAVAILABLE_ERRORS: the 503 to answer with."""
        with self._lock:
            if not self._down:
                self._down = True
                self._next_probe = self._monotonic() + self._probe_seconds
                first = str(exc).strip().splitlines()
                log.error(
                    "database unavailable (%s): answering 503 until it is back",
                    first[0] if first else type(exc).__name__,
                )
        return unavailable()
