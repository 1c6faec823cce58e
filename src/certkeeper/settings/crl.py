"""What CRL publication reads of certkeeper.toml: the `[crl]` table, the base URL its
distribution points live under, and the home a worker process re-opens.

`config` still keeps these as flat `Config` fields; `certkeeper.wiring` gathers them
here so the CRL publisher takes only what it reads.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path


@dataclass(frozen=True)
class CrlSettings:
    home: Path  # the CA home a publishing worker process opens for itself
    base_url: str  # CRLDP and IDP URIs are built under it (certkeeper.urls)
    shards: int
    budget_bytes: int  # per shard CRL
    dir: Path  # what `serve` serves at <base_url>/crl: only a file here publishes
    shard_validity: timedelta  # nextUpdate - thisUpdate of shard and full CRLs
    ca_validity: timedelta  # the same for a root's CA CRL
    lookback: timedelta  # how long an entry outlives its certificate
