"""Pre-signed OCSP responses: one current response per serial, and what refresh needs.

Two rules are enforced here, in SQL, rather than trusted to callers:

- A "good" response never replaces a "revoked" one. A refresh that read the status
  before a revocation committed may finish after it; its write is dropped.
- A response never replaces a newer one (by producedAt), so two refreshers that race
  leave the later signature in place.

`put` accepts an open connection so that the first "good" response is written in the
very transaction that stores the precertificate (seed 003).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, bindparam, func, or_, select
from sqlalchemy.dialects import postgresql, sqlite

from certkeeper.store.database import write_transaction
from certkeeper.store.sqlite_reader import SqliteLookup, parse_time, sqlite_file
from certkeeper.store.tables import (
    issuers,
    ocsp_responses,
    precertificates,
    revocations,
    serials,
)

STATUSES = ("good", "revoked")


@dataclass(frozen=True, slots=True)
class OcspRecord:
    """One signed response as stored. `not_after` is the certificate's: refresh stops
    once the certificate has expired."""

    serial: str
    issuer_id: int
    status: str  # good | revoked
    der: bytes
    produced_at: datetime
    this_update: datetime
    next_update: datetime
    not_after: datetime


@dataclass(frozen=True, slots=True)
class StatusInputs:
    """What signing a serial's status needs from the inventory."""

    serial: str
    issuer_id: int
    not_after: datetime  # of the (pre)certificate
    revoked_at: datetime | None
    reason: int | None
    this_update: datetime | None = None  # of the response being replaced, if any
    next_update: datetime | None = None


@dataclass(frozen=True, slots=True)
class ResponderRow:
    """A responder lookup: the serial's state (None: never assigned under this issuer)
    and its stored response, if any."""

    serial_state: str | None
    response: OcspRecord | None


def _record(row: Any) -> OcspRecord:
    return OcspRecord(
        serial=row.serial,
        issuer_id=row.issuer_id,
        status=row.status,
        der=bytes(row.der),
        produced_at=row.produced_at,
        this_update=row.this_update,
        next_update=row.next_update,
        not_after=row.not_after,
    )


def _values(rec: OcspRecord) -> dict[str, Any]:
    if rec.status not in STATUSES:
        raise ValueError(f"OCSP status {rec.status!r} is not one of {STATUSES}")
    return {
        "serial": rec.serial,
        "issuer_id": rec.issuer_id,
        "status": rec.status,
        "der": rec.der,
        "produced_at": rec.produced_at,
        "this_update": rec.this_update,
        "next_update": rec.next_update,
        "not_after": rec.not_after,
    }


# The responder's query, built once: constructing the statement per call cost about
# two thirds of each lookup (measured: ~0.5 ms against ~0.16 ms with bound parameters).
_LOOKUP = (
    select(serials.c.state, ocsp_responses)
    .select_from(serials.outerjoin(ocsp_responses, ocsp_responses.c.serial == serials.c.serial))
    .where(serials.c.serial == bindparam("serial"), serials.c.issuer_id == bindparam("issuer_id"))
)


