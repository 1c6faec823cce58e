"""`certkeeper serve` (OCSP, CRL files, issuer certificates, ACME), `certkeeper serve ocsp`
and `certkeeper serve acme`.

The server is granian (ASGI interface) by default: on this project's benchmark it
answered about 1.8 times the requests per second of uvicorn with httptools and uvloop
for the same raw ASGI app (docs/ocsp.md). `--server uvicorn` is kept for platforms
without granian wheels. Worker processes open the CA home themselves; they need no
key passphrase, because the responder only reads pre-signed responses.
"""

from __future__ import annotations

import os
from enum import StrEnum
from pathlib import Path
from typing import Annotated

import typer

from certkeeper.cli.common import err_console, handle_errors, resolve_home, trust_note
from certkeeper.errors import InputError
from certkeeper.granian_server import ServerTls
from certkeeper.http_limits import BODY_SECONDS_ENV, ServerLimits, raise_descriptor_limit
from certkeeper.ports import ensure_port_free
from certkeeper.server_worker import HOME_ENV, MODE_ENV

FACTORY = "certkeeper.server_worker:app"


class Server(StrEnum):
    granian = "granian"
    uvicorn = "uvicorn"


HomeOption = Annotated[
    Path | None,
    typer.Option(
        "--home",
        envvar="CERTKEEPER_HOME",
        help="CA home directory (default ./ca-home).",
        show_default=False,
    ),
]
HostOption = Annotated[str, typer.Option("--host", help="Address to listen on.")]
PortOption = Annotated[int, typer.Option("--port", min=1, max=65535)]
WorkersOption = Annotated[
    int, typer.Option("--workers", min=1, max=256, help="Worker processes (one per core).")
]
ServerOption = Annotated[Server, typer.Option("--server", help="HTTP server.")]
TlsCertOption = Annotated[
    Path | None,
    typer.Option("--tls-cert", help="Serve HTTPS with this PEM certificate chain (ACME)."),
]
TlsKeyOption = Annotated[Path | None, typer.Option("--tls-key", help="Its PEM private key.")]
_DEFAULT_LIMITS = ServerLimits()
MaxConnectionsOption = Annotated[
    int,
    typer.Option(
        "--max-connections", min=1, max=1_000_000, help="Open connections per worker process."
    ),
]
IdleTimeoutOption = Annotated[
    float,
    typer.Option(
        "--idle-timeout",
        min=0.1,
        max=3600,
        help="Seconds a connection may wait for, or send, a request's headers.",
    ),
]
BodyTimeoutOption = Annotated[
    float,
    typer.Option(
        "--body-timeout", min=0.1, max=3600, help="Seconds a client has to send a whole body."
    ),
]

serve_app = typer.Typer(
    help="Serve OCSP, CRLs and CA certificates over HTTP.", invoke_without_command=True
)


def _server_tls(cert: Path | None, key: Path | None) -> ServerTls | None:
    """Both files or neither; each readable, and the pair usable by a TLS server."""
    if cert is None and key is None:
        return None
    if cert is None or key is None:
        raise InputError("--tls-cert and --tls-key go together")
    import ssl

    for flag, path in (("--tls-cert", cert), ("--tls-key", key)):
        if not path.is_file():
            raise InputError(f"{flag} {path}: no such file")
    try:
        ssl.create_default_context(ssl.Purpose.CLIENT_AUTH).load_cert_chain(cert, key)
    except (ssl.SSLError, ValueError) as exc:
        raise InputError(f"--tls-cert/--tls-key: not a usable certificate and key: {exc}") from None
    return ServerTls(cert, key)


