"""The remote network perspective service (`certkeeper serve va-remote`), a raw ASGI app.

BR 3.2.2.9: a remote Network Perspective repeats the primary's challenge check and CAA
lookup from its own place in the network, with its own resolver (no shared DNS cache),
and talks to the CA only over an authenticated, encrypted channel. The server in front
of this app terminates TLS 1.3 and requires a client certificate from the private mTLS
CA; the app itself refuses anything that did not arrive over TLS, so a misconfigured
plain-HTTP listener answers nothing useful.

    POST /v1/challenge   ChallengeAttempt JSON -> {"perspective", "region", "result": CheckResult}
    POST /v1/caa         CaaQuery JSON         -> {"perspective", "region", "result": CaaResult}
    GET  /v1/health      -> {"status": "ok", "perspective", "region"}
"""

from __future__ import annotations

import asyncio
import json
import logging
import os
import time
from collections.abc import Awaitable, Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, replace
from typing import Any

from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.model import CaaResult, ChallengeAttempt, CheckResult
from certkeeper.validation.remote_requests import (
    MAX_BODY_BYTES,
    BadRequest,
    CaaQuery,
    parse_attempt,
    parse_caa_query,
)

log = logging.getLogger("certkeeper.va_remote")

CONFIG_ENV = "CERTKEEPER_VA_REMOTE"
PROBLEM_BASE = "urn:certkeeper:va-remote:"

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]


@dataclass(frozen=True)
class RemoteConfig:
    """Who this perspective is and how it reaches the network."""

    name: str
    region: str
    validation: ValidationSettings
    workers: int = 64  # checks running at once; each is bounded by the check timeout

    def to_env(self) -> str:
        v = self.validation
        return json.dumps(
            {
                "name": self.name,
                "region": self.region,
                "resolver": v.resolver,
                "http_port": v.http_port,
                "tls_alpn_port": v.tls_alpn_port,
                "timeout_seconds": v.timeout_seconds,
                "private_addresses": v.private_addresses,
                "redirect_ports": list(v.redirect_ports),
                "workers": self.workers,
            }
        )

    @classmethod
    def from_env(cls, text: str) -> RemoteConfig:
        data = json.loads(text)
        return cls(
            name=str(data["name"]),
            region=str(data["region"]),
            validation=ValidationSettings(
                http_port=int(data["http_port"]),
                tls_alpn_port=int(data["tls_alpn_port"]),
                resolver=str(data["resolver"]),
                timeout_seconds=float(data["timeout_seconds"]),
                private_addresses=bool(data["private_addresses"]),
                redirect_ports=tuple(int(p) for p in data["redirect_ports"]),
                mpic_required=False,
            ),
            workers=int(data["workers"]),
        )


class Problem(Exception):
    """An RFC 7807 problem document to send instead of an answer."""

    def __init__(self, status: int, kind: str, detail: str) -> None:
        super().__init__(detail)
        self.status = status
        self.kind = kind
        self.detail = detail


