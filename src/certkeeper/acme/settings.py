"""The `[acme]` table of certkeeper.toml, parsed and checked at load.

Pure: a TOML table in, a frozen settings object out.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from certkeeper.tomlcheck import TomlProblem, check_keys, get


@dataclass(frozen=True)
class AcmeSettings:
    # Externally visible base URL of the ACME server; empty means derived from the request.
    base_url: str = ""
    # Profile used for each key type of a finalize CSR.
    ecdsa_profile: str = "tls-dv-ecdsa"
    rsa_profile: str = "tls-dv-rsa"


_KEYS = ("base_url", "ecdsa_profile", "rsa_profile")


def parse_acme(table: dict[str, Any], where: str) -> AcmeSettings:
    w = f"{where} [acme]"
    check_keys(table, _KEYS, w)
    base_url = get(table, "base_url", str, w, default="")
    if base_url and not base_url.startswith(("http://", "https://")):
        raise TomlProblem(f"{w}.base_url: must be an http(s):// URL, got {base_url!r}")
    return AcmeSettings(
        base_url=base_url.rstrip("/"),
        ecdsa_profile=get(table, "ecdsa_profile", str, w, default="tls-dv-ecdsa"),
        rsa_profile=get(table, "rsa_profile", str, w, default="tls-dv-rsa"),
    )
