"""Mass revocation drills (BR 5.7.1.2): the whole plan run for real, on a copy.

The live inventory is never opened for writing: the SQLite database is copied with
SQLite's online backup (a consistent snapshot even while the CA is issuing), the CA
home's config is copied with the database and the CRL directory pointed into the
drill's own directory, and plan, execute and republication run there. The report says
how long each stage took, how big the shards became, and whether the deadline holds.

A drill is an operation on a whole home, not a service: it opens a second CA, the copy,
with `wiring.build`, and runs that CA's incident service and republisher.
"""

from __future__ import annotations

import dataclasses
import shutil
import sqlite3
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.config import Config
from certkeeper.errors import ConfigError
from certkeeper.revocation import planner
from certkeeper.revocation.verdict import Verdict
from certkeeper.x509.time import truncate

if TYPE_CHECKING:
    from certkeeper.revocation.incidents import IncidentService
    from certkeeper.revocation.publishing import Republisher


@dataclass
class DrillReport:
    incident: int
    certificates: int  # distinct final certificates planned
    precertificates: int  # precertificates without a final certificate planned
    verdict: Verdict  # the plan's, as `incident plan` states it
    deadline: datetime
    seconds: dict[str, float] = field(default_factory=dict)
    revoked: int = 0
    shards_published: int = 0
    shards_refused: int = 0
    largest_shard_bytes: int = 0
    budget_bytes: int = 0
    finished_by: datetime | None = None
    directory: str | None = None

    @property
    def plan_summary(self) -> str:
        return self.verdict.summary(self.incident)

    @property
    def deadline_met(self) -> bool:
        """The plan meets the deadline and the measured work finishes before it."""
        return (
            self.verdict.met and self.finished_by is not None and self.finished_by <= self.deadline
        )

    def summary(self) -> str:
        """The plan's verdict, then whether the measured work itself finishes in time."""
        if not self.verdict.met or self.finished_by is None:
            return self.plan_summary
        if self.finished_by > self.deadline:
            return (
                f"DEADLINE MISSED ({self.deadline:%Y-%m-%d %H:%M}Z): the plan fits, but its "
                f"last batch finishes at {self.finished_by:%Y-%m-%d %H:%M:%S}Z. "
                + self.plan_summary
            )
        return self.plan_summary

    def to_dict(self) -> dict[str, Any]:
        out = dataclasses.asdict(self)
        out["verdict"] = self.verdict.to_dict()
        out["summary"] = self.summary()
        out["deadline"] = self.deadline.isoformat()
        out["finished_by"] = self.finished_by.isoformat() if self.finished_by else None
        out["deadline_met"] = self.deadline_met
        return out


def copy_home(config: Config, target: Path) -> Config:
    """The configuration of a CA home identical to `config`'s but for its inventory and
    CRL directory, which are private copies under `target`. SQLite only: the copy is an
    online backup."""
    prefix = "sqlite:///"
    if not config.database_url.startswith(prefix):
        raise ConfigError(
            "drills copy the inventory; for PostgreSQL, restore a dump into a scratch database "
            "and point a copy of the CA home at it (the live database is never used)"
        )
    source_path = Path(config.database_url[len(prefix) :])
    target.mkdir(parents=True, exist_ok=True)
    copy_path = target / "inventory.db"
    source = sqlite3.connect(f"file:{source_path}?mode=ro", uri=True)
    try:
        dest = sqlite3.connect(copy_path)
        try:
            source.backup(dest)
        finally:
            dest.close()
    finally:
        source.close()
    crl_dir = target / "crl"
    if config.crl_dir.is_dir():
        shutil.copytree(config.crl_dir, crl_dir)
    # the copy's audit log is mirrored beside it: a drill never writes to the live mirror
    mirror = dataclasses.replace(config.audit_log, mirror=target / "audit-log.jsonl", syslog=False)
    return dataclasses.replace(
        config, database_url=prefix + str(copy_path), crl_dir=crl_dir, audit_log=mirror
    )


class DrillCa(Protocol):
    """What a drill uses of the copy's CA (a `wiring.Ca`)."""

    @property
    def incidents(self) -> IncidentService: ...

    @property
    def republisher(self) -> Republisher: ...

    def close(self) -> None: ...


def drill(
    config: Config,
    *,
    now: datetime,
    incident_id: int | None = None,
    title: str = "drill",
    br_item: int = 12,
    selector: CertificateFilter | None = None,
    policy: planner.Policy = planner.Policy.soonest_expiry,
    workers: int = 2,
    keep: Path | None = None,
    advance: Callable[[int], None] | None = None,
    budget: int | None = None,
    build: Callable[[Config], DrillCa],
) -> DrillReport:
    """Run plan and execute for an incident (existing, or opened from `selector`) on a
    copy of the inventory, assembled by `build` (the composition root's `wiring.build`).
    With `keep`, the copy stays there for inspection. `budget` plans under that per-shard
    budget (as `incident plan --override-budget`)."""
    now = truncate(now)
    workdir = keep or Path(tempfile.mkdtemp(prefix="certkeeper-drill-"))
    try:
        started = time.perf_counter()
        copy = build(copy_home(config, workdir))
        seconds = {"copy": time.perf_counter() - started}
        if incident_id is None:
            if selector is None:
                raise ConfigError("a drill needs an incident id or a selector")
            t = time.perf_counter()
            opened = copy.incidents.open_incident(
                title=title,
                aware_at=now,
                br_item_number=br_item,
                selector=selector,
                now=now,
                who="drill",
            )
            assert opened.id is not None
            incident_id = opened.id
            seconds["open"] = time.perf_counter() - t
        t = time.perf_counter()
        plan = copy.incidents.make_plan(incident_id, now, policy, who="drill", budget=budget)
        seconds["plan"] = time.perf_counter() - t
        # Execute every batch as if its time had come, to measure the whole campaign.
        last = plan.plan.last_planned or now
        result = copy.incidents.execute(
            incident_id, now, workers=workers, until=last, advance=advance, who="drill"
        )
        seconds["revoke"] = result.seconds.get("revoke", 0.0)
        t = time.perf_counter()
        published = copy.republisher.republish(
            result.shards, now, override_budget=plan.budget_overridden
        )
        seconds["publish"] = time.perf_counter() - t
        sizes = [r.size_bytes or 0 for r in published.published + published.refused]
        total = sum(seconds.values())
        report = DrillReport(
            incident=incident_id,
            certificates=plan.verdict.certificates.total,
            precertificates=plan.verdict.precertificates.total,
            verdict=plan.verdict,
            deadline=plan.incident.deadline,
            seconds=seconds,
            revoked=result.revoked,
            shards_published=len(published.published),
            shards_refused=len(published.refused),
            largest_shard_bytes=max(sizes, default=0),
            budget_bytes=plan.verdict.budget_bytes,
            # the campaign's last batch starts at `last`; the work itself takes `total`
            finished_by=last + timedelta(seconds=total),
            directory=str(workdir) if keep else None,
        )
        copy.close()
        return report
    finally:
        if keep is None:
            shutil.rmtree(workdir, ignore_errors=True)