def run(
    home: Path,
    mode: str,
    host: str,
    port: int,
    workers: int,
    server: Server,
    tls: ServerTls | None = None,
    limits: ServerLimits = _DEFAULT_LIMITS,
) -> None:
    """Check the home opens, then hand over to the server (blocks until stopped)."""
    from certkeeper.auditlog.record import record_server_run
    from certkeeper.ca.home import CaHome

    resolved = resolve_home(home).resolve()
    opened = CaHome.open(resolved)  # a clear one-line error now, not in every worker
    public = opened.config.public
    if mode in ("acme", "all"):
        from certkeeper.wiring import build

        # the log list now (or why a public home has none), not at the first finalize
        build(opened).check_ct()
    ensure_port_free(host, port)  # never share a busy port (granian uses SO_REUSEPORT)
    dnssec = ""
    if mode in ("acme", "all"):
        from certkeeper.validation.dnssec_check import startup_line

        dnssec = startup_line(opened.config.validation, public)  # public: refused if not
    record_server_run(opened, mode, f"{host}:{port}")  # audit log: started, and stopped
    opened.close()
    os.environ[HOME_ENV] = str(resolved)
    os.environ[MODE_ENV] = mode
    os.environ[BODY_SECONDS_ENV] = repr(limits.body_seconds)
    from certkeeper.metrics_env import prepare_multiprocess_dir

    prepare_multiprocess_dir()  # before any worker starts: /metrics merges them all
    err_console.print(
        f"serving {mode} for {resolved} on {'https' if tls else 'http'}://{host}:{port} "
        f"({workers} worker{'s' if workers != 1 else ''}, {server.value})"
        + (trust_note(public) if mode != "ocsp" else ""),
        highlight=False,
    )
    if dnssec:
        err_console.print(dnssec, highlight=False)
    if server is Server.granian:
        from certkeeper.granian_server import serve_granian

        serve_granian(FACTORY, host, port, workers, server_tls=tls, limits=limits)
    else:
        import uvicorn

        # uvicorn closes idle kept-alive connections; its connection bound is the
        # descriptor limit (limit_concurrency would answer 503 to everybody while hostile
        # connections hold the slots); it has no timeout for headers sent slowly.
        raise_descriptor_limit(workers, limits)
        uvicorn.run(
            FACTORY,
            factory=True,
            host=host,
            port=port,
            workers=workers,
            http="httptools",
            loop="uvloop",
            access_log=False,
            log_level="warning",
            timeout_keep_alive=max(1, round(limits.idle_seconds)),
            ssl_certfile=str(tls.cert) if tls else None,
            ssl_keyfile=str(tls.key) if tls else None,
        )


@serve_app.callback()
@handle_errors
def serve_all(
    ctx: typer.Context,
    home: HomeOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    workers: WorkersOption = 1,
    server: ServerOption = Server.granian,
    max_connections: MaxConnectionsOption = _DEFAULT_LIMITS.max_connections,
    idle_timeout: IdleTimeoutOption = _DEFAULT_LIMITS.idle_seconds,
    body_timeout: BodyTimeoutOption = _DEFAULT_LIMITS.body_seconds,
) -> None:
    """OCSP at /ocsp, CRLs at /crl/..., issuer certificates at /issuers/<name>.der, ACME at
    /acme/directory (finalize needs the CA key passphrase)."""
    if ctx.invoked_subcommand is None:
        limits = ServerLimits(max_connections, idle_timeout, body_timeout)
        run(resolve_home(home), "all", host, port, workers, server, limits=limits)


@serve_app.command("ocsp")
@handle_errors
def serve_ocsp(
    home: HomeOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    workers: WorkersOption = 1,
    server: ServerOption = Server.granian,
    max_connections: MaxConnectionsOption = _DEFAULT_LIMITS.max_connections,
    idle_timeout: IdleTimeoutOption = _DEFAULT_LIMITS.idle_seconds,
    body_timeout: BodyTimeoutOption = _DEFAULT_LIMITS.body_seconds,
) -> None:
    """The OCSP responder alone, at /ocsp and at / (behind a proxy that strips /ocsp)."""
    limits = ServerLimits(max_connections, idle_timeout, body_timeout)
    run(resolve_home(home), "ocsp", host, port, workers, server, limits=limits)


