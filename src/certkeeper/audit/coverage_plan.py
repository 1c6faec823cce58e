"""What `audit coverage` asks about: the targets, probes and CRL index of one run, for a
CA home or for another CA's certificates. The CLI names the inputs; this assembles them."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from certkeeper.audit import coverage as cov
from certkeeper.audit import status_sources as src
from certkeeper.audit.coverage_model import Target


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
    home: Path, ocsp: str | None, crl: list[str] | None, no_crl: bool, probes: int, now: datetime
) -> CoveragePlan:
    """A CA home: every assigned serial of its inventory, its CRL directory by default."""
    from certkeeper.ca.home import CaHome
    from certkeeper.urls import ocsp_url

    ca = CaHome.open(home)
    try:
        url = ocsp or ocsp_url(ca.config.base_url)
        cas = [
            src.issuer_info(r.name, r.cert_der)
            for r in ca.inventory.issuers()
            if r.role in ("root", "issuing")
        ]
        sources = [] if no_crl else (crl or [str(ca.config.crl_dir)])
        if sources == [str(ca.config.crl_dir)] and not ca.config.crl_dir.is_dir():
            raise src.AuditInputError(
                f"no CRLs published in {ca.config.crl_dir}: give --crl, or --no-crl"
            )
        index = src.load_crls(sources, cas, shard_urls=cov.home_shard_urls(ca)) if sources else None
        targets = cov.home_targets(ca, index, now, url)
        return CoveragePlan(targets, cov.home_probes(ca, targets.issuers, probes, url), index)
    finally:
        ca.close()
