"""A CA home with issued, revoked and unused serials and published CRLs, and the
responders the status audits are tested against: ours (`certkeeper serve` in a
subprocess) and ours behind a wrapper that answers chosen serials with hand-made
responses (an in-process uvicorn server on a free loopback port)."""

from __future__ import annotations

import http.client
import os
import socket
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import uvicorn
from cryptography import x509
from cryptography.hazmat.primitives import serialization

from certkeeper import wiring
from certkeeper.ca.home import CaHome
from certkeeper.issuance.csr import load_csr
from certkeeper.issuance.serials import new_serial, serial_hex, shard_for
from certkeeper.issuance.service import IssueRequest
from certkeeper.revocation.reasons import CrlReason
from certkeeper.status.http import StatusApp
from certkeeper.status.responder import OcspResponder
from certkeeper.wiring import issuance_service
from certkeeper.x509 import der
from certkeeper.x509.ocsp import ResponseTemplate, decode_get_path, parse_request
from factories import PASSPHRASE, csr_pem, make_home

ISSUER = "tls-ecdsa-1"
RESPONDER = "ocsp-ecdsa-1"


@dataclass
class World:
    home: Path
    issued: list[str]  # hex serials with a precertificate (and certificate)
    revoked: list[str]
    unused: str  # assigned, never signed for
    issuer_der: bytes
    cert_files: Path  # DER files of the issued certificates, for --certs
    precert_files: Path  # their precertificates, PEM and DER mixed
    issuer_file: Path
    crl_before: Path  # the CRLs as published before the revocations
    extra: dict[str, Any] = field(default_factory=dict)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def build_world(root: Path, count: int = 6) -> World:
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    home = make_home(root / "home")
    ca = CaHome.open(home)
    try:
        service = issuance_service(ca)
        certs_dir = root / "certs"
        certs_dir.mkdir()
        precerts_dir = root / "precerts"
        precerts_dir.mkdir()
        issued = []
        for i in range(count):
            got = service.issue(
                IssueRequest(load_csr(csr_pem([f"a{i}.audit.example.com"])), "tls-dv-ecdsa")
            )
            issued.append(got.serial)
            record = ca.inventory.certificate(serial=got.serial)
            (certs_dir / f"{i}.der").write_bytes(record.der)
            pre = ca.inventory.precertificate(got.serial).der
            if i % 2:
                (precerts_dir / f"{i}.der").write_bytes(pre)
            else:
                pem = x509.load_der_x509_certificate(pre).public_bytes(serialization.Encoding.PEM)
                (precerts_dir / f"{i}.pem").write_bytes(pem)
        now = datetime.now(UTC).replace(microsecond=0)
        wiring.build(ca).crl.publish(root / "crl-before", now)
        wiring.build(ca).revocation.revoke(
            issued[0], CrlReason.keyCompromise, now=now, revoked_at=now - timedelta(hours=1)
        )
        wiring.build(ca).revocation.revoke(issued[1], CrlReason.unspecified, now=now)
        issuer = ca.inventory.issuer_by_name(ISSUER)
        serial = new_serial()
        ca.inventory.assign_serial(
            serial_hex(serial),
            int(issuer.id or 0),
            "tls-dv-ecdsa",
            ca.profiles.get("tls-dv-ecdsa").version,
            shard_for(serial, ca.config.crl_shards),
            now,
        )
        wiring.build(ca).crl.publish(ca.config.crl_dir, now)
        issuer_file = root / "issuer.der"
        issuer_file.write_bytes(issuer.cert_der)
        return World(
            home=home,
            issued=issued,
            revoked=issued[:2],
            unused=serial_hex(serial),
            issuer_der=issuer.cert_der,
            cert_files=certs_dir,
            precert_files=precerts_dir,
            issuer_file=issuer_file,
            crl_before=root / "crl-before",
        )
    finally:
        ca.close()


@contextmanager
def serve_subprocess(home: Path) -> Iterator[str]:
    """`certkeeper serve` (granian, one worker) on a free port; yields the base URL."""
    port = free_port()
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": ""}
    proc = subprocess.Popen(
        [sys.executable, "-m", "certkeeper", "serve", "--home", str(home), "--port", str(port)],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
    )
    try:
        _wait_health(port, lambda: proc.poll() is not None)
        yield f"http://127.0.0.1:{port}"
    finally:
        proc.terminate()
        try:
            proc.wait(10)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()


