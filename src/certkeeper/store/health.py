"""The figures an operator alerts on, read from the inventory in a few queries: status
freshness (OCSP and CRL shards), shard sizes and unpublished revocations, and each open
incident's deadline and remaining certificates. Cheap enough to run on every scrape."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, and_, func, select

from certkeeper.store.tables import campaign_items, crl_shards, incidents, issuers, ocsp_responses


@dataclass(frozen=True)
class ShardFigures:
    issuer: str
    shard: int
    this_update: datetime | None
    next_update: datetime | None
    size_bytes: int
    pending: int  # revocations recorded but not yet on a published CRL


@dataclass(frozen=True)
class IncidentFigures:
    incident_id: int
    deadline: datetime
    remaining: int  # certificates still to revoke (neither revoked nor left to expire)


@dataclass(frozen=True)
class HealthFigures:
    oldest_ocsp_this_update: datetime | None  # among responses for unexpired certificates
    stale_ocsp: int  # responses for unexpired certificates past their nextUpdate
    ocsp_by_status: dict[str, int]
    shards: list[ShardFigures]
    incidents: list[IncidentFigures]


def health_figures(engine: Engine, now: datetime) -> HealthFigures:
    live = ocsp_responses.c.not_after > now
    with engine.connect() as conn:
        oldest, stale = conn.execute(
            select(
                func.min(ocsp_responses.c.this_update),
                func.count().filter(ocsp_responses.c.next_update < now),
            ).where(live)
        ).one()
        by_status = {
            str(status): int(n)
            for status, n in conn.execute(
                select(ocsp_responses.c.status, func.count())
                .where(live)
                .group_by(ocsp_responses.c.status)
            )
        }
        shards = [
            ShardFigures(
                str(row.name),
                int(row.shard),
                row.this_update,
                row.next_update,
                int(row.size_bytes),
                max(0, int(row.revision) - int(row.published_revision)),
            )
            for row in conn.execute(
                select(
                    issuers.c.name,
                    crl_shards.c.shard,
                    crl_shards.c.this_update,
                    crl_shards.c.next_update,
                    crl_shards.c.size_bytes,
                    crl_shards.c.revision,
                    crl_shards.c.published_revision,
                )
                .join(issuers, issuers.c.id == crl_shards.c.issuer_id)
                .order_by(issuers.c.name, crl_shards.c.shard)
            )
        ]
        remaining = func.count(campaign_items.c.serial).filter(
            and_(
                campaign_items.c.kind == "certificate",
                campaign_items.c.revoked_at.is_(None),
                campaign_items.c.not_after > now,
            )
        )
        open_incidents = [
            IncidentFigures(int(row.id), row.deadline, int(row.remaining or 0))
            for row in conn.execute(
                select(incidents.c.id, incidents.c.deadline, remaining.label("remaining"))
                .select_from(
                    incidents.outerjoin(
                        campaign_items, campaign_items.c.incident_id == incidents.c.id
                    )
                )
                .where(incidents.c.state == "open")
                .group_by(incidents.c.id, incidents.c.deadline)
            )
        ]
    return HealthFigures(oldest, int(stale or 0), by_status, shards, open_incidents)
