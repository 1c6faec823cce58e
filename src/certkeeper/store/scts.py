"""SCTs stored with certificates, and precertificates waiting for them.

A precertificate whose SCTs could not be gathered keeps its serial state
("precertificate") and its OCSP status; `ct_pending` says why it waits and keeps what
`issue --resume` needs that the precertificate does not carry.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Connection, Engine, delete, insert, select, update

from certkeeper.errors import NotFound
from certkeeper.store.database import write_transaction
from certkeeper.store.tables import ct_pending, scts, serials


@dataclass(frozen=True)
class SctRecord:
    log_id: str  # hex
    timestamp_ms: int
    signature: bytes  # DigitallySigned
    sct: bytes  # the whole TLS-encoded SCT


@dataclass(frozen=True)
class PendingRecord:
    serial: str
    issuer_id: int
    state: str
    profile_id: str
    profile_version: int
    crl_shard: int
    subscriber_id: str | None
    cps_version: str
    reason: str
    attempts: int
    updated_at: datetime


class SctStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    @staticmethod
    def put(conn: Connection, serial: str, records: Sequence[SctRecord]) -> None:
        """Inside the transaction that stores the certificate; clears its pending row."""
        if records:
            conn.execute(
                insert(scts),
                [
                    {
                        "serial": serial,
                        "log_id": r.log_id,
                        "timestamp_ms": r.timestamp_ms,
                        "signature": r.signature,
                        "sct": r.sct,
                    }
                    for r in records
                ],
            )
        conn.execute(delete(ct_pending).where(ct_pending.c.serial == serial))

    def for_serial(self, serial: str) -> list[SctRecord]:
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(scts).where(scts.c.serial == serial).order_by(scts.c.id)
            ).all()
        return [SctRecord(r.log_id, r.timestamp_ms, r.signature, r.sct) for r in rows]

    def for_serials(self, serial_list: Sequence[str]) -> dict[str, list[SctRecord]]:
        """The SCTs of each of these serials that has any (a bounded batch)."""
        out: dict[str, list[SctRecord]] = {}
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(scts).where(scts.c.serial.in_(serial_list)).order_by(scts.c.id)
            ).all()
        for r in rows:
            out.setdefault(r.serial, []).append(
                SctRecord(r.log_id, r.timestamp_ms, r.signature, r.sct)
            )
        return out

    def mark_pending(
        self,
        serial: str,
        *,
        subscriber_id: str | None,
        cps_version: str,
        reason: str,
        now: datetime,
    ) -> None:
        """Record why the precertificate waits; its serial stays "precertificate"."""
        with write_transaction(self.engine) as conn:
            attempts = conn.execute(
                select(ct_pending.c.attempts).where(ct_pending.c.serial == serial)
            ).scalar()
            if attempts is None:
                conn.execute(
                    insert(ct_pending).values(
                        serial=serial,
                        subscriber_id=subscriber_id,
                        cps_version=cps_version,
                        reason=reason,
                        attempts=1,
                        updated_at=now,
                    )
                )
            else:
                conn.execute(
                    update(ct_pending)
                    .where(ct_pending.c.serial == serial)
                    .values(reason=reason, attempts=attempts + 1, updated_at=now)
                )
            conn.execute(
                update(serials)
                .where(serials.c.serial == serial)
                .values(failure=f"waiting for SCTs: {reason}")
            )

    def pending(self, serial: str) -> PendingRecord:
        query = (
            select(serials, ct_pending)
            .join(ct_pending, ct_pending.c.serial == serials.c.serial)
            .where(serials.c.serial == serial)
        )
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        if row is None:
            raise NotFound(f"serial {serial} is not waiting for SCTs")
        m = row._mapping
        return PendingRecord(
            serial=serial,
            issuer_id=m[serials.c.issuer_id],
            state=m[serials.c.state],
            profile_id=m[serials.c.profile_id],
            profile_version=m[serials.c.profile_version],
            crl_shard=m[serials.c.crl_shard],
            subscriber_id=m[ct_pending.c.subscriber_id],
            cps_version=m[ct_pending.c.cps_version],
            reason=m[ct_pending.c.reason],
            attempts=m[ct_pending.c.attempts],
            updated_at=m[ct_pending.c.updated_at],
        )

    def pending_serials(self) -> list[str]:
        with self.engine.connect() as conn:
            return [str(s) for s in conn.execute(select(ct_pending.c.serial)).scalars()]

    def facts(self, serial_list: Sequence[str]) -> dict[str, SerialFacts]:
        """`serial_facts` of this database (what a CT log audit compares)."""
        return serial_facts(self.engine, serial_list)

    def with_scts(self) -> list[tuple[str, bytes, bytes, int]]:
        """`certificates_with_scts` of this database."""
        return certificates_with_scts(self.engine)


@dataclass(frozen=True)
class SerialFacts:
    """What the inventory says about a serial a CT log shows."""

    state: str
    precertificate_sha256: str | None
    certificate_sha256: str | None
    ocsp_status: str | None


def serial_facts(engine: Engine, serial_list: Sequence[str]) -> dict[str, SerialFacts]:
    """Facts for each known serial among `serial_list` (unknown ones are left out)."""
    from certkeeper.store.tables import certificates, ocsp_responses, precertificates

    query = (
        select(
            serials.c.serial,
            serials.c.state,
            precertificates.c.sha256,
            certificates.c.sha256,
            ocsp_responses.c.status,
        )
        .select_from(serials)
        .outerjoin(precertificates, precertificates.c.serial == serials.c.serial)
        .outerjoin(certificates, certificates.c.serial == serials.c.serial)
        .outerjoin(ocsp_responses, ocsp_responses.c.serial == serials.c.serial)
    )
    out: dict[str, SerialFacts] = {}
    with engine.connect() as conn:
        for start in range(0, len(serial_list), 500):
            chunk = list(serial_list[start : start + 500])
            for row in conn.execute(query.where(serials.c.serial.in_(chunk))):
                out[row[0]] = SerialFacts(row[1], row[2], row[3], row[4])
    return out


def certificates_with_scts(engine: Engine) -> list[tuple[str, bytes, bytes, int]]:
    """(serial, certificate DER, precertificate DER, issuer id) of every certificate
    stored with SCTs."""
    from certkeeper.store.tables import certificates, precertificates

    query = (
        select(
            certificates.c.serial,
            certificates.c.der,
            precertificates.c.der,
            certificates.c.issuer_id,
        )
        .join(precertificates, precertificates.c.serial == certificates.c.serial)
        .where(certificates.c.serial.in_(select(scts.c.serial).distinct()))
        .order_by(certificates.c.id)
    )
    with engine.connect() as conn:
        return [(r[0], r[1], r[2], r[3]) for r in conn.execute(query)]
