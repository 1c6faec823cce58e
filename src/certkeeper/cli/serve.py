"""`certkeeper serve` (OCSP, CRL files, issuer certificates) and `certkeeper serve ocsp`.

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

from certkeeper.cli.common import err_console, handle_errors, resolve_home
from certkeeper.status.http import HOME_ENV, MODE_ENV

FACTORY = "certkeeper.status.http:app_from_environment"


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

serve_app = typer.Typer(
    help="Serve OCSP, CRLs and CA certificates over HTTP.", invoke_without_command=True
)


def run(home: Path, mode: str, host: str, port: int, workers: int, server: Server) -> None:
    """Check the home opens, then hand over to the server (blocks until stopped)."""
    from certkeeper.ca.home import CaHome

    resolved = resolve_home(home).resolve()
    CaHome.open(resolved).close()  # a clear one-line error now, not in every worker
    os.environ[HOME_ENV] = str(resolved)
    os.environ[MODE_ENV] = mode
    err_console.print(
        f"serving {mode} for {resolved} on http://{host}:{port} "
        f"({workers} worker{'s' if workers != 1 else ''}, {server.value})",
        highlight=False,
    )
    if server is Server.granian:
        from granian import Granian
        from granian.constants import HTTPModes, Interfaces, Loops, RuntimeModes

        Granian(
            FACTORY,
            factory=True,
            address=host,
            port=port,
            interface=Interfaces.ASGI,
            workers=workers,
            runtime_mode=RuntimeModes.st,
            loop=Loops.uvloop,
            http=HTTPModes.http1,
            websockets=False,
            log_access=False,
            respawn_failed_workers=True,
        ).serve()
    else:
        import uvicorn

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
) -> None:
    """OCSP at /ocsp, CRLs at /crl/..., issuer certificates at /issuers/<name>.der."""
    if ctx.invoked_subcommand is None:
        run(resolve_home(home), "all", host, port, workers, server)


@serve_app.command("ocsp")
@handle_errors
def serve_ocsp(
    home: HomeOption = None,
    host: HostOption = "127.0.0.1",
    port: PortOption = 8080,
    workers: WorkersOption = 1,
    server: ServerOption = Server.granian,
) -> None:
    """The OCSP responder alone, at /ocsp and at / (behind a proxy that strips /ocsp)."""
    run(resolve_home(home), "ocsp", host, port, workers, server)


def register(app: typer.Typer) -> None:
    app.add_typer(serve_app, name="serve")
