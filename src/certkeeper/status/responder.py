"""The OCSP responder: pre-signed responses over HTTP GET and POST (RFC 6960 A.1, RFC 5019).

It holds no keys and signs nothing: it answers with the response stored for the serial,
or with one of the fixed unsigned error responses. What it answers, and why:

- A serial with a stored response: that response, while its nextUpdate is ahead. An
  assigned serial with a precertificate always has one (seed 003), so never "unknown".
- A serial never assigned under the issuer, or assigned but with no precertificate
  (BR 4.9.10 "unused"): `unauthorized` (RFC 5019 2.2.3 / RFC 6960 2.3: the responder
  has no authoritative status for it). Never "good" (BR 4.9.10), and not a signed
  "unknown" or extended "revoked" (RFC 6960 2.2): those would need a live signature
  per request, which would let anyone make the responder sign arbitrarily many
  responses and put the delegated key on the request path. See docs/ocsp.md.
- A serial with a precertificate but no stored response, or whose stored response has
  passed nextUpdate while the certificate is valid: a broken invariant or a failed
  refresh. `tryLater`, logged as an error, never a made-up status.
- A certificate that has expired and whose last response has run out: `unauthorized`;
  status is provided until expiry (and the last response runs days past it).
- An issuer that is not ours, or a CertID hashed with anything but SHA-1 (RFC 5019
  2.1.1; the stored responses carry SHA-1 CertIDs and must echo the request's):
  `unauthorized`.
- Not one parseable OCSPRequest with exactly one CertID: `malformedRequest`. Nonces
  are ignored (RFC 5019 4), signatures on requests are not checked.
- HTTP-level problems get HTTP statuses: 405 (method), 415 (POST content type),
  413 (body over MAX_REQUEST_BYTES), 414 (URL over MAX_GET_PATH_CHARS), 404 (path),
  408 (a body not complete within `body_seconds`: see `certkeeper.http_limits`).
  Nothing a client sends produces a 500.

Lookups go to the database (several responder processes share it) through a small
in-process cache: request bytes (a GET path or POST body) map to (issuer, serial), and
(issuer, serial) to the answer, which is fresh for CACHE_TTL seconds and then served
stale for one more TTL while a background lookup replaces it. So a revocation reaches
every responder process within about two TTLs, and expiring entries never make
requests wait on the database.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import random
import time
from collections.abc import Awaitable, Callable, Coroutine, MutableMapping
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from email.utils import format_datetime
from typing import Any

from certkeeper.http_limits import (
    BodyAborted,
    BodyTimeout,
    BodyTooLarge,
    ServerLimits,
    read_body,
)
from certkeeper.metrics import OCSP_LOOKUPS
from certkeeper.status.byte_cache import ByteBoundedCache
from certkeeper.store.database import UNAVAILABLE_ERRORS
from certkeeper.store.ocsp_repo import OcspStore, ResponderRow
from certkeeper.x509 import ocsp as enc

log = logging.getLogger("certkeeper.ocsp")

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

OCSP_REQUEST_TYPE = "application/ocsp-request"
OCSP_RESPONSE_TYPE = b"application/ocsp-response"

# HTTP caches (a CDN in front) may keep a response this long at most, however far its
# nextUpdate is: a revocation re-signs at once, and this bounds how long a cache keeps
# serving the superseded "good". RFC 5019 6.2 only requires max-age <= nextUpdate - now.
MAX_AGE_CAP = timedelta(hours=1)
CACHE_TTL = 5.0  # seconds a looked-up answer is fresh in this process (then stale as long)
NEGATIVE_TTL = 1.0  # ...for answers other than a stored response
# Both caches are bounded by bytes per worker process (a request key is up to
# MAX_REQUEST_BYTES, an answer about 0.5-3 KB): `certkeeper.status.byte_cache`.
REQUEST_CACHE_BYTES = 32 * 1024 * 1024
ANSWER_CACHE_BYTES = 64 * 1024 * 1024
ISSUER_RELOAD_SECONDS = 60.0


@dataclass(slots=True)
class _Entry:
    fresh_until: float  # monotonic seconds
    stale_until: float
    answer: Answer


@dataclass(frozen=True, slots=True)
class Answer:
    """An HTTP answer, ready to send."""

    status: int
    headers: tuple[tuple[bytes, bytes], ...]
    body: bytes
    etag: bytes = b""


def _entry_bytes(key: tuple[int, str], entry: _Entry) -> int:
    answer = entry.answer
    return len(key[1]) + len(answer.body) + sum(len(k) + len(v) for k, v in answer.headers)


def _http_date(moment: datetime) -> bytes:
    return format_datetime(moment.astimezone(UTC), usegmt=True).encode()


def _plain(status: int, text: str, extra: tuple[tuple[bytes, bytes], ...] = ()) -> Answer:
    body = text.encode()
    headers = (
        (b"content-type", b"text/plain; charset=utf-8"),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"no-store"),
        *extra,
    )
    return Answer(status, headers, body)


def _ocsp_error(body: bytes) -> Answer:
    headers = (
        (b"content-type", OCSP_RESPONSE_TYPE),
        (b"content-length", str(len(body)).encode()),
        (b"cache-control", b"max-age=0, no-cache"),
    )
    return Answer(200, headers, body)


MALFORMED = _ocsp_error(enc.MALFORMED_REQUEST)
UNAUTHORIZED = _ocsp_error(enc.UNAUTHORIZED)
TRY_LATER = _ocsp_error(enc.TRY_LATER)
INTERNAL_ERROR = _ocsp_error(enc.INTERNAL_ERROR)
METHOD_NOT_ALLOWED = _plain(405, "use GET or POST\n", ((b"allow", b"GET, HEAD, POST"),))
UNSUPPORTED_TYPE = _plain(415, f"POST needs Content-Type: {OCSP_REQUEST_TYPE}\n")
TOO_LARGE = _plain(413, f"an OCSP request is at most {enc.MAX_REQUEST_BYTES} octets\n")
URI_TOO_LONG = _plain(414, f"a GET request path is at most {enc.MAX_GET_PATH_CHARS} characters\n")
NOT_FOUND = _plain(404, "not found\n")
BODY_TIMEOUT = _plain(
    408, "the request body did not arrive in time\n", ((b"connection", b"close"),)
)


def signed_answer(
    der: bytes, this_update: datetime, next_update: datetime, now: datetime
) -> Answer:
    """A stored response with RFC 5019 6.2 caching headers as of `now`."""
    max_age = int(min((next_update - now).total_seconds(), MAX_AGE_CAP.total_seconds()))
    etag = b'"' + hashlib.sha256(der).hexdigest().encode() + b'"'
    headers = (
        (b"content-type", OCSP_RESPONSE_TYPE),
        (b"content-length", str(len(der)).encode()),
        (
            b"cache-control",
            b"max-age=%d, public, no-transform, must-revalidate" % max(0, max_age),
        ),
        (b"etag", etag),
        (b"last-modified", _http_date(this_update)),
        (b"expires", _http_date(next_update)),
    )
    return Answer(200, headers, der, etag)


class OcspResponder:
    """The responder as a raw ASGI application (no framework: see docs/ocsp.md for the
    measured difference). Mount it at `prefix`; with `accept_root`, "/<base64>" and
    POST "/" are answered too (for a proxy that strips the prefix)."""

    def __init__(
        self,
        store: OcspStore,
        *,
        prefix: str = "/ocsp",
        accept_root: bool = False,
        cache_ttl: float = CACHE_TTL,
        negative_ttl: float = NEGATIVE_TTL,
        clock: Callable[[], datetime] = lambda: datetime.now(UTC),
        body_seconds: float = ServerLimits().body_seconds,
        request_cache_bytes: int = REQUEST_CACHE_BYTES,
        answer_cache_bytes: int = ANSWER_CACHE_BYTES,
    ) -> None:
        self.store = store
        self.body_seconds = body_seconds
        self.prefix = prefix.rstrip("/")
        self.accept_root = accept_root
        self.cache_ttl = cache_ttl
        self.negative_ttl = negative_ttl
        self.clock = clock
        # request bytes (GET path or POST body) -> (issuer id, serial), or a fixed answer
        self._keys: ByteBoundedCache[bytes, tuple[int, str] | Answer] = ByteBoundedCache(
            request_cache_bytes, lambda raw, _: len(raw)
        )
        self._answers: ByteBoundedCache[tuple[int, str], _Entry] = ByteBoundedCache(
            answer_cache_bytes, _entry_bytes
        )
        self._refreshing: set[tuple[int, str]] = set()
        self._tasks: set[asyncio.Task[None]] = set()
        self._issuers: dict[tuple[bytes, bytes], int] | None = None
        self._issuers_loaded = 0.0
        self._database_down = False  # one log line per outage, not one per request

    # -- the answer, independent of HTTP ---------------------------------------------

    async def _issuer_map(self) -> dict[tuple[bytes, bytes], int]:
        if self._issuers is None:
            loop = asyncio.get_running_loop()
            self._issuers = await loop.run_in_executor(None, self.store.issuer_hashes)
            self._issuers_loaded = time.monotonic()
        elif time.monotonic() - self._issuers_loaded > ISSUER_RELOAD_SECONDS:
            self._issuers_loaded = time.monotonic()
            self._spawn(self._reload_issuers())
        return self._issuers

    async def _reload_issuers(self) -> None:
        loop = asyncio.get_running_loop()
        try:
            self._issuers = await loop.run_in_executor(None, self.store.issuer_hashes)
        except Exception as exc:
            self._database_failed(exc, "reloading the issuing CAs (the previous list is kept)")

    def _database_failed(self, exc: Exception, what: str) -> None:
        """A database outage is logged once, when it starts (every lookup meanwhile is
        tryLater); any other failure is a defect, logged with its traceback."""
        if not isinstance(exc, UNAVAILABLE_ERRORS):
            log.error("%s failed", what, exc_info=exc)
        elif not self._database_down:
            self._database_down = True
            first = str(exc).strip().splitlines()
            log.error(
                "database unavailable (%s): answering tryLater until it is back",
                first[0] if first else type(exc).__name__,
            )

    def _database_ok(self) -> None:
        if self._database_down:
            self._database_down = False
            log.warning("database reachable again: OCSP lookups are answered")

    def _spawn(self, coro: Coroutine[Any, Any, None]) -> None:
        task = asyncio.get_running_loop().create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    async def _key_for(self, request_der: bytes) -> tuple[int, str] | Answer:
        """The (issuer id, serial) a request asks about, or the fixed answer it gets."""
        try:
            request = enc.parse_request(request_der)
        except enc.OcspRequestError:
            return MALFORMED
        if len(request.cert_ids) != 1:
            return MALFORMED  # RFC 5019 2.1.1: exactly one Request
        cert_id = request.cert_ids[0]
        if cert_id.hash_algorithm != "sha1" or cert_id.serial_number <= 0:
            return UNAUTHORIZED
        try:
            issuers = await self._issuer_map()
        except UNAVAILABLE_ERRORS as exc:
            self._database_failed(exc, "loading the issuing CAs")
            return TRY_LATER
        issuer_id = issuers.get((cert_id.issuer_name_hash, cert_id.issuer_key_hash))
        if issuer_id is None:
            return UNAUTHORIZED
        return issuer_id, format(cert_id.serial_number, "x")

    async def answer_request(self, request_der: bytes) -> Answer:
        """The answer for one DER OCSPRequest."""
        key = await self._key_for(request_der)
        return key if isinstance(key, Answer) else await self._answer(key)

    async def _answer(self, key: tuple[int, str]) -> Answer:
        """Fresh cached answer; else a stale one while a background lookup refreshes it
        (so an expiry never stalls requests behind database round trips); else look up."""
        entry = self._answers.get(key)
        if entry is not None:
            now = time.monotonic()
            if now < entry.fresh_until:
                return entry.answer
            if now < entry.stale_until:
                if key not in self._refreshing:
                    self._refreshing.add(key)
                    self._spawn(self._refresh(key))
                return entry.answer
        return await self._load(key)

    async def _refresh(self, key: tuple[int, str]) -> None:
        try:
            await self._load(key)
        finally:
            self._refreshing.discard(key)

    async def _load(self, key: tuple[int, str]) -> Answer:
        issuer_id, serial = key
        try:
            if self.store.lookup_is_local:
                # A read-only SQLite primary-key lookup (~0.05 ms) costs less than handing
                # it to a thread and back: inline, the coverage audit (all misses) went
                # from 2,726 to 3,388 serials/s (docs/ocsp.md). Other backends go over
                # the network: they keep the thread.
                row = self.store.lookup(issuer_id, serial)
            else:
                loop = asyncio.get_running_loop()
                row = await loop.run_in_executor(None, self.store.lookup, issuer_id, serial)
        except Exception as exc:
            self._database_failed(exc, f"OCSP lookup for issuer {issuer_id} serial {serial}")
            return TRY_LATER
        self._database_ok()
        answer, ttl = self._decide(issuer_id, serial, row)
        fresh = time.monotonic() + ttl * random.uniform(0.8, 1.0)  # spread expiries
        self._answers.put(key, _Entry(fresh, fresh + ttl, answer))
        return answer

    def _decide(self, issuer_id: int, serial: str, row: ResponderRow) -> tuple[Answer, float]:
        answer, ttl = self._decision(issuer_id, serial, row)
        if answer is TRY_LATER:
            result = "try_later"
        elif answer is UNAUTHORIZED or row.response is None:
            result = "unauthorized"
        else:
            result = row.response.status
        OCSP_LOOKUPS.labels(result).inc()
        return answer, ttl

    def _decision(self, issuer_id: int, serial: str, row: ResponderRow) -> tuple[Answer, float]:
        now = self.clock()
        rec = row.response
        if rec is None:
            if row.serial_state in ("precertificate", "issued"):
                log.error(
                    "serial %s (issuer %s) has a precertificate but no OCSP response",
                    serial,
                    issuer_id,
                )
                return TRY_LATER, self.negative_ttl
            return UNAUTHORIZED, self.negative_ttl  # unused: never assigned, or no precert
        # An answer may be served for up to two TTLs (fresh, then stale): its nextUpdate
        # must be further ahead than that, and max-age counts from the end of it.
        horizon = now + timedelta(seconds=2 * self.cache_ttl)
        if rec.next_update <= horizon:
            if rec.not_after < now:
                return UNAUTHORIZED, self.negative_ttl
            log.error("OCSP response for serial %s is past nextUpdate: refresh is failing", serial)
            return TRY_LATER, self.negative_ttl
        return signed_answer(rec.der, rec.this_update, rec.next_update, horizon), self.cache_ttl

    async def _cached(self, raw: bytes, request_der: Callable[[], bytes]) -> Answer:
        key = self._keys.get(raw)
        if key is None:
            try:
                key = await self._key_for(request_der())
            except enc.OcspRequestError:
                key = MALFORMED
            if key is not TRY_LATER:  # a passing outage must not stick to the request
                self._keys.put(raw, key)
        return key if isinstance(key, Answer) else await self._answer(key)

    # -- HTTP ------------------------------------------------------------------------

    def owns(self, path: str) -> bool:
        return path == self.prefix or path.startswith(self.prefix + "/") or self.accept_root

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            answer = await self.handle(scope, receive)
        except Exception:
            log.exception("OCSP responder failed on %s %s", scope.get("method"), scope.get("path"))
            answer = INTERNAL_ERROR
        await send_answer(send, answer, head=scope["method"] == "HEAD", scope=scope)

    async def handle(self, scope: Scope, receive: Receive) -> Answer:
        method = scope["method"]
        raw = scope.get("raw_path") or scope["path"].encode()
        path = raw.decode("latin-1")
        if path.startswith(self.prefix + "/") or path == self.prefix:
            rest = path[len(self.prefix) + 1 :]
        elif self.accept_root and path.startswith("/"):
            rest = path[1:]
        else:
            return NOT_FOUND
        if method == "POST":
            return await self._post(scope, receive)
        if method not in ("GET", "HEAD"):
            return METHOD_NOT_ALLOWED
        if len(rest) > enc.MAX_GET_PATH_CHARS:
            return URI_TOO_LONG
        if not rest:
            return MALFORMED
        return await self._cached(raw, lambda: enc.decode_get_path(rest))

    async def _post(self, scope: Scope, receive: Receive) -> Answer:
        ctype = b""
        length = -1
        for name, value in scope["headers"]:
            if name == b"content-type":
                ctype = value
            elif name == b"content-length":
                try:
                    length = int(value)
                except ValueError:
                    return _plain(400, "bad Content-Length\n")
        if ctype.split(b";", 1)[0].strip().lower() != OCSP_REQUEST_TYPE.encode():
            return UNSUPPORTED_TYPE
        if length > enc.MAX_REQUEST_BYTES:
            return TOO_LARGE
        try:
            body = await read_body(receive, enc.MAX_REQUEST_BYTES, self.body_seconds)
        except BodyTooLarge:
            return TOO_LARGE
        except BodyTimeout:
            return BODY_TIMEOUT
        except BodyAborted:
            return MALFORMED
        return await self._cached(b"P" + body, lambda: body)


async def send_answer(send: Send, answer: Answer, *, head: bool, scope: Scope) -> None:
    """Send an Answer; 304 when the client already holds this exact response."""
    if answer.etag:
        for name, value in scope["headers"]:
            if name == b"if-none-match" and answer.etag in value:
                headers = [h for h in answer.headers if h[0] != b"content-length"]
                await send({"type": "http.response.start", "status": 304, "headers": headers})
                await send({"type": "http.response.body", "body": b""})
                return
    await send({"type": "http.response.start", "status": answer.status, "headers": answer.headers})
    await send({"type": "http.response.body", "body": b"" if head else answer.body})


async def _lifespan(receive: Receive, send: Send) -> None:
    while True:
        message = await receive()
        if message["type"] == "lifespan.startup":
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            await send({"type": "lifespan.shutdown.complete"})
            return
