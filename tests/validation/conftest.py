"""Fixtures for the validation tests: a real DNS server, HTTP and TLS servers on loopback."""

from __future__ import annotations

import ssl
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest

from certkeeper.settings.validation import ValidationSettings
from dnsserver import ChallTestSrv
from signed_zones import SignedZones, available

CA_IDENTITY = "ca.certkeeper.example"


@pytest.fixture(scope="session")
def dns() -> Iterator[ChallTestSrv]:
    if not ChallTestSrv.available():
        pytest.skip("pebble-challtestsrv is not installed (Debian package pebble)")
    with ChallTestSrv.start() as server:
        yield server


@dataclass
class Route:
    status: int = 200
    body: bytes = b""
    headers: dict[str, str] = field(default_factory=dict)


class WebServer:
    """A tiny HTTP server whose answers the test sets per (Host, path)."""

    def __init__(self, tls: ssl.SSLContext | None = None) -> None:
        self.routes: dict[tuple[str, str], Route] = {}
        self.requests: list[tuple[str, str]] = []
        routes, requests = self.routes, self.requests

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                host = (self.headers.get("Host") or "").split(":")[0]
                requests.append((host, self.path))
                route = routes.get((host, self.path)) or routes.get(("*", self.path))
                if route is None:
                    route = Route(404, b"not found")
                self.send_response(route.status)
                for k, v in route.headers.items():
                    self.send_header(k, v)
                self.send_header("Content-Length", str(len(route.body)))
                self.end_headers()
                self.wfile.write(route.body)

            def log_message(self, format: str, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        if tls is not None:
            self.server.socket = tls.wrap_socket(self.server.socket, server_side=True)
        self.port = int(self.server.server_address[1])
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def set(self, host: str, path: str, route: Route) -> None:
        self.routes[(host, path)] = route

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def web() -> Iterator[WebServer]:
    server = WebServer()
    yield server
    server.close()


@pytest.fixture
def settings(dns: ChallTestSrv) -> ValidationSettings:
    return ValidationSettings(
        resolver=dns.address,
        timeout_seconds=3.0,
        caa_identities=(CA_IDENTITY,),
        mpic_required=False,
        private_addresses=True,
    )


@pytest.fixture(scope="module")
def zones() -> Iterator[SignedZones]:
    """The signed test hierarchy behind a validating unbound (tests/signed_zones.py)."""
    if not available():
        pytest.skip("unbound, ldnsutils or knot is not installed (scripts/setup.sh)")
    with SignedZones.start() as server:
        yield server
