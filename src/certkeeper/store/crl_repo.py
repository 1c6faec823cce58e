"""CRL shard state: what goes into a shard, its CRL numbers, and who may publish it.

Three invariants live here (docs/crl-shards.md explains them):

- A shard's entries at time T are the revoked serials of that issuer and shard whose
  certificate's notAfter + lookback >= T. An entry leaves only after its certificate
  has expired (plus the lookback); nothing else removes it.
- CRL numbers of a shard only grow. The next number is max(previous + 1, thisUpdate as
  Unix seconds), so even a database restored from an old backup cannot reissue a
  number; numbers at or above 2**159 are refused (BR 7.2.2).
- One publisher at a time per shard: a lease taken by a conditional UPDATE (or the
  INSERT of the shard's first row), which the database serialises, so two processes
  can never both hold it.

Scope numbers: shards are 0 .. crl_shards-1; FULL_SCOPE (-1) is an issuer's full,
unpartitioned CRL (the root's CRL of CA certificates, or the optional full CRL of an
issuing CA), which has a number sequence of its own.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, exists, func, insert, or_, select, update
from sqlalchemy.exc import IntegrityError

from certkeeper.errors import CertkeeperError
from certkeeper.store.database import write_transaction
from certkeeper.store.queries import CertificateFilter, certificate_conditions
from certkeeper.store.tables import certificates, crl_shards, revocations
from certkeeper.x509.crl import MAX_CRL_NUMBER

FULL_SCOPE = -1


class CrlNumberExhausted(CertkeeperError):
    """The next CRL number would reach 2**159 (BR 7.2.2)."""


class LeaseLost(CertkeeperError):
    """A publisher tried to record a CRL for a shard whose lease it no longer holds."""


@dataclass(frozen=True, slots=True)
class ShardState:
    issuer_id: int
    shard: int
    crl_number: int  # the last number published (0: never published)
    this_update: datetime | None
    next_update: datetime | None
    entries: int
    size_bytes: int
    sha256: str | None
    lease_owner: str | None
    lease_until: datetime | None


def _state(row: Row[Any]) -> ShardState:
    return ShardState(
        issuer_id=row.issuer_id,
        shard=row.shard,
        crl_number=int(row.crl_number, 16),
        this_update=row.this_update,
        next_update=row.next_update,
        entries=row.entries,
        size_bytes=row.size_bytes,
        sha256=row.sha256,
        lease_owner=row.lease_owner,
        lease_until=row.lease_until,
    )


def next_crl_number(previous: int, this_update: datetime) -> int:
    """max(previous + 1, thisUpdate in Unix seconds): strictly greater than every
    number issued before, even if the stored `previous` came from an old backup."""
    number = max(previous + 1, int(this_update.timestamp()))
    if number > MAX_CRL_NUMBER:
        raise CrlNumberExhausted(
            f"CRL number {number} would not be below 2**159 (BR 7.2.2); this shard cannot "
            "publish again"
        )
    return number


class CrlStore:
    """Repository over revocations (read side) and crl_shards."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- entries ---------------------------------------------------------------------

    @staticmethod
    def _entry_conditions(
        issuer_id: int, shard: int | None, at: datetime, lookback: timedelta
    ) -> list[Any]:
        r = revocations.c
        conds = [r.issuer_id == issuer_id, r.not_after >= at - lookback]
        if shard is not None and shard != FULL_SCOPE:
            conds.append(r.crl_shard == shard)
        return conds

    def entries(
        self, issuer_id: int, shard: int, at: datetime, lookback: timedelta = timedelta(0)
    ) -> list[tuple[str, datetime, int | None]]:
        """(serial hex, revocation time, reason) of every entry the shard holds at `at`,
        in serial order. FULL_SCOPE gives every shard's entries of the issuer."""
        r = revocations.c
        stmt = (
            select(r.serial, r.revoked_at, r.reason)
            .where(*self._entry_conditions(issuer_id, shard, at, lookback))
            .order_by(func.length(r.serial), r.serial)
        )
        with self.engine.connect() as conn:
            return [(s, t, reason) for s, t, reason in conn.execute(stmt)]

    def entry_counts(
        self, issuer_id: int, at: datetime, lookback: timedelta = timedelta(0)
    ) -> dict[int, int]:
        """Entries per shard at `at` (shards without entries are absent)."""
        r = revocations.c
        stmt = (
            select(r.crl_shard, func.count())
            .where(*self._entry_conditions(issuer_id, None, at, lookback))
            .group_by(r.crl_shard)
        )
        with self.engine.connect() as conn:
            return {int(s): int(n) for s, n in conn.execute(stmt)}

    def unrevoked_matching(
        self, flt: CertificateFilter, at: datetime
    ) -> dict[tuple[int, int], list[str]]:
        """Serials of certificates matching `flt` that are unexpired at `at` and not yet
        revoked, by (issuer_id, shard): what a revocation of that selection would add."""
        c = certificates.c
        stmt = (
            select(c.issuer_id, c.crl_shard, c.serial)
            .where(
                *certificate_conditions(flt),
                c.not_after > at,
                ~exists().where(revocations.c.serial == c.serial),
            )
            .order_by(c.id)
        )
        out: dict[tuple[int, int], list[str]] = {}
        with self.engine.connect() as conn:
            for issuer_id, shard, serial in conn.execution_options(yield_per=5000).execute(stmt):
                out.setdefault((int(issuer_id), int(shard)), []).append(serial)
        return out

    # -- shard state -----------------------------------------------------------------

    def state(self, issuer_id: int, shard: int) -> ShardState | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(crl_shards).where(
                    crl_shards.c.issuer_id == issuer_id, crl_shards.c.shard == shard
                )
            ).first()
        return None if row is None else _state(row)

    def states(self, issuer_id: int | None = None) -> list[ShardState]:
        stmt = select(crl_shards).order_by(crl_shards.c.issuer_id, crl_shards.c.shard)
        if issuer_id is not None:
            stmt = stmt.where(crl_shards.c.issuer_id == issuer_id)
        with self.engine.connect() as conn:
            return [_state(row) for row in conn.execute(stmt)]

    # -- leases ----------------------------------------------------------------------

    def acquire(
        self, issuer_id: int, shard: int, owner: str, until: datetime, now: datetime
    ) -> bool:
        """Take (or extend) the publishing lease of a shard until `until`.

        True when `owner` holds it afterwards. The UPDATE only matches a row that is
        free, expired or already ours, and the database runs conditional UPDATEs on one
        row one after the other, so of two racing processes exactly one sees a row
        count of 1. A shard never published has no row yet: then the INSERT's primary
        key decides."""
        if until <= now:
            raise ValueError("a lease must end after it starts")
        c = crl_shards.c
        claim = (
            update(crl_shards)
            .where(
                c.issuer_id == issuer_id,
                c.shard == shard,
                or_(c.lease_owner.is_(None), c.lease_until <= now, c.lease_owner == owner),
            )
            .values(lease_owner=owner, lease_until=until)
        )
        with write_transaction(self.engine) as conn:
            if conn.execute(claim).rowcount == 1:
                return True
            exists = conn.execute(
                select(c.shard).where(c.issuer_id == issuer_id, c.shard == shard)
            ).first()
        if exists is not None:
            return False
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    insert(crl_shards).values(
                        issuer_id=issuer_id,
                        shard=shard,
                        crl_number="0",
                        entries=0,
                        size_bytes=0,
                        lease_owner=owner,
                        lease_until=until,
                    )
                )
        except IntegrityError:
            # Someone created the row first; it may already be free again.
            with write_transaction(self.engine) as conn:
                return conn.execute(claim).rowcount == 1
        return True

    def release(self, issuer_id: int, shard: int, owner: str) -> bool:
        """Give the lease back; False if `owner` did not hold it (it expired and was taken)."""
        c = crl_shards.c
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(crl_shards)
                .where(c.issuer_id == issuer_id, c.shard == shard, c.lease_owner == owner)
                .values(lease_owner=None, lease_until=None)
            )
        return result.rowcount == 1

    def holder(self, issuer_id: int, shard: int, now: datetime) -> str | None:
        """Who holds an unexpired lease on the shard, if anyone."""
        state = self.state(issuer_id, shard)
        if state is None or state.lease_owner is None or state.lease_until is None:
            return None
        return state.lease_owner if state.lease_until > now else None

    # -- numbers and publication -----------------------------------------------------

    def next_number(self, issuer_id: int, shard: int, this_update: datetime) -> int:
        """The number the shard's next CRL will carry (see `next_crl_number`)."""
        state = self.state(issuer_id, shard)
        return next_crl_number(0 if state is None else state.crl_number, this_update)

    def record_published(
        self,
        issuer_id: int,
        shard: int,
        owner: str,
        number: int,
        this_update: datetime,
        next_update: datetime,
        entries: int,
        size_bytes: int,
        sha256: str,
        now: datetime,
        conn: Connection | None = None,
    ) -> None:
        """Store the new number and what was published, if `owner` still holds the
        lease and `number` is above the stored one; otherwise raise and change nothing.
        Call it before the file is replaced: a number recorded for a file that then
        failed to be written is skipped, never reused."""
        if not 0 < number <= MAX_CRL_NUMBER:
            raise CrlNumberExhausted(f"CRL number {number} is outside 1 .. 2**159-1")
        c = crl_shards.c
        stmt = (
            update(crl_shards)
            .where(
                c.issuer_id == issuer_id,
                c.shard == shard,
                c.lease_owner == owner,
                c.lease_until > now,
            )
            .values(
                crl_number=format(number, "x"),
                this_update=this_update,
                next_update=next_update,
                entries=entries,
                size_bytes=size_bytes,
                sha256=sha256,
            )
        )
        if conn is None:
            with write_transaction(self.engine) as tx:
                self._record(tx, stmt, issuer_id, shard, owner, number)
        else:
            self._record(conn, stmt, issuer_id, shard, owner, number)

    @staticmethod
    def _record(
        conn: Connection, stmt: Any, issuer_id: int, shard: int, owner: str, number: int
    ) -> None:
        c = crl_shards.c
        current = conn.execute(
            select(c.crl_number).where(c.issuer_id == issuer_id, c.shard == shard)
        ).scalar()
        if current is not None and int(current, 16) >= number:
            raise CertkeeperError(
                f"CRL number {number} for issuer {issuer_id} shard {shard} is not above the "
                f"last one ({int(current, 16)}): CRL numbers only grow"
            )
        if conn.execute(stmt).rowcount != 1:
            raise LeaseLost(
                f"lease on issuer {issuer_id} shard {shard} is not held by {owner} (it expired "
                "or was never taken); nothing was recorded"
            )

    def published_numbers(self) -> dict[tuple[int, int], int]:
        """(issuer_id, shard) -> last published CRL number, for audits."""
        return {(s.issuer_id, s.shard): s.crl_number for s in self.states()}
