"""Republish just the CRL shards a revocation touched (BR 4.9.7: within 24 hours of a
revocation; certkeeper does it at once by default)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from certkeeper.ca.home import CaHome
from certkeeper.status.crl import CrlResult, CrlTask, ShardPublisher, default_owner


@dataclass
class RepublishReport:
    published: list[CrlResult] = field(default_factory=list)
    refused: list[CrlResult] = field(default_factory=list)
    skipped: list[CrlResult] = field(default_factory=list)  # another publisher holds the lease


def republish(
    home: CaHome,
    keys: set[tuple[int, int]],
    now: datetime,
    *,
    out_dir: Path | None = None,
    override_budget: bool = False,
) -> RepublishReport:
    """Publish the shards named by (issuer id, shard), each under its lease."""
    out = out_dir or home.config.crl_dir
    names = {rec.id: rec.name for rec in home.inventory.issuers()}
    publisher = ShardPublisher(home)
    owner = default_owner()
    report = RepublishReport()
    for issuer_id, shard in sorted(keys):
        task = CrlTask(issuer_id, names[issuer_id], "shard", shard)
        result = publisher.publish_one(task, now, out, override_budget=override_budget, owner=owner)
        {"published": report.published, "refused": report.refused, "skipped": report.skipped}[
            result.status
        ].append(result)
    return report


Publish = Callable[[set[tuple[int, int]], datetime], int]


def publisher_for(
    home: CaHome, out_dir: Path | None = None, override_budget: bool = False
) -> Publish:
    """The `publish` callback revocation services take: returns shards published, and
    raises nothing (refusals are reported by the caller from the shard status)."""

    def publish(keys: set[tuple[int, int]], now: datetime) -> int:
        return len(
            republish(home, keys, now, out_dir=out_dir, override_budget=override_budget).published
        )

    return publish
