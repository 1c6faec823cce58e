"""Republish the CRL shards a revocation touched (BR 4.9.7: within 24 hours of a
revocation; certkeeper does it at once by default), and with them every shard that
still holds revocations on no published CRL, whoever recorded them: a run killed
between its commit and its publication is finished by the next publisher."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from certkeeper.errors import CertkeeperError
from certkeeper.status.crl import CrlResult, failure_message


class PublicationIncomplete(CertkeeperError):
    """Revocations are recorded (and their OCSP responses re-signed) but at least one
    of their CRL shards could not be published; the shard stays pending and the next
    publisher (`crl publish`, `revoke`, `incident execute`) publishes it."""

    exit_code = 3


@dataclass
class RepublishReport:
    published: list[CrlResult] = field(default_factory=list)
    refused: list[CrlResult] = field(default_factory=list)
    skipped: list[CrlResult] = field(default_factory=list)  # another publisher holds the lease

    @property
    def failed(self) -> list[CrlResult]:
        return [r for r in self.refused + self.skipped if r.failed]


# The CRL publisher's part (status/crl.py): publish the shards named by (issuer id,
# shard) and every pending shard, each under its lease, into a directory; the flag
# publishes over the byte budget.
PublishShards = Callable[[set[tuple[int, int]], datetime, Path, bool], list[CrlResult]]

# What revocation services are given to publish with: returns shards published.
Publish = Callable[[set[tuple[int, int]], datetime], int]


class Republisher:
    """Publishes what revocations touched, into `[crl] dir` unless told otherwise."""

    def __init__(self, publish_shards: PublishShards, crl_dir: Path) -> None:
        self._publish_shards = publish_shards
        self._crl_dir = crl_dir

    def republish(
        self,
        keys: set[tuple[int, int]],
        now: datetime,
        *,
        out_dir: Path | None = None,
        override_budget: bool = False,
    ) -> RepublishReport:
        """Publish the shards named by (issuer id, shard), and every pending shard."""
        results = self._publish_shards(keys, now, out_dir or self._crl_dir, override_budget)
        report = RepublishReport()
        for result in results:
            {"published": report.published, "refused": report.refused, "skipped": report.skipped}[
                result.status
            ].append(result)
        return report

    def publisher(self, out_dir: Path | None = None, override_budget: bool = False) -> Publish:
        """The `publish` callback revocation services take: returns shards published,
        and raises PublicationIncomplete naming every shard left unpublished."""

        def publish(keys: set[tuple[int, int]], now: datetime) -> int:
            report = self.republish(keys, now, out_dir=out_dir, override_budget=override_budget)
            if report.failed:
                raise PublicationIncomplete(
                    failure_message(report.failed)
                    + "; the revocations themselves are recorded and their OCSP responses "
                    "re-signed"
                )
            return len(report.published)

        return publish