class OcspStore:
    """Repository of pre-signed responses over one engine; cheap to create."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        path = sqlite_file(engine)
        self._fast = SqliteLookup(path) if path is not None else None

    # -- writes ----------------------------------------------------------------------

    def put(self, record: OcspRecord, conn: Connection | None = None) -> None:
        """Insert or replace the serial's response (see the module rules)."""
        self.put_many([record], conn)

    def put_many(self, records: Sequence[OcspRecord], conn: Connection | None = None) -> None:
        """One statement for a batch; inside `conn`'s transaction when given."""
        if not records:
            return
        if conn is None:
            with write_transaction(self.engine) as own:
                self._upsert(own, records)
        else:
            self._upsert(conn, records)

    @classmethod
    def replace_many_in(cls, conn: Connection, records: Sequence[OcspRecord]) -> None:
        """Replace existing responses that share their times (a mass revocation chunk).

        Every serial with a precertificate has a response from the moment it was issued,
        so this is a plain UPDATE per row with the shared times bound once; any row not
        found (a serial whose response was never stored) falls back to the upsert."""
        if not records:
            return
        first = records[0]
        shared = {
            "produced_at": first.produced_at,
            "this_update": first.this_update,
            "next_update": first.next_update,
        }
        if any(
            (r.produced_at, r.this_update, r.next_update) != tuple(shared.values()) for r in records
        ):
            cls._upsert(conn, records)
            return
        # Driver-level executemany: the shared times are converted once by the column
        # type's own bind processor (the same storage form SQLAlchemy would write), and
        # each row is a plain tuple. Through SQLAlchemy's per-row parameter processing
        # this statement cost 95 us a row; a million-row campaign spent most of its time here.
        dialect = conn.dialect
        marker = "?" if dialect.paramstyle == "qmark" else "%s"
        times = []
        for name, value in shared.items():
            process = ocsp_responses.c[name].type.bind_processor(dialect)
            times.append(process(value) if process else value)
        sql = (
            f"UPDATE ocsp_responses SET status = {marker}, der = {marker}, "
            f"produced_at = {marker}, this_update = {marker}, next_update = {marker} "
            f"WHERE serial = {marker}"
        )
        produced, this_update, next_update = times
        result = conn.exec_driver_sql(
            sql,
            [(r.status, r.der, produced, this_update, next_update, r.serial) for r in records],
        )
        if result.rowcount != len(records):
            present = {
                s
                for (s,) in conn.execute(
                    select(ocsp_responses.c.serial).where(
                        ocsp_responses.c.serial.in_([r.serial for r in records])
                    )
                )
            }
            cls._upsert(conn, [r for r in records if r.serial not in present])

    @classmethod
    def put_many_in(cls, conn: Connection, records: Sequence[OcspRecord]) -> None:
        """`put_many` inside a transaction the caller holds (no engine needed)."""
        if records:
            cls._upsert(conn, records)

    @staticmethod
    def _upsert(conn: Connection, records: Sequence[OcspRecord]) -> None:
        dialect = conn.dialect.name
        if dialect == "sqlite":
            stmt: Any = sqlite.insert(ocsp_responses)
        elif dialect == "postgresql":
            stmt = postgresql.insert(ocsp_responses)
        else:
            raise RuntimeError(f"unsupported database dialect {dialect}")
        new = stmt.excluded
        stmt = stmt.on_conflict_do_update(
            index_elements=[ocsp_responses.c.serial],
            set_={
                "issuer_id": new.issuer_id,
                "status": new.status,
                "der": new.der,
                "produced_at": new.produced_at,
                "this_update": new.this_update,
                "next_update": new.next_update,
                "not_after": new.not_after,
            },
            where=and_(
                new.produced_at >= ocsp_responses.c.produced_at,
                or_(ocsp_responses.c.status != "revoked", new.status == "revoked"),
            ),
        )
        conn.execute(stmt, [_values(r) for r in records])

    # -- reads -----------------------------------------------------------------------

    def get(self, serial: str, conn: Connection | None = None) -> OcspRecord | None:
        query = select(ocsp_responses).where(ocsp_responses.c.serial == serial)
        if conn is not None:
            row = conn.execute(query).first()
        else:
            with self.engine.connect() as own:
                row = own.execute(query).first()
        return None if row is None else _record(row)

    @property
    def lookup_is_local(self) -> bool:
        """True when `lookup` reads a local SQLite file (cheap enough to call inline)."""
        return self._fast is not None

    def lookup(self, issuer_id: int, serial: str) -> ResponderRow:
        """The responder's one query: the serial's state under this issuer and its
        response. A serial assigned under another issuer counts as never assigned."""
        if self._fast is not None:
            raw = self._fast.lookup(serial, issuer_id)
            if raw is None:
                return ResponderRow(None, None)
            state, r_serial, r_issuer, status, der, produced, this_update, next_update, end = raw
            if der is None:
                return ResponderRow(str(state), None)
            assert r_serial is not None and r_issuer is not None and status is not None
            return ResponderRow(
                str(state),
                OcspRecord(
                    serial=r_serial,
                    issuer_id=int(r_issuer),
                    status=status,
                    der=bytes(der),
                    produced_at=parse_time(produced),
                    this_update=parse_time(this_update),
                    next_update=parse_time(next_update),
                    not_after=parse_time(end),
                ),
            )
        with self.engine.connect() as conn:
            row = conn.execute(_LOOKUP, {"serial": serial, "issuer_id": issuer_id}).first()
        if row is None:
            return ResponderRow(None, None)
        response = None if row.der is None else _record(row)
        return ResponderRow(str(row.state), response)

    def issuer_hashes(self, algorithm: str = "sha1") -> dict[tuple[bytes, bytes], int]:
        """(issuerNameHash, issuerKeyHash) -> issuer id, for every issuing CA in any state
        (a retired CA's certificates still need status until they expire)."""
        from certkeeper.x509.ocsp import issuer_hashes

        with self.engine.connect() as conn:
            rows = conn.execute(
                select(issuers.c.id, issuers.c.cert_der).where(issuers.c.role == "issuing")
            ).all()
        return {issuer_hashes(bytes(r.cert_der), algorithm): int(r.id) for r in rows}

    def status_inputs(
        self, serial_list: Sequence[str], conn: Connection | None = None
    ) -> dict[str, StatusInputs]:
        """Issuer, expiry and revocation of each serial that has a precertificate."""
        query = (
            select(
                serials.c.serial,
                serials.c.issuer_id,
                precertificates.c.not_after,
                revocations.c.revoked_at,
                revocations.c.reason,
            )
            .select_from(
                serials.join(
                    precertificates, precertificates.c.serial == serials.c.serial
                ).outerjoin(revocations, revocations.c.serial == serials.c.serial)
            )
            .where(serials.c.serial.in_(list(serial_list)))
        )
        if conn is not None:
            rows = conn.execute(query).all()
        else:
            with self.engine.connect() as own:
                rows = own.execute(query).all()
        return {
            r.serial: StatusInputs(r.serial, r.issuer_id, r.not_after, r.revoked_at, r.reason)
            for r in rows
        }

    def due(
        self, now: datetime, refresh_before: datetime, limit: int, after: str = ""
    ) -> list[StatusInputs]:
        """Responses to re-sign, in serial order after `after` (keyset pagination):
        those whose nextUpdate is at or before `refresh_before`, and "good" ones whose
        serial has been revoked since (a revocation whose re-sign did not happen), in
        both cases only for certificates that have not expired by `now`."""
        stale_good = and_(ocsp_responses.c.status == "good", revocations.c.serial.is_not(None))
        query = (
            select(
                ocsp_responses.c.serial,
                ocsp_responses.c.issuer_id,
                ocsp_responses.c.not_after,
                revocations.c.revoked_at,
                revocations.c.reason,
                ocsp_responses.c.this_update,
                ocsp_responses.c.next_update,
            )
            .select_from(
                ocsp_responses.outerjoin(
                    revocations, revocations.c.serial == ocsp_responses.c.serial
                )
            )
            .where(
                ocsp_responses.c.serial > after,
                ocsp_responses.c.not_after > now,
                or_(ocsp_responses.c.next_update <= refresh_before, stale_good),
            )
            .order_by(ocsp_responses.c.serial)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [
            StatusInputs(
                r.serial,
                r.issuer_id,
                r.not_after,
                r.revoked_at,
                r.reason,
                r.this_update,
                r.next_update,
            )
            for r in rows
        ]

    def count_due(self, now: datetime, refresh_before: datetime) -> int:
        stale_good = and_(ocsp_responses.c.status == "good", revocations.c.serial.is_not(None))
        query = (
            select(func.count())
            .select_from(
                ocsp_responses.outerjoin(
                    revocations, revocations.c.serial == ocsp_responses.c.serial
                )
            )
            .where(
                ocsp_responses.c.not_after > now,
                or_(ocsp_responses.c.next_update <= refresh_before, stale_good),
            )
        )
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    def counts(self, now: datetime) -> dict[str, int]:
        """Responses by status, plus those whose nextUpdate has passed for certificates
        still valid ("stale": a refresh failure) and the assigned serials with a
        precertificate but no response at all ("missing": must be zero, seed 003)."""
        with self.engine.connect() as conn:
            by_status: dict[str, int] = dict(
                conn.execute(
                    select(ocsp_responses.c.status, func.count()).group_by(ocsp_responses.c.status)
                ).all()
            )
            stale = conn.execute(
                select(func.count()).where(
                    ocsp_responses.c.next_update < now, ocsp_responses.c.not_after > now
                )
            ).scalar_one()
            missing = conn.execute(
                select(func.count())
                .select_from(
                    precertificates.outerjoin(
                        ocsp_responses, ocsp_responses.c.serial == precertificates.c.serial
                    )
                )
                .where(ocsp_responses.c.serial.is_(None))
            ).scalar_one()
        return {
            "good": int(by_status.get("good", 0)),
            "revoked": int(by_status.get("revoked", 0)),
            "total": int(sum(by_status.values())),
            "stale": int(stale),
            "missing": int(missing),
        }