class RemoteApp:
    """Runs the VA's own checks for the primary; one thread per check in flight."""

    def __init__(self, config: RemoteConfig) -> None:
        self.config = config
        self._pool: ThreadPoolExecutor | None = None

    @property
    def pool(self) -> ThreadPoolExecutor:
        if self._pool is None:
            self._pool = ThreadPoolExecutor(
                max_workers=self.config.workers, thread_name_prefix="va-remote"
            )
        return self._pool

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        started = time.monotonic()
        try:
            status, body = await self._route(scope, receive)
            content_type = b"application/json"
        except Problem as problem:
            status, body = problem.status, self._problem_body(problem)
            content_type = b"application/problem+json"
            log.info("refused %s %s: %s", scope.get("method"), scope.get("path"), problem.detail)
        except Exception:
            # A defect: log it here, answer with a problem document, never a traceback.
            log.exception("va-remote failed on %s", scope.get("path"))
            internal = Problem(500, "serverInternal", "the perspective failed to answer")
            status, body = 500, self._problem_body(internal)
            content_type = b"application/problem+json"
        headers = [
            (b"content-type", content_type),
            (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]
        await send({"type": "http.response.start", "status": status, "headers": headers})
        await send({"type": "http.response.body", "body": body})
        log.debug(
            "%s %s %d %.3fs",
            scope.get("method"),
            scope.get("path"),
            status,
            time.monotonic() - started,
        )

    async def _route(self, scope: Scope, receive: Receive) -> tuple[int, bytes]:
        if scope.get("scheme") != "https":
            raise Problem(403, "unauthorized", "remote perspectives answer only over mutual TLS")
        path, method = scope.get("path", ""), scope.get("method", "")
        if path == "/v1/health":
            if method not in ("GET", "HEAD"):
                raise Problem(405, "malformed", f"{method} is not allowed on {path}")
            return 200, self._json({"status": "ok", **self._who()})
        if path not in ("/v1/challenge", "/v1/caa"):
            raise Problem(404, "notFound", f"no such endpoint: {path[:100]}")
        if method != "POST":
            raise Problem(405, "malformed", f"{method} is not allowed on {path}")
        data = await self._read_json(scope, receive)
        started = time.monotonic()
        result: CheckResult | CaaResult
        try:
            if path == "/v1/challenge":
                attempt = parse_attempt(data)
                result = await self._run(_check_challenge, attempt, self.config.validation)
            else:
                query = parse_caa_query(data)
                result = await self._run(_check_caa, query, self.config.validation)
        except BadRequest as exc:
            raise Problem(400, "malformed", str(exc)) from None
        return 200, self._json(
            {
                **self._who(),
                "result": result.to_json(),
                "seconds": round(time.monotonic() - started, 3),
            }
        )

    async def _run(
        self, fn: Callable[[Any, ValidationSettings], Any], arg: Any, settings: ValidationSettings
    ) -> Any:
        """Run a blocking check in the pool, with a backstop beyond its own timeout."""
        loop = asyncio.get_running_loop()
        backstop = settings.timeout_seconds * 3 + 5
        try:
            return await asyncio.wait_for(
                loop.run_in_executor(self.pool, fn, arg, settings), backstop
            )
        except TimeoutError:
            raise Problem(
                504, "serverInternal", f"the check did not finish within {backstop:.0f}s"
            ) from None

    async def _read_json(self, scope: Scope, receive: Receive) -> Any:
        headers = dict(scope.get("headers") or [])
        ctype = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if ctype != b"application/json":
            raise Problem(415, "malformed", "the body must be application/json")
        declared = headers.get(b"content-length")
        if declared is not None and (not declared.isdigit() or int(declared) > MAX_BODY_BYTES):
            raise Problem(413, "malformed", f"the body is larger than {MAX_BODY_BYTES} bytes")
        chunks: list[bytes] = []
        size = 0
        while True:
            message = await receive()
            if message["type"] == "http.disconnect":
                raise Problem(400, "malformed", "the client went away")
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                raise Problem(413, "malformed", f"the body is larger than {MAX_BODY_BYTES} bytes")
            chunks.append(chunk)
            if not message.get("more_body"):
                break
        try:
            return json.loads(b"".join(chunks))
        except (UnicodeDecodeError, json.JSONDecodeError) as exc:
            raise Problem(400, "malformed", f"the body is not JSON: {exc}") from None

    def _who(self) -> dict[str, str]:
        return {"perspective": self.config.name, "region": self.config.region}

    @staticmethod
    def _json(data: dict[str, Any]) -> bytes:
        return json.dumps(data, separators=(",", ":")).encode()

    def _problem_body(self, problem: Problem) -> bytes:
        return self._json(
            {
                "type": PROBLEM_BASE + problem.kind,
                "title": problem.kind,
                "status": problem.status,
                "detail": problem.detail,
                "perspective": self.config.name,
            }
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                if self._pool is not None:
                    self._pool.shutdown(wait=False, cancel_futures=True)
                await send({"type": "lifespan.shutdown.complete"})
                return


def _check_challenge(attempt: ChallengeAttempt, settings: ValidationSettings) -> CheckResult:
    from certkeeper.validation.challenges import check_challenge

    result: CheckResult = check_challenge(attempt, settings)
    return result


def _check_caa(query: CaaQuery, settings: ValidationSettings) -> CaaResult:
    """The CAA identities are the primary's: a perspective checks for the CA that asks."""
    from certkeeper.validation.caa import check_caa

    own = replace(settings, caa_identities=query.caa_identities)
    result: CaaResult = check_caa(
        query.fqdn,
        wildcard=query.wildcard,
        account_uri=query.account_uri,
        method=query.method,
        settings=own,
    )
    return result


def app_from_environment() -> RemoteApp:
    """Factory for the server's worker processes: the config travels in the environment."""
    text = os.environ.get(CONFIG_ENV)
    if not text:
        raise RuntimeError(f"{CONFIG_ENV} is not set; start with `certkeeper serve va-remote`")
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    return RemoteApp(RemoteConfig.from_env(text))
