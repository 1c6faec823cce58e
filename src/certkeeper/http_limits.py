"""What one client may hold of a server: connections, idle time, time to send a body.

Without these bounds a single host stops every certkeeper service: about 1,024 idle
keep-alive connections fill granian's per-worker connection limit, and POST bodies sent
at one byte per second hold their connections forever. The server (granian or uvicorn)
enforces the connection bound and the idle timeout (granian's header read timeout also
covers the wait for the next request on a kept-alive connection); the applications
enforce the body deadline with `read_body`, because neither server times out a body.
See docs/ocsp.md, "Hostile clients".
"""

from __future__ import annotations

import asyncio
import os
import resource
from collections.abc import Awaitable, Callable, MutableMapping
from dataclasses import dataclass
from typing import Any

Message = MutableMapping[str, Any]

BODY_SECONDS_ENV = "CERTKEEPER_BODY_SECONDS"
FD_RESERVE = 256  # descriptors kept for the database, CRL files, logs


@dataclass(frozen=True)
class ServerLimits:
    max_connections: int = 1024  # open connections per worker process
    idle_seconds: float = 5.0  # a kept-alive connection with no request, or slow headers
    body_seconds: float = 10.0  # a whole request body, from its first read

    def __post_init__(self) -> None:
        if self.max_connections < 1:
            raise ValueError("max_connections must be at least 1")
        if not (0 < self.idle_seconds <= 3600 and 0 < self.body_seconds <= 3600):
            raise ValueError("timeouts must be between 0 and 3600 seconds")


class BodyTimeout(Exception):
    """The client did not send its whole body within the deadline."""


class BodyTooLarge(Exception):
    """The body (declared or sent) is over the limit."""


class BodyAborted(Exception):
    """The client went away before the body was complete."""


async def read_body(receive: Callable[[], Awaitable[Message]], limit: int, seconds: float) -> bytes:
    """The whole request body, at most `limit` octets, within `seconds` in total (not
    per chunk: one byte per second must not keep a connection forever)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    chunks: list[bytes] = []
    size = 0
    while True:
        left = deadline - loop.time()
        if left <= 0:
            raise BodyTimeout
        try:
            message = await asyncio.wait_for(receive(), left)
        except TimeoutError:
            raise BodyTimeout from None
        if message["type"] == "http.disconnect":
            raise BodyAborted
        chunk = message.get("body", b"")
        size += len(chunk)
        if size > limit:
            raise BodyTooLarge
        chunks.append(chunk)
        if not message.get("more_body", False):
            return b"".join(chunks)


def body_seconds_from_environment() -> float:
    """The body deadline a worker process was started with (`serve --body-timeout`)."""
    raw = os.environ.get(BODY_SECONDS_ENV)
    return float(raw) if raw else ServerLimits().body_seconds


def raise_descriptor_limit(workers: int, limits: ServerLimits) -> None:
    """Let the process (and the workers it starts) hold the connections it allows: the
    usual soft limit of 1,024 descriptors would otherwise be the real connection bound."""
    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    wanted = workers * limits.max_connections + FD_RESERVE
    if soft != resource.RLIM_INFINITY and soft < wanted:
        target = wanted if hard == resource.RLIM_INFINITY else min(wanted, hard)
        resource.setrlimit(resource.RLIMIT_NOFILE, (target, hard))
