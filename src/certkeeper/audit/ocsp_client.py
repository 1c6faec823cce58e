"""An OCSP-over-HTTP client for audits: many requests, few keep-alive connections.

A coverage audit asks a responder about every serial a CA ever assigned. The client is
built for that: a fixed number of HTTP/1.1 keep-alive connections (raw asyncio streams,
uvloop when installed), each worker coroutine owning one connection and taking the next
request from a shared iterator, so concurrency is bounded by construction. Every
exchange has a timeout; a failed exchange (refused, reset, timed out, HTTP 5xx or 429,
a body that is not a complete HTTP response) closes the connection and is retried on
a fresh one after an exponential, jittered backoff. What still fails is returned as a
`TransportFailure` value, never raised: to an audit a responder that cannot be reached
is a finding, not a crash.

Requests are POSTed as `application/ocsp-request` (RFC 6960 A.1.1) or sent as GET
with the URL-encoded base64 path (RFC 5019 5), which is what a CDN would cache.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import random
import ssl
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar
from urllib.parse import urlsplit

from certkeeper.errors import InputError
from certkeeper.x509.ocsp import encode_get_path

K = TypeVar("K")

DEFAULT_CONNECTIONS = 8
DEFAULT_PIPELINE = 16
DEFAULT_TIMEOUT = 5.0
DEFAULT_RETRIES = 3
DEFAULT_BACKOFF = 0.1
MAX_BODY = 1 << 20  # an OCSP response is a few KB; anything larger is not one
RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})


@dataclass(frozen=True, slots=True)
class TransportFailure:
    """No usable answer after every attempt; `reason` is the last attempt's problem."""

    reason: str
    attempts: int


class _Retryable(Exception):
    pass


@dataclass(frozen=True, slots=True)
class Endpoint:
    """Where an OCSP responder listens, parsed once from its URL."""

    url: str
    host: str
    port: int
    path: str
    tls: bool

    @classmethod
    def parse(cls, url: str) -> Endpoint:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https") or not parts.hostname:
            raise InputError(f"OCSP URL {url!r} is not an http:// or https:// URL")
        try:
            port = parts.port or (443 if parts.scheme == "https" else 80)
        except ValueError:
            raise InputError(f"OCSP URL {url!r} has an invalid port") from None
        path = parts.path or "/"
        if parts.query:
            path += "?" + parts.query
        return cls(url, parts.hostname, port, path, parts.scheme == "https")

    @property
    def host_header(self) -> str:
        default = 443 if self.tls else 80
        host = f"[{self.host}]" if ":" in self.host else self.host
        return host if self.port == default else f"{host}:{self.port}"


def _parse_head(head: bytes) -> tuple[int, dict[bytes, bytes]]:
    lines = head.split(b"\r\n")
    status_line = lines[0].split(b" ", 2)
    if len(status_line) < 2 or not status_line[0].startswith(b"HTTP/1."):
        raise _Retryable(f"not an HTTP/1.x status line: {lines[0][:60]!r}")
    try:
        status = int(status_line[1])
    except ValueError:
        raise _Retryable(f"bad HTTP status {status_line[1][:20]!r}") from None
    headers: dict[bytes, bytes] = {}
    for line in lines[1:]:
        if not line:
            continue
        name, sep, value = line.partition(b":")
        if not sep:
            raise _Retryable(f"malformed HTTP header line {line[:60]!r}")
        headers[name.strip().lower()] = value.strip()
    return status, headers


