"""Start a remote perspective: check the TLS material, then hand over to the server.

granian terminates TLS (rustls): TLS 1.3 as the minimum, and with `ssl_client_verify`
every client must present a certificate chaining to `ssl_ca`, else the handshake fails
before any request reaches the app. uvicorn is the fallback for platforms without
granian wheels: one process, CERT_REQUIRED with the same CA, and the TLS 1.3 minimum set
on the context it builds.
"""

from __future__ import annotations

import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from certkeeper.br import RIR_REGIONS
from certkeeper.errors import ConfigError, InputError
from certkeeper.ports import ensure_port_free
from certkeeper.settings.validation import ValidationSettings
from certkeeper.validation.remote import CONFIG_ENV, RemoteConfig

FACTORY = "certkeeper.validation.remote:app_from_environment"


@dataclass(frozen=True)
class TlsFiles:
    cert: Path
    key: Path
    client_ca: Path


def check_tls_files(files: TlsFiles) -> None:
    """Load the material once here, so a bad file is one clear line, not a worker crash."""
    for label, path in (
        ("--cert", files.cert),
        ("--key", files.key),
        ("--client-ca", files.client_ca),
    ):
        if not path.is_file():
            raise InputError(f"{label}: {path} does not exist")
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    try:
        context.load_cert_chain(str(files.cert), str(files.key))
    except (ssl.SSLError, OSError) as exc:
        raise InputError(f"--cert/--key: cannot load the certificate and key: {exc}") from None
    try:
        context.load_verify_locations(cafile=str(files.client_ca))
    except (ssl.SSLError, OSError) as exc:
        raise InputError(f"--client-ca: {files.client_ca} is not a PEM CA file: {exc}") from None


def remote_config(
    name: str,
    region: str,
    *,
    resolver: str,
    http_port: int,
    tls_alpn_port: int,
    timeout_seconds: float,
    private_addresses: bool = False,
    redirect_ports: tuple[int, ...] = (),
    dnssec_check: bool = True,
) -> RemoteConfig:
    if region not in RIR_REGIONS:
        raise InputError(f"--region: {region!r} is not one of {', '.join(RIR_REGIONS)}")
    if not name or len(name) > 63 or not all(c.isalnum() or c in "-_." for c in name):
        raise InputError(f"--name: {name!r} is not a name (letters, digits, -_.)")
    if resolver:
        host, sep, port = resolver.rpartition(":")
        if not (sep and host and port.isdigit() and 1 <= int(port) <= 65535):
            raise InputError(f"--resolver: {resolver!r} is not host:port")
    if not 0 < timeout_seconds <= 120:
        raise InputError(f"--timeout: {timeout_seconds} is outside 0..120 seconds")
    return RemoteConfig(
        name=name,
        region=region,
        validation=ValidationSettings(
            http_port=http_port,
            tls_alpn_port=tls_alpn_port,
            resolver=resolver,
            timeout_seconds=timeout_seconds,
            private_addresses=private_addresses,
            redirect_ports=redirect_ports,
            mpic_required=False,
            dnssec_check=dnssec_check,
        ),
    )


def serve_remote(
    config: RemoteConfig,
    files: TlsFiles,
    *,
    host: str,
    port: int,
    workers: int,
    server: str,
) -> None:
    """Block serving the perspective until stopped."""
    check_tls_files(files)
    ensure_port_free(host, port)  # before either server: granian would share a busy port
    os.environ[CONFIG_ENV] = config.to_env()
    if server == "granian":
        from certkeeper.granian_server import MutualTls, serve_granian

        serve_granian(
            FACTORY,
            host,
            port,
            workers,
            mutual_tls=MutualTls(files.cert, files.key, files.client_ca),
        )
    elif server == "uvicorn":
        import uvicorn

        if workers != 1:
            raise InputError("--workers: uvicorn serves a remote perspective in one process")
        uv_config = uvicorn.Config(
            FACTORY,
            factory=True,
            host=host,
            port=port,
            access_log=False,
            log_level="warning",
            ssl_certfile=str(files.cert),
            ssl_keyfile=str(files.key),
            ssl_ca_certs=str(files.client_ca),
            ssl_cert_reqs=ssl.CERT_REQUIRED,
        )
        uv_config.load()
        assert uv_config.ssl is not None
        uv_config.ssl.minimum_version = ssl.TLSVersion.TLSv1_3
        uvicorn.Server(uv_config).run()
    else:
        raise ConfigError(f"unknown server {server!r}")