@serve_app.command("acme")
@handle_errors
def serve_acme(
    home: HomeOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    workers: WorkersOption = 1,
    server: ServerOption = Server.granian,
    tls_cert: TlsCertOption = None,
    tls_key: TlsKeyOption = None,
    max_connections: MaxConnectionsOption = _DEFAULT_LIMITS.max_connections,
    idle_timeout: IdleTimeoutOption = _DEFAULT_LIMITS.idle_seconds,
    body_timeout: BodyTimeoutOption = _DEFAULT_LIMITS.body_seconds,
) -> None:
    """The ACME server alone (RFC 8555 with ARI), directory at /acme/directory. It signs
    certificates, so it needs the CA key passphrase ($CERTKEEPER_PASSPHRASE or the file).
    RFC 8555 6.1 requires HTTPS: give --tls-cert/--tls-key, or put a TLS proxy in front.
    (OCSP and CRLs stay on plain HTTP, as the URLs in certificates say: `serve`.)"""
    from certkeeper.ca.home import CaHome

    tls = _server_tls(tls_cert, tls_key)
    opened = CaHome.open(resolve_home(home).resolve())
    try:
        opened.config.passphrase()  # one clear line now, not a failed finalize later
    finally:
        opened.close()
    limits = ServerLimits(max_connections, idle_timeout, body_timeout)
    run(resolve_home(home), "acme", host, port, workers, server, tls, limits)


@serve_app.command("va-remote")
@handle_errors
def serve_va_remote(
    name: Annotated[str, typer.Option("--name", help="This perspective's name.")],
    region: Annotated[str, typer.Option("--region", help="RIR region: ARIN, RIPE, ...")],
    cert: Annotated[Path, typer.Option("--cert", help="Server certificate (PEM).")],
    key: Annotated[Path, typer.Option("--key", help="Server private key (PEM).")],
    client_ca: Annotated[
        Path, typer.Option("--client-ca", help="CA of the primary's client certificate.")
    ],
    host: HostOption = "127.0.0.1",
    port: PortOption = 8443,
    resolver: Annotated[
        str, typer.Option("--resolver", help="DNS resolver host:port (own, never shared).")
    ] = "",
    http_port: Annotated[int, typer.Option("--http-port", min=1, max=65535)] = 80,
    tls_alpn_port: Annotated[int, typer.Option("--tls-alpn-port", min=1, max=65535)] = 443,
    timeout: Annotated[float, typer.Option("--timeout", help="Per-check seconds.")] = 10.0,
    private_addresses: Annotated[
        bool,
        typer.Option(
            "--allow-private-addresses", help="Connect to loopback/private addresses (tests)."
        ),
    ] = False,
    dnssec_check: Annotated[
        bool,
        typer.Option(
            "--dnssec-check/--no-dnssec-check",
            help="Refuse to start unless the resolver validates DNSSEC (off: tests only).",
        ),
    ] = True,
    redirect_port: Annotated[
        list[int] | None,
        typer.Option("--redirect-port", min=1, max=65535, help="Extra http-01 redirect port."),
    ] = None,
    workers: WorkersOption = 1,
    server: ServerOption = Server.granian,
) -> None:
    """A remote network perspective for MPIC (BR 3.2.2.9), over mutual TLS. No CA home."""
    from certkeeper.validation.remote_server import TlsFiles, remote_config, serve_remote

    config = remote_config(
        name,
        region,
        resolver=resolver,
        http_port=http_port,
        tls_alpn_port=tls_alpn_port,
        timeout_seconds=timeout,
        private_addresses=private_addresses,
        redirect_ports=tuple(redirect_port or ()),
        dnssec_check=dnssec_check,
    )
    from certkeeper.validation.dnssec_check import startup_line
    from certkeeper.validation.remote_server import check_tls_files

    files = TlsFiles(cert, key, client_ca)
    check_tls_files(files)  # bad material and a busy port are said first, as before
    ensure_port_free(host, port)
    dnssec = startup_line(config.validation)  # a non-validating resolver: one line, no start
    err_console.print(
        f"serving remote perspective {name} ({region}) on https://{host}:{port} (mTLS)",
        highlight=False,
    )
    err_console.print(dnssec, highlight=False)
    serve_remote(
        config,
        files,
        host=host,
        port=port,
        workers=workers,
        server=server.value,
    )


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve")
