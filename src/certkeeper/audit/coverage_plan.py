"""What `audit coverage` asks about: the targets, probes and CRL index of one run, for a
CA home or for another CA's certificates. The CLI names the inputs; this assembles them.
A home is given by its parts (inventory, CRL settings), not opened here."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from certkeeper.audit import coverage as cov
from certkeeper.audit import status_sources as src
from certkeeper.audit.coverage_model import Target

if TYPE_CHECKING:
    from certkeeper.settings.crl import CrlSettings
    from certkeeper.store.inventory import Inventory


@dataclass(frozen=True)
class CoveragePlan:
    targets: cov.TargetSet
    probes: dict[str, list[Target]]
    index: src.CrlIndex | None

    @property
    def total(self) -> int:
        return self.targets.count + sum(len(v) for v in self.probes.values())


def foreign_plan(
    certs: Path,
    issuer: Path,
    ocsp: str | None,
    crl: list[str] | None,
    no_crl: bool,
    probes: int,
    now: datetime,
) -> CoveragePlan:
    """Another CA: its certificates in `certs`, its issuing certificate in `issuer`."""
    info = src.load_issuer(issuer)
    found = src.load_certificates(certs, info)
    shard_urls = src.distinct_crl_urls(found)
    sources = [] if no_crl else (crl or shard_urls)
    index = src.load_crls(sources, [info], shard_urls=shard_urls) if sources else None
    targets = cov.foreign_targets(found, info, ocsp, index, now)
    return CoveragePlan(targets, cov.foreign_probes(targets, probes), index)


def home_plan(
    inventory: Inventory,
    published: CrlSettings,
    ocsp: str | None,
    crl: list[str] | None,
    no_crl: bool,
    probes: int,
    now: datetime,
) -> CoveragePlan:
    """A CA home: every assigned serial of its inventory, its CRL directory by default.
    `published` says where the home's CRLs are written and the URLs certificates name."""
    from certkeeper.urls import ocsp_url

    url = ocsp or ocsp_url(published.base_url)
    cas = [
        src.issuer_info(r.name, r.cert_der)
        for r in inventory.issuers()
        if r.role in ("root", "issuing")
    ]
    sources = [] if no_crl else (crl or [str(published.dir)])
    if sources == [str(published.dir)] and not published.dir.is_dir():
        raise src.AuditInputError(f"no CRLs published in {published.dir}: give --crl, or --no-crl")
    shard_urls = cov.home_shard_urls(inventory, published.base_url, published.shards)
    index = src.load_crls(sources, cas, shard_urls=shard_urls) if sources else None
    targets = cov.home_targets(inventory, published.base_url, index, now, url)
    return CoveragePlan(targets, cov.home_probes(inventory, targets.issuers, probes, url), index)
