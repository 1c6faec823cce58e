"""The `[validation]` table of certkeeper.toml, parsed and checked at load.

Pure: a TOML table in, a frozen settings object out (no network, no database).
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from certkeeper.br import RIR_REGIONS
from certkeeper.tomlcheck import TomlProblem, check_keys, get

# RFC 8659 4.2 issuer-domain-name: LDH labels separated by dots.
_ISSUER_DOMAIN = re.compile(r"^[a-z0-9](?:-*[a-z0-9])*(?:\.[a-z0-9](?:-*[a-z0-9])*)*$")


@dataclass(frozen=True)
class PerspectiveConfig:
    """One remote network perspective the primary calls (BR 3.2.2.9)."""

    name: str
    region: str  # RIR service region, one of br.RIR_REGIONS
    url: str  # https://host:port of its `certkeeper serve va-remote`


@dataclass(frozen=True)
class ValidationSettings:
    # Port the http-01 check connects to (RFC 8555 8.3 says 80; tests use another).
    http_port: int = 80
    # Port the tls-alpn-01 check connects to (RFC 8737 says 443).
    tls_alpn_port: int = 443
    # DNS resolver as "host:port"; empty means the system resolver.
    resolver: str = ""
    timeout_seconds: float = 10.0
    # Multi-Perspective Issuance Corroboration: the remote perspectives and the mTLS
    # material the primary presents to them (paths relative to the config file).
    perspectives: tuple[PerspectiveConfig, ...] = ()
    mpic_client_cert: Path | None = None
    mpic_client_key: Path | None = None
    mpic_ca_file: Path | None = None
    mpic_timeout_seconds: float = 15.0
    # Longest a kept-alive mTLS connection to a perspective waits in the pool; below the
    # perspectives' own idle timeout (`serve va-remote`, 5 s by default) so the primary
    # drops a connection before the perspective does.
    mpic_pool_idle_seconds: float = 2.0
    # False only for tests and development: no remote perspectives needed.
    mpic_required: bool = True
    # Issuer domain names in CAA "issue"/"issuewild" records that authorize this CA.
    caa_identities: tuple[str, ...] = ()
    # Days a validation may be reused (BR 4.2.1); None means the BR maximum. Always capped
    # by the maximum in force on the day of validation and on the day of reuse.
    reuse_days: int | None = None
    # Allow challenge connections to loopback and private addresses (tests on loopback).
    # A public CA leaves this off: a name pointing into its own network proves nothing.
    private_addresses: bool = False
    # Ports besides 80 and 443 that http-01 redirects may lead to (BR "Authorized Ports"
    # are 80 and 443; tests serve their redirect targets elsewhere).
    redirect_ports: tuple[int, ...] = ()
    # The startup check that the resolver validates DNSSEC (dnssec_check.py): the SOA of
    # `dnssec_probe` must validate, and that of `dnssec_bogus_probe` (if set) must fail.
    dnssec_probe: str = "."
    dnssec_bogus_probe: str = ""
    # False only for tests whose DNS server cannot sign (pebble-challtestsrv): the
    # process then starts with a warning instead of proving the resolver validates.
    dnssec_check: bool = True


_KEYS = (
    "http_port",
    "tls_alpn_port",
    "resolver",
    "timeout_seconds",
    "perspectives",
    "mpic_client_cert",
    "mpic_client_key",
    "mpic_ca_file",
    "mpic_timeout_seconds",
    "mpic_pool_idle_seconds",
    "mpic_required",
    "caa_identities",
    "reuse_days",
    "private_addresses",
    "redirect_ports",
    "dnssec_probe",
    "dnssec_bogus_probe",
    "dnssec_check",
)


def parse_validation(table: dict[str, Any], where: str) -> ValidationSettings:
    w = f"{where} [validation]"
    check_keys(table, _KEYS, w)
    http_port = get(table, "http_port", int, w, default=80)
    alpn_port = get(table, "tls_alpn_port", int, w, default=443)
    for key, port in (("http_port", http_port), ("tls_alpn_port", alpn_port)):
        if isinstance(port, bool) or not 1 <= port <= 65535:
            raise TomlProblem(f"{w}.{key}: {port} is not a TCP port")
    resolver = get(table, "resolver", str, w, default="")
    if resolver and not _host_port(resolver):
        raise TomlProblem(f"{w}.resolver: {resolver!r} is not host:port")
    timeout = float(get(table, "timeout_seconds", (int, float), w, default=10.0))
    if not 0 < timeout <= 120:
        raise TomlProblem(f"{w}.timeout_seconds: {timeout} is outside 0..120")
    base = Path(where).parent
    files = {
        key: _path(base, get(table, key, str, w), f"{w}.{key}") if key in table else None
        for key in ("mpic_client_cert", "mpic_client_key", "mpic_ca_file")
    }
    perspectives = _perspectives(table, w)
    if perspectives:
        missing = [key for key, value in files.items() if value is None]
        if missing:
            raise TomlProblem(
                f"{w}: remote perspectives are configured but {', '.join(missing)} "
                "is not set (mutual TLS is required)"
            )
    mpic_timeout = float(get(table, "mpic_timeout_seconds", (int, float), w, default=15.0))
    if not 0 < mpic_timeout <= 120:
        raise TomlProblem(f"{w}.mpic_timeout_seconds: {mpic_timeout} is outside 0..120")
    pool_idle = float(get(table, "mpic_pool_idle_seconds", (int, float), w, default=2.0))
    if not 0 <= pool_idle <= 300:
        raise TomlProblem(f"{w}.mpic_pool_idle_seconds: {pool_idle} is outside 0..300")
    identities = get(table, "caa_identities", list, w, default=[])
    for ident in identities:
        if not isinstance(ident, str) or not _ISSUER_DOMAIN.match(ident.lower()):
            raise TomlProblem(
                f"{w}.caa_identities: {ident!r} is not an issuer domain name (RFC 8659 4.2)"
            )
    reuse = get(table, "reuse_days", int, w, default=None)
    if reuse is not None and (isinstance(reuse, bool) or not 0 <= reuse <= 398):
        raise TomlProblem(f"{w}.reuse_days: {reuse!r} is outside 0..398 (BR 4.2.1)")
    redirect_ports = get(table, "redirect_ports", list, w, default=[])
    for port in redirect_ports:
        if isinstance(port, bool) or not isinstance(port, int) or not 1 <= port <= 65535:
            raise TomlProblem(f"{w}.redirect_ports: {port!r} is not a TCP port")
    probes = {
        key: get(table, key, str, w, default=default)
        for key, default in (("dnssec_probe", "."), ("dnssec_bogus_probe", ""))
    }
    for key, value in probes.items():
        if (value or key == "dnssec_probe") and not _dns_name(value):
            raise TomlProblem(f"{w}.{key}: {value!r} is not a domain name")
    return ValidationSettings(
        http_port=http_port,
        tls_alpn_port=alpn_port,
        resolver=resolver,
        timeout_seconds=timeout,
        perspectives=perspectives,
        mpic_client_cert=files["mpic_client_cert"],
        mpic_client_key=files["mpic_client_key"],
        mpic_ca_file=files["mpic_ca_file"],
        mpic_timeout_seconds=mpic_timeout,
        mpic_pool_idle_seconds=pool_idle,
        mpic_required=get(table, "mpic_required", bool, w, default=True),
        caa_identities=tuple(dict.fromkeys(i.lower() for i in identities)),
        reuse_days=reuse,
        private_addresses=get(table, "private_addresses", bool, w, default=False),
        redirect_ports=tuple(redirect_ports),
        dnssec_probe=probes["dnssec_probe"],
        dnssec_bogus_probe=probes["dnssec_bogus_probe"],
        dnssec_check=get(table, "dnssec_check", bool, w, default=True),
    )


def _path(base: Path, value: str, label: str) -> Path:
    if not value:
        raise TomlProblem(f"{label}: an empty path is not a file")
    path = Path(value)
    return path if path.is_absolute() else base / path


def _perspectives(table: dict[str, Any], w: str) -> tuple[PerspectiveConfig, ...]:
    """`[[validation.perspectives]]`: unique names, unique URLs, known RIR regions."""
    entries = get(table, "perspectives", list, w, default=[])
    out: list[PerspectiveConfig] = []
    for i, entry in enumerate(entries):
        pw = f"{w} perspectives[{i}]"
        if not isinstance(entry, dict):
            raise TomlProblem(f"{pw}: expected a table with name, region and url")
        check_keys(entry, ("name", "region", "url"), pw)
        name = get(entry, "name", str, pw)
        if not name or not name.replace("-", "").replace("_", "").replace(".", "").isalnum():
            raise TomlProblem(f"{pw}.name: {name!r} is not a name (letters, digits, -_.)")
        region = get(entry, "region", str, pw)
        if region not in RIR_REGIONS:
            raise TomlProblem(f"{pw}.region: {region!r} is not one of {', '.join(RIR_REGIONS)}")
        url = get(entry, "url", str, pw)
        parts = urlsplit(url)
        try:
            port = parts.port
        except ValueError:
            port = None
        if (
            parts.scheme != "https"
            or not parts.hostname
            or port is None
            or parts.path not in ("", "/")
            or parts.query
            or parts.fragment
            or parts.username
        ):
            raise TomlProblem(f"{pw}.url: {url!r} is not https://host:port")
        out.append(PerspectiveConfig(name=name, region=region, url=url.rstrip("/")))
    for attr in ("name", "url"):
        values = [getattr(p, attr) for p in out]
        dupes = sorted({v for v in values if values.count(v) > 1})
        if dupes:
            raise TomlProblem(f"{w}.perspectives: {attr} {dupes[0]!r} is used twice")
    return tuple(out)


def _dns_name(value: str) -> bool:
    """The root (".") or LDH labels separated by dots."""
    return value == "." or bool(_ISSUER_DOMAIN.match(value.lower().rstrip(".")))


def _host_port(value: str) -> bool:
    host, sep, port = value.rpartition(":")
    return bool(sep and host and port.isdigit() and 1 <= int(port) <= 65535)


def resolver_address(value: str) -> tuple[str, int]:
    """Split a checked "host:port" (IPv6 hosts may be bracketed)."""
    host, _, port = value.rpartition(":")
    return host.strip("[]"), int(port)
