"""Fixtures for the ACME tests: a real DNS server (pebble-challtestsrv), an http-01 web
server on loopback, and our ACME server under uvicorn on a free port."""

from __future__ import annotations

import dataclasses
import os
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import uvicorn
from cryptography.hazmat.primitives.asymmetric import ec

from certkeeper.acme.app import AcmeApp
from certkeeper.ca.home import CaHome
from certkeeper.settings.acme import AcmeSettings
from certkeeper.settings.validation import ValidationSettings
from certkeeper.wiring import build
from dnsserver import ChallTestSrv, free_port
from factories import PASSPHRASE, make_home
from public_ct import PublicCt
from validation.test_tls_alpn01 import TlsServer

from .client import AcmeClient

CA_IDENTITY = "ca.certkeeper.example"


@pytest.fixture(scope="session")
def dns() -> Iterator[ChallTestSrv]:
    if not ChallTestSrv.available():
        pytest.skip("pebble-challtestsrv is not installed (Debian package pebble)")
    with ChallTestSrv.start() as server:
        yield server


class ChallengeWeb:
    """Answers /.well-known/acme-challenge/<token> with what the test put there."""

    def __init__(self) -> None:
        self.tokens: dict[str, str] = {}
        self.delay: dict[str, float] = {}  # seconds to wait before answering a token
        tokens, delay = self.tokens, self.delay

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                prefix = "/.well-known/acme-challenge/"
                body = b"not found"
                status = 404
                token = self.path[len(prefix) :]
                if self.path.startswith(prefix) and token in tokens:
                    time.sleep(delay.get(token, 0.0))
                    body = tokens[token].encode()
                    status = 200
                self.send_response(status)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.port = int(self.server.server_address[1])
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture(scope="session")
def web() -> Iterator[ChallengeWeb]:
    server = ChallengeWeb()
    yield server
    server.close()


@pytest.fixture(scope="session")
def tls(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TlsServer]:
    """A TLS server for tls-alpn-01 (the validation tests' server, reused)."""
    server = TlsServer(tmp_path_factory.mktemp("tls-alpn"))
    yield server
    server.close()


@dataclass
class Served:
    home: CaHome
    app: AcmeApp
    base: str

    @property
    def directory(self) -> str:
        return self.base + "/acme/directory"

    def client(self, key: Any = None) -> AcmeClient:
        return AcmeClient(self.directory, key or ec.generate_private_key(ec.SECP256R1()))


class UvicornThread:
    def __init__(self, app: Any) -> None:
        self.port = free_port()
        config = uvicorn.Config(
            app, host="127.0.0.1", port=self.port, log_level="warning", lifespan="off"
        )
        self.server = uvicorn.Server(config)
        self.thread = threading.Thread(target=self.server.run, daemon=True)
        self.thread.start()
        deadline = time.monotonic() + 10
        while not self.server.started:
            if time.monotonic() > deadline:
                raise RuntimeError("uvicorn did not start")
            time.sleep(0.01)

    def stop(self) -> None:
        self.server.should_exit = True
        self.thread.join(10)


ServerFactory = Callable[..., Served]


@pytest.fixture(scope="session")
def server_factory(
    tmp_path_factory: pytest.TempPathFactory,
    dns: ChallTestSrv,
    web: ChallengeWeb,
    tls: TlsServer,
    public_ct: PublicCt,
) -> Iterator[ServerFactory]:
    """Start an ACME server on a CA home of its own, with [acme] settings overridden."""
    os.environ["CERTKEEPER_PASSPHRASE"] = PASSPHRASE
    running: list[tuple[UvicornThread, AcmeApp, CaHome]] = []

    def start(
        clock: Callable[[], datetime] | None = None,
        prepare: Callable[[Path], None] | None = None,
        **acme: Any,
    ) -> Served:
        """`prepare(home path)` may edit the home (config, profiles) before it opens."""
        path = make_home(tmp_path_factory.mktemp("acme") / "home", public_ct, public=True)
        if prepare is not None:
            prepare(Path(path))
        home = CaHome.open(Path(path))
        validation = ValidationSettings(
            http_port=web.port,
            tls_alpn_port=tls.port,
            resolver=dns.address,
            timeout_seconds=3.0,
            caa_identities=(CA_IDENTITY,),
            mpic_required=False,
            private_addresses=True,
        )
        home = CaHome(
            dataclasses.replace(
                home.config,
                validation=validation,
                acme=dataclasses.replace(AcmeSettings(), **acme),
            )
        )
        app = AcmeApp(build(home) if clock is None else build(home, clock=clock))
        thread = UvicornThread(app)
        running.append((thread, app, home))
        return Served(home, app, f"http://127.0.0.1:{thread.port}")

    yield start
    for thread, app, home in running:
        thread.stop()
        app.close()
        home.close()


@pytest.fixture(scope="session")
def served(server_factory: ServerFactory) -> Served:
    """The shared server: tests use accounts of their own on it (so the per-IP account
    and per-domain limits are off here; test_ratelimits checks them on servers of their own)."""
    return server_factory(accounts_per_ip_per_3_hours=0, certificates_per_domain_per_week=0)
