"""Running an ASGI app factory under granian, the way every certkeeper service does.

One place for the settings measured best for these services (docs/ocsp.md): HTTP/1.1,
single-threaded runtime per worker process, uvloop, no access log, failed workers
respawned; and the TLS settings: server TLS for ACME (RFC 8555 6.1 requires HTTPS),
mutual TLS 1.3 for the remote perspectives. And the bounds a hostile client meets
(`certkeeper.http_limits`): connections per worker (granian's backpressure) and the idle
timeout (its header read timeout, which also ends a kept-alive connection that sends no
next request).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from certkeeper.http_limits import ServerLimits, raise_descriptor_limit
from certkeeper.ports import ensure_port_free


@dataclass(frozen=True)
class ServerTls:
    cert: Path  # PEM certificate chain
    key: Path  # PEM private key


@dataclass(frozen=True)
class MutualTls(ServerTls):
    client_ca: Path  # client certificates must chain to this CA


def serve_granian(
    factory: str,
    host: str,
    port: int,
    workers: int,
    *,
    mutual_tls: MutualTls | None = None,
    server_tls: ServerTls | None = None,
    limits: ServerLimits | None = None,
) -> None:
    """Block serving `factory` ("module:function") until stopped."""
    from granian import Granian
    from granian.constants import HTTPModes, Interfaces, Loops, RuntimeModes, SSLProtocols
    from granian.http import HTTP1Settings

    limits = limits or ServerLimits()
    raise_descriptor_limit(workers, limits)
    ensure_port_free(host, port)  # granian binds with SO_REUSEPORT: it would share the port

    tls: dict[str, object] = {}
    if mutual_tls is not None:
        tls = {
            "ssl_cert": mutual_tls.cert.resolve(),
            "ssl_key": mutual_tls.key.resolve(),
            "ssl_ca": mutual_tls.client_ca.resolve(),
            "ssl_client_verify": True,
            "ssl_protocol_min": SSLProtocols.tls13,
        }
    elif server_tls is not None:
        tls = {"ssl_cert": server_tls.cert.resolve(), "ssl_key": server_tls.key.resolve()}
    Granian(
        factory,
        factory=True,
        address=host,
        port=port,
        interface=Interfaces.ASGI,
        workers=workers,
        runtime_mode=RuntimeModes.st,
        loop=Loops.uvloop,
        http=HTTPModes.http1,
        http1_settings=HTTP1Settings(header_read_timeout=int(limits.idle_seconds * 1000)),
        backpressure=limits.max_connections,
        websockets=False,
        log_access=False,
        respawn_failed_workers=True,
        **tls,  # type: ignore[arg-type]
    ).serve()
