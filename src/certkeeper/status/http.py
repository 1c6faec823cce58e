"""The status front end: OCSP, CRL files and issuer certificates under one ASGI app.

Paths follow `certkeeper.urls`: `/ocsp` (GET and POST), `/crl/<issuer>/<shard>.crl` and
`/crl/<issuer>.crl` from the publish directory (`<home>/crl` by default),
`/issuers/<name>.der` from the inventory. Stateless: every process reads the same
database and publish directory, so run as many as needed.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Protocol

from cryptography import x509

from certkeeper.status.byte_cache import ByteBoundedCache
from certkeeper.status.responder import (
    MAX_AGE_CAP,
    METHOD_NOT_ALLOWED,
    NOT_FOUND,
    Answer,
    OcspResponder,
    Receive,
    Scope,
    Send,
    _http_date,
    _lifespan,
    _plain,
    send_answer,
)
from certkeeper.store.inventory import Inventory


class MountedApp(Protocol):
    """An ASGI app served beside the status paths (the ACME server under /acme/)."""

    def owns(self, path: str) -> bool: ...

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None: ...


log = logging.getLogger("certkeeper.status")

CRL_TYPE = b"application/pkix-crl"
CERT_TYPE = b"application/pkix-cert"
_SEGMENT = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]{0,127}$")
ISSUER_CACHE_SECONDS = 60.0
CRL_CACHE_SECONDS = 2.0  # how often a CRL file is stat()ed for changes
CRL_CACHE_BYTES = 256 * 1024 * 1024  # per worker; a larger shard is read from disk each time


UNAVAILABLE = _plain(503, "temporarily unavailable\n", ((b"retry-after", b"5"),))


@dataclass(frozen=True)
class _CrlFile:
    stamp: tuple[int, int]  # (mtime_ns, size)
    body: bytes
    this_update: datetime
    next_update: datetime | None
    etag: bytes


def _safe_relative(parts: list[str]) -> bool:
    return bool(parts) and all(_SEGMENT.match(p) and ".." not in p for p in parts)


class StatusApp:
    """OCSP, CRLs and CA certificates. CRLs are read from disk and kept while the
    file's mtime and size do not change (a shard is at most the CRL byte budget); the
    CA certificates come from the inventory."""

    def __init__(
        self,
        inventory: Inventory,
        crl_dir: Path,
        *,
        ocsp: OcspResponder,
        acme: MountedApp | None = None,
        crl_cache_bytes: int = CRL_CACHE_BYTES,
    ) -> None:
        self.inventory = inventory
        self.acme = acme  # mounted under /acme/ by `certkeeper serve`
        self.crl_dir = crl_dir.resolve()
        self.ocsp = ocsp
        # by bytes: paths that name no file are cached too, and any client can ask for them
        self._crls: ByteBoundedCache[str, tuple[float, _CrlFile | None]] = ByteBoundedCache(
            crl_cache_bytes, lambda rel, item: len(rel) + (len(item[1].body) if item[1] else 0)
        )
        self._issuer_certs: dict[str, bytes] = {}
        self._issuers_loaded = -1e18

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        path: str = scope["path"]
        if self.acme is not None and self.acme.owns(path):
            await self.acme(scope, receive, send)
            return
        if self.ocsp.owns(path):
            await self.ocsp(scope, receive, send)
            return
        head = scope["method"] == "HEAD"
        try:
            answer = await self._files(scope["method"], path)
        except Exception:
            log.exception("status front end failed on %s", path)
            answer = UNAVAILABLE
        await send_answer(send, answer, head=head, scope=scope)

    async def _files(self, method: str, path: str) -> Answer:
        if method not in ("GET", "HEAD"):
            answer = METHOD_NOT_ALLOWED
        elif path.startswith("/crl/"):
            answer = await self._crl(path[5:])
        elif path.startswith("/issuers/"):
            answer = await self._issuer(path[9:])
        elif path == "/health":
            answer = Answer(
                200, ((b"content-type", b"text/plain"), (b"content-length", b"3")), b"ok\n"
            )
        else:
            answer = NOT_FOUND
        return answer

    # -- CRLs ------------------------------------------------------------------------

    async def _crl(self, rel: str) -> Answer:
        parts = rel.split("/")
        if not rel.endswith(".crl") or len(parts) > 2 or not _safe_relative(parts):
            return NOT_FOUND
        cached = self._crls.get(rel)
        now_mono = time.monotonic()
        if cached is None or cached[0] < now_mono:
            loop = asyncio.get_running_loop()
            previous = cached[1] if cached else None
            crl = await loop.run_in_executor(None, self._load_crl, rel, previous)
            self._crls.put(rel, (now_mono + CRL_CACHE_SECONDS, crl))
        else:
            crl = cached[1]
        if crl is None:
            return NOT_FOUND
        now = datetime.now(UTC)
        headers: list[tuple[bytes, bytes]] = [
            (b"content-type", CRL_TYPE),
            (b"content-length", str(len(crl.body)).encode()),
            (b"etag", crl.etag),
            (b"last-modified", _http_date(crl.this_update)),
        ]
        if crl.next_update is not None:
            max_age = int(min((crl.next_update - now).total_seconds(), MAX_AGE_CAP.total_seconds()))
            headers.append(
                (
                    b"cache-control",
                    b"max-age=%d, public, no-transform, must-revalidate" % max(0, max_age),
                )
            )
            headers.append((b"expires", _http_date(crl.next_update)))
        return Answer(200, tuple(headers), crl.body, crl.etag)

    def _load_crl(self, rel: str, previous: _CrlFile | None) -> _CrlFile | None:
        path = self.crl_dir / rel
        try:
            st = path.stat()
        except OSError:
            return None
        stamp = (st.st_mtime_ns, st.st_size)
        if previous is not None and previous.stamp == stamp:
            return previous
        try:
            body = path.read_bytes()
            crl = x509.load_der_x509_crl(body)
        except (OSError, ValueError):
            return None  # absent, being replaced, or not a CRL: never serve it
        return _CrlFile(
            stamp=stamp,
            body=body,
            this_update=crl.last_update_utc,
            next_update=crl.next_update_utc,
            etag=b'"' + hashlib.sha256(body).hexdigest().encode() + b'"',
        )

    # -- issuer certificates ---------------------------------------------------------

    async def _issuer(self, name: str) -> Answer:
        if time.monotonic() - self._issuers_loaded > ISSUER_CACHE_SECONDS:
            loop = asyncio.get_running_loop()
            self._issuer_certs = await loop.run_in_executor(None, self._load_issuers)
            self._issuers_loaded = time.monotonic()
        if not name.endswith(".der"):
            return NOT_FOUND
        der = self._issuer_certs.get(name[:-4])
        if der is None:
            return NOT_FOUND
        etag = b'"' + hashlib.sha256(der).hexdigest().encode() + b'"'
        headers = (
            (b"content-type", CERT_TYPE),
            (b"content-length", str(len(der)).encode()),
            (b"cache-control", b"max-age=%d, public" % int(timedelta(days=1).total_seconds())),
            (b"etag", etag),
        )
        return Answer(200, headers, der, etag)

    def _load_issuers(self) -> dict[str, bytes]:
        """CA certificates (root and issuing CAs): what AIA caIssuers URLs point at."""
        return {
            rec.name: rec.cert_der
            for rec in self.inventory.issuers()
            if rec.role in ("root", "issuing")
        }
