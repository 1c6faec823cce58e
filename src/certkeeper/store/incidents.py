"""Incidents, their event log, campaign items, contacts and notifications."""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import (
    Connection,
    Engine,
    Integer,
    Text,
    and_,
    func,
    insert,
    literal,
    select,
    update,
)

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.errors import NotFound
from certkeeper.store.blocked_keys import block_serials
from certkeeper.store.crl_repo import add_pending
from certkeeper.store.database import write_transaction
from certkeeper.store.queries import certificate_conditions, precertificate_conditions
from certkeeper.store.tables import (
    UtcDateTime,
    campaign_items,
    certificates,
    incident_events,
    incidents,
    notifications,
    precertificates,
    renewal_windows,
    revocations,
    serials,
    subscriber_contacts,
)
from certkeeper.x509.crl import KEY_COMPROMISE


@dataclass(frozen=True)
class IncidentRecord:
    id: int | None
    title: str
    br_item: int
    reason: int
    aware_at: datetime
    deadline: datetime
    selector: dict[str, Any]
    state: str
    explanation_url: str | None
    details: dict[str, Any]
    created_at: datetime


@dataclass(frozen=True)
class Event:
    at: datetime
    actor: str
    event: str
    detail: dict[str, Any]


@dataclass(frozen=True)
class CampaignItem:
    serial: str
    sha256: str
    kind: str  # certificate | precertificate
    issuer_id: int
    crl_shard: int
    not_after: datetime
    subscriber_id: str | None
    planned_at: datetime | None = None
    batch: int | None = None
    revoked_at: datetime | None = None


@dataclass(frozen=True)
class Notification:
    subscriber_id: str
    address: str
    kind: str
    state: str
    attempts: int
    last_error: str | None
    sent_at: datetime | None
    last_attempt_at: datetime | None = None


def _incident(row: Any) -> IncidentRecord:
    m = dict(row._mapping)
    m["selector"] = json.loads(m["selector"])
    m["details"] = json.loads(m["details"])
    return IncidentRecord(**m)


class IncidentStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- incidents and events ---------------------------------------------------------

    def create(self, rec: IncidentRecord, actor: str, items: Sequence[CampaignItem]) -> int:
        """The incident, its affected set and its first event, in one transaction."""
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                insert(incidents).values(
                    title=rec.title,
                    br_item=rec.br_item,
                    reason=rec.reason,
                    aware_at=rec.aware_at,
                    deadline=rec.deadline,
                    selector=json.dumps(rec.selector, sort_keys=True),
                    state=rec.state,
                    explanation_url=rec.explanation_url,
                    details=json.dumps(rec.details, sort_keys=True),
                    created_at=rec.created_at,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            incident_id = int(key[0])
            self._insert_items(conn, incident_id, items)
            self._event(
                conn,
                incident_id,
                rec.created_at,
                actor,
                "opened",
                {
                    "title": rec.title,
                    "br_item": rec.br_item,
                    "deadline": rec.deadline.isoformat(),
                    "selector": rec.selector,
                    # counted apart, never added together (docs/ledger.md)
                    "certificates": sum(1 for i in items if i.kind == "certificate"),
                    "precertificates_without_final": sum(
                        1 for i in items if i.kind == "precertificate"
                    ),
                },
            )
        return incident_id

    @staticmethod
    def _insert_items(conn: Connection, incident_id: int, items: Sequence[CampaignItem]) -> None:
        rows = [
            {
                "incident_id": incident_id,
                "serial": i.serial,
                "sha256": i.sha256,
                "kind": i.kind,
                "issuer_id": i.issuer_id,
                "crl_shard": i.crl_shard,
                "not_after": i.not_after,
                "subscriber_id": i.subscriber_id,
                "planned_at": None,
                "batch": None,
                "revoked_at": None,
            }
            for i in items
        ]
        for start in range(0, len(rows), 5000):
            conn.execute(insert(campaign_items), rows[start : start + 5000])
        if conn.dialect.name == "postgresql":
            # Fresh statistics, or PostgreSQL scans the whole table for every batch of
            # serials that plans and revocations look up (measured: 1.4 s per statement
            # at 200k items instead of milliseconds).
            conn.exec_driver_sql("ANALYZE campaign_items")

    def get(self, incident_id: int) -> IncidentRecord:
        with self.engine.connect() as conn:
            row = conn.execute(select(incidents).where(incidents.c.id == incident_id)).first()
        if row is None:
            raise NotFound(f"no incident {incident_id}")
        return _incident(row)

    def all(self) -> list[IncidentRecord]:
        with self.engine.connect() as conn:
            return [_incident(r) for r in conn.execute(select(incidents).order_by(incidents.c.id))]

    def update_details(self, incident_id: int, details: dict[str, Any]) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(incidents)
                .where(incidents.c.id == incident_id)
                .values(details=json.dumps(details, sort_keys=True))
            )

    def log(
        self,
        incident_id: int,
        at: datetime,
        actor: str,
        event: str,
        detail: dict[str, Any],
        conn: Connection | None = None,
    ) -> None:
        if conn is not None:
            self._event(conn, incident_id, at, actor, event, detail)
            return
        with write_transaction(self.engine) as tx:
            self._event(tx, incident_id, at, actor, event, detail)

    @staticmethod
    def _event(
        conn: Connection,
        incident_id: int,
        at: datetime,
        actor: str,
        event: str,
        detail: dict[str, Any],
    ) -> None:
        conn.execute(
            insert(incident_events).values(
                incident_id=incident_id,
                at=at,
                actor=actor,
                event=event,
                detail=json.dumps(detail, sort_keys=True, default=str),
            )
        )

    def events(self, incident_id: int) -> list[Event]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(incident_events)
                .where(incident_events.c.incident_id == incident_id)
                .order_by(incident_events.c.at, incident_events.c.id)
            )
            return [Event(r.at, r.actor, r.event, json.loads(r.detail)) for r in rows]

    # -- campaign items ---------------------------------------------------------------

    def affected(
        self, flt: CertificateFilter, without_final_precertificates: bool = True
    ) -> Iterator[CampaignItem]:
        """What an incident needs of each matching certificate, without its DER: final
        certificates, then precertificates that have no final certificate."""
        c = certificates.c
        stmt = select(
            c.serial, c.sha256, c.issuer_id, c.crl_shard, c.not_after, c.subscriber_id
        ).where(*certificate_conditions(flt))
        with self.engine.connect() as conn:
            for serial, sha256, issuer_id, shard, not_after, subscriber in conn.execute(stmt):
                yield CampaignItem(
                    serial, sha256, "certificate", issuer_id, shard, not_after, subscriber
                )
            if not without_final_precertificates:
                return
            p = precertificates.c
            assigned = serials.alias("assigned")  # the filter's own EXISTS uses `serials`
            pre = (
                select(p.serial, p.sha256, p.issuer_id, assigned.c.crl_shard, p.not_after)
                .join(assigned, assigned.c.serial == p.serial)
                .where(
                    *precertificate_conditions(flt),
                    ~select(c.id)
                    .where(c.serial == p.serial)
                    .correlate_except(certificates)
                    .exists(),
                )
            )
            for serial, sha256, issuer_id, shard, not_after in conn.execute(pre):
                yield CampaignItem(
                    serial, sha256, "precertificate", issuer_id, shard, not_after, None
                )

    def items(self, incident_id: int, kind: str | None = None) -> Iterator[CampaignItem]:
        c = campaign_items.c
        stmt = select(
            c.serial,
            c.sha256,
            c.kind,
            c.issuer_id,
            c.crl_shard,
            c.not_after,
            c.subscriber_id,
            c.planned_at,
            c.batch,
            c.revoked_at,
        ).where(c.incident_id == incident_id)
        if kind is not None:
            stmt = stmt.where(c.kind == kind)
        with self.engine.connect() as conn:
            for row in conn.execute(stmt.order_by(c.serial)):
                yield CampaignItem(**row._mapping)

    def count(self, incident_id: int) -> int:
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count())
                    .select_from(campaign_items)
                    .where(campaign_items.c.incident_id == incident_id)
                ).scalar_one()
            )

    def set_plan(
        self,
        incident_id: int,
        plan: Sequence[tuple[str, datetime | None, int]],
        at: datetime,
        actor: str,
        summary: dict[str, Any],
    ) -> None:
        """Record every item's planned time and batch, and the plan event, atomically.

        Items sharing a (time, batch) are updated together: a million-certificate plan
        is a few hundred statements, not a million."""
        c = campaign_items.c
        groups: dict[tuple[datetime | None, int], list[str]] = {}
        for serial, planned_at, batch in plan:
            groups.setdefault((planned_at, batch), []).append(serial)
        with write_transaction(self.engine) as conn:
            total = conn.execute(
                select(func.count()).select_from(campaign_items).where(c.incident_id == incident_id)
            ).scalar_one()
            if len(groups) == 1 and len(plan) == total:
                # Everything at once (the usual plan): one statement, no serial lists.
                ((planned_at, batch),) = groups
                conn.execute(
                    update(campaign_items)
                    .where(c.incident_id == incident_id)
                    .values(planned_at=planned_at, batch=batch)
                )
                groups = {}
            for (planned_at, batch), serials in groups.items():
                for start in range(0, len(serials), 900):
                    conn.execute(
                        update(campaign_items)
                        .where(
                            and_(
                                c.incident_id == incident_id,
                                c.serial.in_(serials[start : start + 900]),
                            )
                        )
                        .values(planned_at=planned_at, batch=batch)
                    )
            self._event(conn, incident_id, at, actor, "planned", summary)

    def batches(self, incident_id: int) -> list[int]:
        c = campaign_items.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.batch)
                .where(c.incident_id == incident_id, c.batch >= 0)
                .distinct()
                .order_by(c.batch)
            )
            return [int(r[0]) for r in rows]

    def pending_in_batch(self, incident_id: int, batch: int) -> list[CampaignItem]:
        """Items of a batch not yet revoked (by this campaign or any other revocation)."""
        c = campaign_items.c
        stmt = (
            select(
                c.serial,
                c.sha256,
                c.kind,
                c.issuer_id,
                c.crl_shard,
                c.not_after,
                c.subscriber_id,
                c.planned_at,
                c.batch,
                c.revoked_at,
            )
            .where(c.incident_id == incident_id, c.batch == batch, c.revoked_at.is_(None))
            .order_by(c.serial)
        )
        with self.engine.connect() as conn:
            return [CampaignItem(**row._mapping) for row in conn.execute(stmt)]

    @staticmethod
    def revoke_items(
        conn: Connection,
        incident_id: int,
        serials_: Sequence[str],
        at: datetime,
        reason: int | None,
        evidence: str,
    ) -> None:
        """Record the revocation of campaign items the caller found unrevoked, copying
        issuer, shard and notAfter from the items: one INSERT ... SELECT per 900 serials,
        no per-row work in Python. A serial revoked meanwhile by someone else fails the
        primary key and rolls the caller's transaction back."""
        c = campaign_items.c
        columns = [
            "serial",
            "issuer_id",
            "crl_shard",
            "revoked_at",
            "reason",
            "not_after",
            "incident_id",
            "evidence",
            "recorded_at",
        ]
        pending: dict[tuple[int, int], int] = {}
        for start in range(0, len(serials_), 900):
            part = serials_[start : start + 900]
            source = select(
                c.serial,
                c.issuer_id,
                c.crl_shard,
                literal(at, UtcDateTime),
                literal(reason, Integer),
                c.not_after,
                literal(incident_id, Integer),
                literal(evidence, Text),
                literal(at, UtcDateTime),
            ).where(c.incident_id == incident_id, c.serial.in_(part))
            conn.execute(insert(revocations).from_select(columns, source))
            shards = (
                select(c.issuer_id, c.crl_shard, func.count())
                .where(c.incident_id == incident_id, c.serial.in_(part))
                .group_by(c.issuer_id, c.crl_shard)
            )
            for issuer_id, shard, n in conn.execute(shards):
                key = (int(issuer_id), int(shard))
                pending[key] = pending.get(key, 0) + int(n)
        add_pending(conn, pending)  # in this transaction: no revocation without it
        if reason == KEY_COMPROMISE:  # BR 6.1.1.3: these keys are never certified again
            block_serials(conn, serials_, source="revocation", detail=evidence, now=at)

    @staticmethod
    def mark_revoked(
        conn: Connection, incident_id: int, serials: Sequence[str], at: datetime
    ) -> None:
        c = campaign_items.c
        for start in range(0, len(serials), 500):
            conn.execute(
                update(campaign_items)
                .where(c.incident_id == incident_id, c.serial.in_(serials[start : start + 500]))
                .values(revoked_at=at)
            )

    def not_befores(self, incident_id: int) -> dict[str, datetime]:
        """Each affected item's notBefore (from its certificate or precertificate), which
        with its notAfter says whether it is short-lived (BR 1.6.1)."""
        c = campaign_items.c
        out: dict[str, datetime] = {}
        with self.engine.connect() as conn:
            for table, kind in ((certificates, "certificate"), (precertificates, "precertificate")):
                stmt = (
                    select(c.serial, table.c.not_before)
                    .join(table, table.c.sha256 == c.sha256)
                    .where(c.incident_id == incident_id, c.kind == kind)
                )
                out.update({s: t for s, t in conn.execute(stmt)})
        return out

    def revocation_times(self, incident_id: int) -> dict[str, datetime]:
        """When each affected serial was revoked, by this campaign or otherwise."""
        c = campaign_items.c
        r = revocations.c
        stmt = (
            select(c.serial, r.revoked_at)
            .join(revocations, r.serial == c.serial)
            .where(c.incident_id == incident_id)
        )
        with self.engine.connect() as conn:
            return {s: t for s, t in conn.execute(stmt)}

    def shard_revocations(
        self, issuer_id: int, shard: int
    ) -> list[tuple[str, datetime, int | None, datetime]]:
        """(serial, revoked at, reason, certificate notAfter) of every revocation in a shard."""
        r = revocations.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(r.serial, r.revoked_at, r.reason, r.not_after).where(
                    r.issuer_id == issuer_id, r.crl_shard == shard
                )
            )
            return [(a, b, c, d) for a, b, c, d in rows]

    # -- contacts and notifications ---------------------------------------------------

    def set_contacts(
        self, subscriber_id: str, primary: Sequence[str], backup: Sequence[str]
    ) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                subscriber_contacts.delete().where(
                    subscriber_contacts.c.subscriber_id == subscriber_id
                )
            )
            rows = [
                {"subscriber_id": subscriber_id, "address": a, "kind": "primary"} for a in primary
            ]
            rows += [
                {"subscriber_id": subscriber_id, "address": a, "kind": "backup"}
                for a in backup
                if a not in primary
            ]
            if rows:
                conn.execute(insert(subscriber_contacts), rows)

    def contacts(self, subscriber_id: str) -> list[tuple[str, str]]:
        """(address, kind), primary first."""
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(subscriber_contacts.c.address, subscriber_contacts.c.kind)
                .where(subscriber_contacts.c.subscriber_id == subscriber_id)
                .order_by(subscriber_contacts.c.kind.desc(), subscriber_contacts.c.address)
            )
            return [(a, k) for a, k in rows]

    def ensure_notifications(
        self, incident_id: int, targets: Sequence[tuple[str, str, str]]
    ) -> None:
        """Pending notification rows for (subscriber, address, kind) not yet recorded."""
        n = notifications.c
        with write_transaction(self.engine) as conn:
            existing = {
                (s, a)
                for s, a in conn.execute(
                    select(n.subscriber_id, n.address).where(n.incident_id == incident_id)
                )
            }
            rows = [
                {
                    "incident_id": incident_id,
                    "subscriber_id": s,
                    "address": a,
                    "kind": k,
                    "state": "pending",
                    "attempts": 0,
                    "last_error": None,
                    "sent_at": None,
                }
                for s, a, k in targets
                if (s, a) not in existing
            ]
            if rows:
                conn.execute(insert(notifications), rows)

    def notifications(
        self, incident_id: int, states: Sequence[str] | None = None
    ) -> list[Notification]:
        n = notifications.c
        stmt = select(
            n.subscriber_id,
            n.address,
            n.kind,
            n.state,
            n.attempts,
            n.last_error,
            n.sent_at,
            n.last_attempt_at,
        ).where(n.incident_id == incident_id)
        if states is not None:
            stmt = stmt.where(n.state.in_(states))
        with self.engine.connect() as conn:
            return [
                Notification(*r) for r in conn.execute(stmt.order_by(n.subscriber_id, n.address))
            ]

    def record_delivery(
        self,
        incident_id: int,
        subscriber_id: str,
        address: str,
        ok: bool,
        error: str | None,
        at: datetime,
    ) -> None:
        n = notifications.c
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(notifications)
                .where(
                    n.incident_id == incident_id,
                    n.subscriber_id == subscriber_id,
                    n.address == address,
                )
                .values(
                    state="sent" if ok else "failed",
                    attempts=n.attempts + 1,
                    last_error=error,
                    sent_at=at if ok else None,
                    last_attempt_at=at,
                )
            )

    # -- ARI renewal windows ------------------------------------------------------------

    def set_renewal_windows(
        self,
        incident_id: int,
        serials: Sequence[str],
        start: datetime,
        end: datetime,
        explanation_url: str | None,
    ) -> None:
        with write_transaction(self.engine) as conn:
            for start_i in range(0, len(serials), 500):
                chunk = list(serials[start_i : start_i + 500])
                conn.execute(renewal_windows.delete().where(renewal_windows.c.serial.in_(chunk)))
                conn.execute(
                    insert(renewal_windows),
                    [
                        {
                            "serial": s,
                            "start": start,
                            "end": end,
                            "explanation_url": explanation_url,
                            "incident_id": incident_id,
                        }
                        for s in chunk
                    ],
                )

    def renewal_window(self, serial: str) -> tuple[datetime, datetime, str | None] | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(
                    renewal_windows.c.start,
                    renewal_windows.c.end,
                    renewal_windows.c.explanation_url,
                ).where(renewal_windows.c.serial == serial)
            ).first()
        return None if row is None else (row[0], row[1], row[2])
