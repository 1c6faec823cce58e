"""The `[validation]` table of certkeeper.toml, parsed and checked at load.

Pure: a TOML table in, a frozen settings object out (no network, no database).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from certkeeper.tomlcheck import TomlProblem, check_keys, get


@dataclass(frozen=True)
class ValidationSettings:
    # Port the http-01 check connects to (RFC 8555 8.3 says 80; tests use another).
    http_port: int = 80
    # Port the tls-alpn-01 check connects to (RFC 8737 says 443).
    tls_alpn_port: int = 443
    # DNS resolver as "host:port"; empty means the system resolver.
    resolver: str = ""
    timeout_seconds: float = 10.0


_KEYS = ("http_port", "tls_alpn_port", "resolver", "timeout_seconds")


def parse_validation(table: dict[str, Any], where: str) -> ValidationSettings:
    w = f"{where} [validation]"
    check_keys(table, _KEYS, w)
    http_port = get(table, "http_port", int, w, default=80)
    alpn_port = get(table, "tls_alpn_port", int, w, default=443)
    for key, port in (("http_port", http_port), ("tls_alpn_port", alpn_port)):
        if not 1 <= port <= 65535:
            raise TomlProblem(f"{w}.{key}: {port} is not a TCP port")
    resolver = get(table, "resolver", str, w, default="")
    if resolver and not _host_port(resolver):
        raise TomlProblem(f"{w}.resolver: {resolver!r} is not host:port")
    timeout = float(get(table, "timeout_seconds", (int, float), w, default=10.0))
    if not 0 < timeout <= 120:
        raise TomlProblem(f"{w}.timeout_seconds: {timeout} is outside 0..120")
    return ValidationSettings(
        http_port=http_port, tls_alpn_port=alpn_port, resolver=resolver, timeout_seconds=timeout
    )


def _host_port(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(sep and host and port.isdigit() and 1 <= int(port) <= 65535)