def _wait_health(port: int, dead: Any) -> None:
    deadline = time.monotonic() + 30
    while True:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/health")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        if dead() or time.monotonic() > deadline:
            raise RuntimeError(f"server on port {port} did not start")
        time.sleep(0.1)


class OverridingResponder:
    """Our StatusApp, except for the serials `decide` returns an answer for: the DER of
    an OCSP response, or an int (an HTTP status to answer with, no body)."""

    def __init__(self, inner: Any, decide: Callable[[int], bytes | int | None]) -> None:
        self.inner = inner
        self.decide = decide
        self.requests = 0

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        if scope["type"] != "http" or not scope["path"].startswith("/ocsp"):
            await self.inner(scope, receive, send)
            return
        body = b""
        if scope["method"] == "POST":
            more = True
            while more:
                message = await receive()
                body += message.get("body", b"")
                more = message.get("more_body", False)
            request = body
        else:
            request = decode_get_path(scope["path"][len("/ocsp/") :])
        self.requests += 1
        serial = parse_request(request).cert_ids[0].serial_number
        answer = self.decide(serial)
        if isinstance(answer, int):
            await send({"type": "http.response.start", "status": answer, "headers": []})
            await send({"type": "http.response.body", "body": b""})
            return
        if answer is not None:
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/ocsp-response"),
                        (b"content-length", str(len(answer)).encode()),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": answer})
            return
        sent = False

        async def replay() -> dict[str, Any]:
            nonlocal sent
            if not sent:
                sent = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()  # type: ignore[no-any-return]

        await self.inner(scope, replay, send)


@contextmanager
def serve_in_thread(app: Any) -> Iterator[str]:
    """An ASGI app under uvicorn in a thread on a free port; yields the base URL."""
    port = free_port()
    config = uvicorn.Config(
        app, host="127.0.0.1", port=port, log_level="warning", lifespan="off", loop="asyncio"
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    try:
        _wait_health(port, lambda: not thread.is_alive())
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(10)


def status_app(home: Path) -> StatusApp:
    ca = CaHome.open(home)
    return StatusApp(ca.inventory, ca.config.home / "crl", ocsp=OcspResponder(ca.stores.ocsp))


def _gtime(moment: datetime, fraction: str = "") -> bytes:
    text = moment.strftime("%Y%m%d%H%M%S") + fraction + "Z"
    return der.tlv(der.GENERALIZED_TIME, text.encode())


GOOD = b"\x80\x00"
UNKNOWN = b"\x82\x00"


class HandMade:
    """Responses signed properly by the home's delegated ECDSA responder, with any
    certStatus encoding (good `80 00`, unknown `82 00`, revoked `a1 ...`) and, when
    `fraction` is given (".5"), fractional seconds in every time: what seed 001's
    responder sent."""

    def __init__(self, home: Path) -> None:
        ca = CaHome.open(home)
        try:
            issuer = ca.inventory.issuer_by_name(ISSUER)
            responder = ca.inventory.issuer_by_name(RESPONDER)
            self.signer = ca.signer(responder)
            self.template = ResponseTemplate.create(
                issuer.cert_der, responder.cert_der, self.signer.spec.algorithm_identifier()
            )
        finally:
            ca.close()

    def response(
        self,
        serial: int,
        *,
        status: bytes = GOOD,
        fraction: str = "",
        now: datetime | None = None,
    ) -> bytes:
        now = (now or datetime.now(UTC)).replace(microsecond=0)
        t = self.template
        single = der.sequence(
            t.cert_id(serial),
            status,
            _gtime(now, fraction),
            der.tlv(0xA0, _gtime(now + timedelta(days=4), fraction)),
        )
        data = der.sequence(t.responder_id, _gtime(now, fraction), der.sequence(single))
        return t.assemble(data, self.signer.sign(data))


def invoke(*args: str) -> tuple[int, str, str]:
    """The CLI in this process (exit code, stdout, stderr): the same commands without
    paying the interpreter start-up per call."""
    from typer.testing import CliRunner

    from certkeeper.cli.main import app

    result = CliRunner().invoke(app, list(args), env={"CERTKEEPER_PASSPHRASE": ""})
    return result.exit_code, result.stdout, result.stderr


def run_cli(*args: str) -> subprocess.CompletedProcess[str]:
    """The real console entry point, as an operator runs it."""
    env = {**os.environ, "CERTKEEPER_PASSPHRASE": ""}
    return subprocess.run(
        [sys.executable, "-m", "certkeeper", *args],
        capture_output=True,
        text=True,
        env=env,
        timeout=120,
    )
