"""The ACME server as a raw ASGI application, under /acme/ (directory: /acme/directory).

The shell only reads the request (bounded by `max_request_bytes`: 413 problem beyond;
and by `body_seconds` for the whole body: 408 problem beyond, `certkeeper.http_limits`),
runs `service.handle` in a worker thread (database, signing and validation block), and
writes the response. State lives in the database, so any number of processes can serve
the same CA.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from certkeeper.acme.context import PREFIX, Acme, AcmeCa, Request, Response
from certkeeper.acme.problems import AcmeProblem
from certkeeper.acme.ratelimits import registered_domain
from certkeeper.acme.service import carries_nonce, handle, problem_response
from certkeeper.http_limits import (
    BodyAborted,
    BodyTimeout,
    BodyTooLarge,
    ServerLimits,
    read_body,
)
from certkeeper.lint.engine import CertType
from certkeeper.status.responder import Receive, Scope, Send, _lifespan

log = logging.getLogger("certkeeper.acme")


class AcmeApp:
    """The ACME server of one CA (`wiring.build`), as an ASGI app."""

    def __init__(
        self,
        ca: AcmeCa,
        *,
        workers: int = 16,
        warm: bool = True,
        body_seconds: float = ServerLimits().body_seconds,
    ) -> None:
        self.acme = Acme(ca)
        self.max_body = self.acme.settings.max_request_bytes
        self.body_seconds = body_seconds
        self._pool = ThreadPoolExecutor(max_workers=workers, thread_name_prefix="acme")
        if warm:
            threading.Thread(target=self._warm, name="acme-warm", daemon=True).start()

    def _warm(self) -> None:
        """Load the Public Suffix List (rate limits, preflight) and build the linters'
        validators now, not in the first requests: together they take seconds, which
        would otherwise land on the first subscribers."""
        try:
            registered_domain("warm-up.example.com")
            self.acme.validator.preflight("warm-up.example.com", wildcard=False)
            gate = self.acme.gate
            issuers = self.acme.ca.stores.inventory.issuers(role="issuing")
            if gate.pkilint is not None and issuers:
                for cert_type in (CertType.PRECERTIFICATE, CertType.SUBSCRIBER):
                    gate.pkilint.lint_certificate(issuers[0].cert_der, cert_type)
        except Exception:  # a failed warm-up only costs the first requests their time
            log.warning("warm-up failed", exc_info=True)

    def owns(self, path: str) -> bool:
        return path == PREFIX or path.startswith(PREFIX + "/")

    def close(self) -> None:
        self._pool.shutdown(wait=False)
        self.acme.close()

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await _lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        try:
            request_or_response = await self._read(scope, receive)
            if isinstance(request_or_response, Response):
                response = request_or_response
                path = scope["path"][len(PREFIX) :] or "/"
                if carries_nonce(scope["method"], path):
                    response.headers.append(("Replay-Nonce", self.acme.nonces.issue()))
                response.headers.append(("Cache-Control", "no-store"))
            else:
                loop = asyncio.get_running_loop()
                response = await loop.run_in_executor(
                    self._pool, handle, self.acme, request_or_response
                )
        except Exception:  # never a bare 500: a problem document, logged
            log.exception("ACME front end failed on %s", scope.get("path"))
            response = problem_response(
                AcmeProblem("serverInternal", "the server failed to handle the request")
            )
        await _send(send, response, head=scope["method"] == "HEAD")

    async def _read(self, scope: Scope, receive: Receive) -> Request | Response:
        headers: dict[str, str] = {}
        for name, value in scope.get("headers", ()):
            headers[name.decode("latin-1").lower()] = value.decode("latin-1")
        path: str = scope["path"]
        if not self.owns(path):
            return problem_response(AcmeProblem("malformed", "not an ACME path", status=404))
        declared = headers.get("content-length", "")
        if declared.isdigit() and int(declared) > self.max_body:
            return _too_large(self.max_body)
        try:
            body = await read_body(receive, self.max_body, self.body_seconds)
        except BodyTooLarge:
            return _too_large(self.max_body)
        except BodyTimeout:
            return problem_response(
                AcmeProblem(
                    "malformed",
                    f"the request body did not arrive within {self.body_seconds:g} seconds",
                    status=408,
                    headers=(("Connection", "close"),),
                )
            )
        except BodyAborted:
            body = b""  # nobody is left to answer
        client = scope.get("client")
        return Request(
            method=scope["method"],
            path=path[len(PREFIX) :] or "/",
            headers=headers,
            body=body,
            base_url=_base_url(scope, headers),
            client_ip=str(client[0]) if client else None,
        )


def _too_large(limit: int) -> Response:
    return problem_response(
        AcmeProblem("malformed", f"the request body exceeds {limit} octets", status=413)
    )


def _base_url(scope: Scope, headers: dict[str, str]) -> str:
    scheme = scope.get("scheme", "http")
    host = headers.get("host")
    if not host:
        server: Any = scope.get("server")
        host = f"{server[0]}:{server[1]}" if server else "localhost"
    return f"{scheme}://{host}"


async def _send(send: Send, response: Response, *, head: bool) -> None:
    headers = [(k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in response.headers]
    if response.content_type:
        headers.append((b"content-type", response.content_type.encode()))
    headers.append((b"content-length", str(len(response.body)).encode()))
    await send({"type": "http.response.start", "status": response.status, "headers": headers})
    await send({"type": "http.response.body", "body": b"" if head else response.body})