class OcspHttpClient:
    """Sends OCSP requests to one responder. Use `run` (or `fetch_all` from sync code)."""

    def __init__(
        self,
        url: str,
        *,
        connections: int = DEFAULT_CONNECTIONS,
        timeout: float = DEFAULT_TIMEOUT,
        retries: int = DEFAULT_RETRIES,
        backoff: float = DEFAULT_BACKOFF,
        method: str = "POST",
        pipeline: int = DEFAULT_PIPELINE,
    ) -> None:
        if connections < 1:
            raise InputError("at least one connection is needed")
        if timeout <= 0:
            raise InputError("the timeout must be positive")
        if pipeline < 1:
            raise InputError("the pipeline depth must be at least 1")
        if retries < 0:
            raise InputError("retries cannot be negative")
        if method not in ("GET", "POST"):
            raise InputError(f"method {method!r} is neither GET nor POST")
        self.endpoint = Endpoint.parse(url)
        self.connections = connections
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff
        self.method = method
        self.pipeline = pipeline
        self.attempts = 0
        self.retried = 0
        ep = self.endpoint
        self._post_head = (
            f"POST {ep.path} HTTP/1.1\r\nHost: {ep.host_header}\r\n"
            "Content-Type: application/ocsp-request\r\nContent-Length: "
        ).encode()
        self._get_prefix = (f"GET {ep.path.rstrip('/')}/").encode()
        self._get_suffix = f" HTTP/1.1\r\nHost: {ep.host_header}\r\n\r\n".encode()

    def encode(self, request_der: bytes) -> bytes:
        """The bytes of one HTTP request carrying `request_der`."""
        if self.method == "POST":
            return self._post_head + str(len(request_der)).encode() + b"\r\n\r\n" + request_der
        return self._get_prefix + encode_get_path(request_der).encode() + self._get_suffix

    async def _open(self) -> tuple[asyncio.StreamReader, asyncio.StreamWriter]:
        ep = self.endpoint
        context = ssl.create_default_context() if ep.tls else None
        return await asyncio.open_connection(
            ep.host,
            ep.port,
            ssl=context,
            limit=MAX_BODY,
            server_hostname=ep.host if ep.tls else None,
        )

    async def _read_answer(self, reader: asyncio.StreamReader) -> tuple[bytes, bool]:
        """One HTTP response: (body, keep the connection open). Raises _Retryable,
        _Permanent, or a stream error."""
        head = await reader.readuntil(b"\r\n\r\n")
        status, headers = _parse_head(head[:-4])
        if headers.get(b"transfer-encoding", b"").lower() == b"chunked":
            body = await self._chunked(reader)
        elif b"content-length" in headers:
            try:
                length = int(headers[b"content-length"])
            except ValueError:
                raise _Retryable("bad Content-Length") from None
            if not 0 <= length <= MAX_BODY:
                raise _Retryable(f"Content-Length {length} out of range")
            body = await reader.readexactly(length)
        else:
            body = await reader.read(MAX_BODY)  # delimited by the connection closing
            headers[b"connection"] = b"close"
        keep = headers.get(b"connection", b"").lower() != b"close"
        if status in RETRY_STATUSES:
            raise _Retryable(f"HTTP {status}")
        if status != 200:
            raise _Permanent(f"HTTP {status}", keep)
        return body, keep

    @staticmethod
    async def _chunked(reader: asyncio.StreamReader) -> bytes:
        out = bytearray()
        while True:
            line = await reader.readuntil(b"\r\n")
            try:
                size = int(line.split(b";", 1)[0].strip(), 16)
            except ValueError:
                raise _Retryable("bad chunk size") from None
            if size == 0:
                while (await reader.readuntil(b"\r\n")) != b"\r\n":
                    pass
                return bytes(out)
            if len(out) + size > MAX_BODY:
                raise _Retryable("chunked body too large")
            out += await reader.readexactly(size)
            await reader.readexactly(2)

    async def run(
        self,
        items: Iterable[tuple[K, bytes]],
        handle: Callable[[K, bytes | TransportFailure], None],
    ) -> None:
        """Send every (key, request DER) and call `handle(key, response or failure)`
        as answers arrive, with at most `connections` x `pipeline` requests in flight."""
        source: Iterator[tuple[K, bytes]] = iter(items)

        async def worker() -> None:
            conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None = None
            try:
                while True:
                    batch = [
                        [key, self.encode(der), 0]
                        for key, der in itertools.islice(source, self.pipeline)
                    ]
                    if not batch:
                        return
                    conn = await self._send_batch(conn, batch, handle)
            finally:
                if conn is not None:
                    _close(conn)

        await asyncio.gather(*(worker() for _ in range(self.connections)))

    async def _send_batch(
        self,
        conn: tuple[asyncio.StreamReader, asyncio.StreamWriter] | None,
        pending: list[list[Any]],
        handle: Callable[[K, bytes | TransportFailure], None],
    ) -> tuple[asyncio.StreamReader, asyncio.StreamWriter] | None:
        """Pipeline `pending` ([key, payload, attempts]) on one connection, answering
        each in order; on a broken exchange, reconnect and resend what is left."""
        while pending:
            reason = ""
            try:
                for item in pending:
                    item[2] += 1
                self.attempts += len(pending)
                async with asyncio.timeout(self.timeout) as deadline:
                    if conn is None:
                        conn = await self._open()
                    conn[1].write(b"".join(item[1] for item in pending))
                    while pending:
                        deadline.reschedule(asyncio.get_running_loop().time() + self.timeout)
                        answer: bytes | TransportFailure
                        try:
                            answer, keep = await self._read_answer(conn[0])
                        except _Permanent as exc:
                            answer, keep = TransportFailure(str(exc), pending[0][2]), exc.keep
                        item = pending.pop(0)
                        handle(item[0], answer)
                        if not keep:
                            _close(conn)
                            conn = None
                            break
                continue
            except TimeoutError:
                reason = f"no answer within {self.timeout:g} s"
            except asyncio.IncompleteReadError:
                reason = "connection closed mid-response"
            except asyncio.LimitOverrunError:
                reason = "HTTP header section too large"
            except _Retryable as exc:
                reason = str(exc)
            except (OSError, ssl.SSLError) as exc:
                reason = f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__
            if conn is not None:
                _close(conn)
                conn = None
            # The first unanswered request is the one the failure belongs to; the
            # rest were queued behind it and are resent without counting an attempt.
            for item in pending[1:]:
                item[2] -= 1
            self.attempts -= len(pending) - 1
            head = pending[0]
            if head[2] > self.retries:
                pending.pop(0)
                handle(head[0], TransportFailure(reason, head[2]))
                continue
            self.retried += 1
            delay = self.backoff * (2 ** (head[2] - 1))
            await asyncio.sleep(delay * (0.5 + random.random()))
        return conn

    def fetch_all(
        self,
        items: Iterable[tuple[K, bytes]],
        handle: Callable[[K, bytes | TransportFailure], None],
    ) -> None:
        """`run` on a fresh event loop (uvloop when available)."""
        run_loop(self.run(items, handle))


class _Permanent(Exception):
    """An HTTP answer that retrying will not change (404, 405, 415, ...)."""

    def __init__(self, message: str, keep: bool) -> None:
        super().__init__(message)
        self.keep = keep


def _close(conn: tuple[asyncio.StreamReader, asyncio.StreamWriter]) -> None:
    with contextlib.suppress(OSError, RuntimeError):
        conn[1].close()


def run_loop(coro: object) -> None:
    """Run a coroutine to completion on uvloop if installed, else asyncio's loop."""
    try:
        import uvloop
    except ImportError:  # pragma: no cover - uvloop ships with the server extras
        asyncio.run(coro)  # type: ignore[arg-type]
        return
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(coro)  # type: ignore[arg-type]
