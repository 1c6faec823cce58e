"""A small asynchronous ACME (RFC 8555) client for load generation.

Many of these share one event loop, so a benchmark can keep N orders in flight from
one process without threads. Each client keeps one HTTP/1.1 keep-alive connection
(h11 over asyncio streams; TLS when the directory is https://), an ES256 account key,
and follows the protocol the way real clients do: a fresh nonce from every response,
one retry on badNonce, POST-as-GET for every resource, polling with a short interval.
It also speaks ARI (RFC 9773): renewal-info lookups and the `replaces` field.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import hashlib
import json
import ssl
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlsplit

import h11
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.hazmat.primitives.asymmetric.utils import decode_dss_signature

JOSE = "application/jose+json"


class AcmeError(Exception):
    """The server answered with a problem document, or an object ended invalid."""

    def __init__(self, status: int, problem: dict[str, Any], where: str) -> None:
        self.status = status
        self.problem = problem
        kind = str(problem.get("type", "")).rsplit(":", 1)[-1]
        super().__init__(f"{where}: {status} {kind}: {problem.get('detail', '')}")


def b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


@dataclass(frozen=True)
class Response:
    status: int
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else {}


class HttpConnection:
    """One keep-alive HTTP/1.1 connection, reopened when the server closes it."""

    def __init__(self, scheme: str, host: str, port: int, tls: ssl.SSLContext | None) -> None:
        self._scheme, self._host, self._port, self._tls = scheme, host, port, tls
        self._reader: asyncio.StreamReader | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._conn = h11.Connection(h11.CLIENT)

    async def _open(self) -> None:
        context = self._tls if self._scheme == "https" else None
        self._reader, self._writer = await asyncio.open_connection(
            self._host, self._port, ssl=context
        )
        self._conn = h11.Connection(h11.CLIENT)

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await self._writer.wait_closed()
        self._reader = self._writer = None

    async def request(
        self, method: str, target: str, body: bytes = b"", content_type: str = ""
    ) -> Response:
        for attempt in (1, 2):
            if self._writer is None or self._conn.our_state is not h11.IDLE:
                await self.close()
                await self._open()
            try:
                return await self._exchange(method, target, body, content_type)
            except (ConnectionError, asyncio.IncompleteReadError, h11.RemoteProtocolError):
                # A keep-alive connection the server closed while idle: retry once, fresh.
                await self.close()
                if attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, method: str, target: str, body: bytes, content_type: str) -> Response:
        assert self._reader is not None and self._writer is not None
        headers = [
            ("Host", f"{self._host}:{self._port}"),
            ("User-Agent", "certkeeper-acme-bench/1"),
            ("Content-Length", str(len(body))),
        ]
        if content_type:
            headers.append(("Content-Type", content_type))
        out = self._conn.send(h11.Request(method=method, target=target, headers=headers))
        out += self._conn.send(h11.Data(data=body)) if body else b""
        out += self._conn.send(h11.EndOfMessage())
        self._writer.write(out)
        await self._writer.drain()
        status = 0
        response_headers: dict[str, str] = {}
        chunks: list[bytes] = []
        while True:
            event = self._conn.next_event()
            if event is h11.NEED_DATA:
                data = await self._reader.read(65536)
                if not data and self._conn.their_state is not h11.DONE:
                    raise ConnectionError("server closed the connection mid-response")
                self._conn.receive_data(data)
                continue
            if isinstance(event, h11.Response):
                status = event.status_code
                for name, value in event.headers:
                    key = name.decode("latin-1").lower()
                    text = value.decode("latin-1")
                    # Several Link headers: keep them all, comma-joined (RFC 9110 5.3).
                    response_headers[key] = (
                        f"{response_headers[key]}, {text}" if key in response_headers else text
                    )
            elif isinstance(event, h11.Data):
                chunks.append(bytes(event.data))
            elif isinstance(event, h11.EndOfMessage):
                break
            elif isinstance(event, h11.ConnectionClosed):
                raise ConnectionError("server closed the connection")
        if self._conn.our_state is h11.MUST_CLOSE or self._conn.their_state is h11.MUST_CLOSE:
            await self.close()
        else:
            self._conn.start_next_cycle()
        return Response(status, response_headers, b"".join(chunks))


@dataclass
class Timings:
    """Seconds spent in each phase of one order (for the benchmark's latency split)."""

    new_order: float = 0.0
    validation: float = 0.0
    finalize: float = 0.0
    download: float = 0.0

    @property
    def total(self) -> float:
        return self.new_order + self.validation + self.finalize + self.download


@dataclass
class Issued:
    names: list[str]
    order_url: str
    certificate_url: str
    chain_pem: bytes
    timings: Timings = field(default_factory=Timings)

    @property
    def certificate(self) -> x509.Certificate:
        return x509.load_pem_x509_certificates(self.chain_pem)[0]


# Publishes a challenge response: (challenge type, name, token, key authorization).
Responder = Callable[[str, str, str, str], Awaitable[None]]


class AcmeClient:
    """One ACME account talking to one server over one connection."""

    def __init__(
        self,
        directory_url: str,
        *,
        tls: ssl.SSLContext | None = None,
        poll_interval: float = 0.05,
        max_poll_interval: float = 1.0,
        timeout: float = 60.0,
    ) -> None:
        parts = urlsplit(directory_url)
        self.directory_url = directory_url
        self._http = HttpConnection(
            parts.scheme,
            parts.hostname or "127.0.0.1",
            parts.port or (443 if parts.scheme == "https" else 80),
            tls,
        )
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._poll = poll_interval
        self._max_poll = max_poll_interval
        self.requests = 0  # HTTP requests sent, for requests-per-order figures
        self._timeout = timeout
        self._key = ec.generate_private_key(ec.SECP256R1())
        numbers = self._key.public_key().public_numbers()
        self.jwk = {
            "crv": "P-256",
            "kty": "EC",
            "x": b64url(numbers.x.to_bytes(32, "big")),
            "y": b64url(numbers.y.to_bytes(32, "big")),
        }
        canonical = json.dumps(self.jwk, sort_keys=True, separators=(",", ":")).encode()
        self.thumbprint = b64url(hashlib.sha256(canonical).digest())
        self.directory: dict[str, Any] = {}
        self.account_url = ""
        self._nonce = ""

    async def close(self) -> None:
        await self._http.close()

    def _target(self, url: str) -> str:
        if not url.startswith(self._origin):
            raise ValueError(f"{url} is not on the directory's origin {self._origin}")
        return url[len(self._origin) :] or "/"

    async def get(self, url: str) -> Response:
        self.requests += 1
        response = await self._http.request("GET", self._target(url))
        self._remember_nonce(response)
        return response

    def _remember_nonce(self, response: Response) -> None:
        nonce = response.headers.get("replay-nonce")
        if nonce:
            self._nonce = nonce

    async def start(self) -> None:
        response = await self.get(self.directory_url)
        if response.status != 200:
            raise AcmeError(response.status, _problem(response), "directory")
        self.directory = response.json()

    async def _fresh_nonce(self) -> str:
        if not self._nonce:
            self.requests += 1
            response = await self._http.request("HEAD", self._target(self.directory["newNonce"]))
            self._remember_nonce(response)
            if not self._nonce:
                raise AcmeError(response.status, {"detail": "no Replay-Nonce"}, "newNonce")
        nonce, self._nonce = self._nonce, ""
        return nonce

    def _jws(self, url: str, payload: Any, nonce: str, use_jwk: bool) -> bytes:
        protected: dict[str, Any] = {"alg": "ES256", "nonce": nonce, "url": url}
        if use_jwk:
            protected["jwk"] = self.jwk
        else:
            protected["kid"] = self.account_url
        protected64 = b64url(json.dumps(protected).encode())
        payload64 = "" if payload is None else b64url(json.dumps(payload).encode())
        der = self._key.sign(f"{protected64}.{payload64}".encode(), ec.ECDSA(hashes.SHA256()))
        r, s = decode_dss_signature(der)
        signature = b64url(r.to_bytes(32, "big") + s.to_bytes(32, "big"))
        body = {"protected": protected64, "payload": payload64, "signature": signature}
        return json.dumps(body).encode()

    async def post(
        self, url: str, payload: Any, *, use_jwk: bool = False, where: str = ""
    ) -> Response:
        """A signed POST (payload None: POST-as-GET); one retry on badNonce (RFC 8555 6.5)."""
        for attempt in (1, 2):
            body = self._jws(url, payload, await self._fresh_nonce(), use_jwk)
            self.requests += 1
            response = await self._http.request("POST", self._target(url), body, JOSE)
            self._remember_nonce(response)
            if response.status < 400:
                return response
            problem = _problem(response)
            if attempt == 1 and str(problem.get("type", "")).endswith(":badNonce"):
                continue
            raise AcmeError(response.status, problem, where or url)
        raise AssertionError("unreachable")

    async def register(self, contacts: list[str] | None = None) -> str:
        payload: dict[str, Any] = {"termsOfServiceAgreed": True}
        if contacts:
            payload["contact"] = contacts
        response = await self.post(
            self.directory["newAccount"], payload, use_jwk=True, where="newAccount"
        )
        self.account_url = response.headers["location"]
        return self.account_url

    def key_authorization(self, token: str) -> str:
        return f"{token}.{self.thumbprint}"

    @staticmethod
    def dns_txt_value(key_authorization: str) -> str:
        return b64url(hashlib.sha256(key_authorization.encode()).digest())

    async def _wait(self, url: str, pending: set[str], where: str) -> dict[str, Any]:
        """Poll until the object leaves `pending`: an eager first look, then exponential
        backoff up to `max_poll_interval` (and never longer than the server's Retry-After),
        so a server is not judged by how cheaply it answers needless polls."""
        deadline = time.monotonic() + self._timeout
        interval = self._poll
        while True:
            response = await self.post(url, None, where=where)
            body: dict[str, Any] = response.json()
            if body.get("status") not in pending:
                return body
            if time.monotonic() > deadline:
                raise AcmeError(0, {"detail": f"still {body.get('status')}"}, where)
            retry_after = response.headers.get("retry-after", "")
            cap = self._max_poll
            if retry_after.isdigit():
                cap = min(cap, float(retry_after))
            await asyncio.sleep(min(interval, cap))
            interval *= 2

    async def issue(
        self,
        names: list[str],
        csr_der: bytes,
        respond: Responder,
        *,
        challenge_type: str = "http-01",
        replaces: str | None = None,
    ) -> Issued:
        """new order -> answer every pending authorization -> finalize -> download."""
        timings = Timings()
        start = time.perf_counter()
        payload: dict[str, Any] = {"identifiers": [{"type": "dns", "value": n} for n in names]}
        if replaces:
            payload["replaces"] = replaces
        response = await self.post(self.directory["newOrder"], payload, where="newOrder")
        order_url = response.headers["location"]
        order: dict[str, Any] = response.json()
        mark = time.perf_counter()
        timings.new_order = mark - start

        authz_urls: list[str] = order["authorizations"]
        answered: list[str] = []
        for authz_url in authz_urls:
            authz = (await self.post(authz_url, None, where="authorization")).json()
            if authz.get("status") == "valid":
                continue
            chosen = [c for c in authz["challenges"] if c["type"] == challenge_type]
            if not chosen:
                offered = [c["type"] for c in authz["challenges"]]
                raise AcmeError(0, {"detail": f"{challenge_type} not offered: {offered}"}, "authz")
            challenge = chosen[0]
            key_auth = self.key_authorization(challenge["token"])
            await respond(
                challenge_type, authz["identifier"]["value"], challenge["token"], key_auth
            )
            await self.post(challenge["url"], {}, where="challenge")
            answered.append(authz_url)
        for authz_url in answered:
            authz = await self._wait(authz_url, {"pending"}, "authorization")
            if authz.get("status") != "valid":
                problems = [c.get("error", {}) for c in authz.get("challenges", [])]
                error = next((p for p in problems if p), {"detail": authz.get("status")})
                raise AcmeError(0, error, f"authorization {authz['identifier']['value']}")
        now = time.perf_counter()
        timings.validation, mark = now - mark, now

        order = await self._wait(order_url, {"pending"}, "order")
        if order.get("status") != "ready":
            raise AcmeError(0, order.get("error", {"detail": order.get("status")}), "order")
        finalized = await self.post(order["finalize"], {"csr": b64url(csr_der)}, where="finalize")
        order = finalized.json()
        if order.get("status") != "valid":
            order = await self._wait(order_url, {"processing", "ready"}, "order")
        if order.get("status") != "valid":
            raise AcmeError(0, order.get("error", {"detail": order.get("status")}), "finalize")
        now = time.perf_counter()
        timings.finalize, mark = now - mark, now

        certificate_url: str = order["certificate"]
        chain = (await self.post(certificate_url, None, where="certificate")).body
        timings.download = time.perf_counter() - mark
        return Issued(names, order_url, certificate_url, chain, timings)

    async def renewal_info(self, certificate: x509.Certificate) -> tuple[dict[str, Any], str]:
        """The server's suggested window (RFC 9773 4.2) and its Retry-After header."""
        base = self.directory.get("renewalInfo")
        if not base:
            raise AcmeError(0, {"detail": "the directory has no renewalInfo"}, "renewalInfo")
        response = await self.get(f"{base.rstrip('/')}/{ari_cert_id(certificate)}")
        if response.status != 200:
            raise AcmeError(response.status, _problem(response), "renewalInfo")
        return response.json(), response.headers.get("retry-after", "")

    async def revoke(self, certificate: x509.Certificate, reason: int | None = None) -> None:
        payload: dict[str, Any] = {
            "certificate": b64url(certificate.public_bytes(serialization.Encoding.DER))
        }
        if reason is not None:
            payload["reason"] = reason
        await self.post(self.directory["revokeCert"], payload, where="revokeCert")


def ari_cert_id(certificate: x509.Certificate) -> str:
    """The RFC 9773 4.1 certID of a certificate (its AKI keyIdentifier and serial)."""
    aki = certificate.extensions.get_extension_for_class(x509.AuthorityKeyIdentifier)
    key_id = aki.value.key_identifier
    if key_id is None:
        raise ValueError("the certificate's AKI has no keyIdentifier")
    return cert_id_text(key_id, certificate.serial_number)


def cert_id_text(key_identifier: bytes, serial: int) -> str:
    """RFC 9773 4.1: base64url(keyIdentifier) "." base64url(the serial's DER INTEGER
    content octets: minimal two's complement, so a leading 0x00 when the top bit is set)."""
    if serial < 0:
        raise ValueError("certificate serial numbers are positive")
    serial_bytes = serial.to_bytes(serial.bit_length() // 8 + 1, "big")
    return f"{b64url(key_identifier)}.{b64url(serial_bytes)}"


def _problem(response: Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {"detail": response.body[:200].decode("utf-8", "replace")}
    return body if isinstance(body, dict) else {"detail": str(body)}


class ChallengeServer:
    """An http-01 responder (RFC 8555 8.3) on loopback, shared by every client of a run.

    Serves /.well-known/acme-challenge/<token> from a dict; keep-alive HTTP/1.1 via h11.
    """

    PREFIX = "/.well-known/acme-challenge/"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self.host, self.port = host, port
        self.tokens: dict[str, str] = {}
        self.requests = 0
        self._server: asyncio.Server | None = None

    async def __aenter__(self) -> ChallengeServer:
        self._server = await asyncio.start_server(self._serve, self.host, self.port)
        self.port = self._server.sockets[0].getsockname()[1]
        return self

    async def __aexit__(self, *exc: object) -> None:
        if self._server is not None:
            self._server.close()
            await self._server.wait_closed()

    async def respond(self, challenge_type: str, name: str, token: str, key_auth: str) -> None:
        if challenge_type != "http-01":
            raise ValueError(f"this responder serves http-01 only, not {challenge_type}")
        self.tokens[token] = key_auth

    async def _serve(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        conn = h11.Connection(h11.SERVER)
        try:
            while True:
                event = conn.next_event()
                if event is h11.NEED_DATA:
                    data = await reader.read(65536)
                    conn.receive_data(data)
                    if not data:
                        break
                    continue
                if isinstance(event, h11.Request):
                    self.requests += 1
                    target = event.target.decode("latin-1")
                    token = target[len(self.PREFIX) :] if target.startswith(self.PREFIX) else ""
                    body = self.tokens.get(token, "").encode()
                    status = 200 if body else 404
                    headers = [("Content-Type", "text/plain"), ("Content-Length", str(len(body)))]
                    out = conn.send(h11.Response(status_code=status, headers=headers))
                    out += conn.send(h11.Data(data=body)) if body else b""
                    writer.write(out)
                elif isinstance(event, h11.EndOfMessage):
                    writer.write(conn.send(h11.EndOfMessage()))
                    await writer.drain()
                    if conn.our_state is h11.MUST_CLOSE:
                        break
                    conn.start_next_cycle()
                elif isinstance(event, h11.ConnectionClosed):
                    break
        except (ConnectionError, h11.ProtocolError):
            pass
        finally:
            writer.close()
