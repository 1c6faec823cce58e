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
  can never both hold it. A lease is short and renewed while its holder works; one
  whose holder is known to be dead is reclaimed at once.
- "Revoked but not yet published" is durable: every revocation bumps its shard's
  `revision` in the revocation's own transaction (`add_pending`), and a publication
  sets `published_revision` to the revision it read before reading the entries, only
  after its file is written (`mark_published`). A shard whose revision is ahead is
  pending, whatever process recorded the revocation and however it ended.

Scope numbers: shards are 0 .. crl_shards-1; FULL_SCOPE (-1) is an issuer's full,
unpartitioned CRL (the root's CRL of CA certificates, or the optional full CRL of an
issuing CA), which has a number sequence of its own.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, exists, func, insert, or_, select, update
from sqlalchemy.dialects import postgresql, sqlite
from sqlalchemy.exc import IntegrityError

from certkeeper.certificate_filter import CertificateFilter
from certkeeper.errors import CertkeeperError
from certkeeper.store.database import write_transaction
from certkeeper.store.queries import certificate_conditions
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
    revision: int = 0  # revocations recorded in the shard
    published_revision: int = 0  # how many of them the last written CRL includes

    @property
    def pending(self) -> int:
        """Revocations (or keyCompromise changes) recorded but on no published CRL yet."""
        return max(0, self.revision - self.published_revision)


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
        revision=int(row.revision),
        published_revision=int(row.published_revision),
    )


def _first_row(issuer_id: int, shard: int, **values: Any) -> dict[str, Any]:
    """A shard's row before its first publication: number 0, nothing published."""
    return {
        "issuer_id": issuer_id,
        "shard": shard,
        "crl_number": "0",
        "entries": 0,
        "size_bytes": 0,
        **values,
    }


def add_pending(conn: Connection, counts: Mapping[tuple[int, int], int]) -> None:
    """Count `counts[(issuer_id, shard)]` new revocations as pending publication, inside
    the caller's transaction (the one that records them), creating a shard's row if it
    has none yet. An upsert, so it never fails on a row a publisher creates meanwhile."""
    dialect = postgresql if conn.dialect.name == "postgresql" else sqlite
    for (issuer_id, shard), n in sorted(counts.items()):
        if n <= 0:
            continue
        stmt = dialect.insert(crl_shards).values(_first_row(issuer_id, shard, revision=n))
        conn.execute(
            stmt.on_conflict_do_update(
                index_elements=[crl_shards.c.issuer_id, crl_shards.c.shard],
                set_={"revision": crl_shards.c.revision + n},
            )
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
        self,
        issuer_id: int,
        shard: int,
        owner: str,
        until: datetime,
        now: datetime,
        *,
        dead: Callable[[str], bool] | None = None,
    ) -> bool:
        """Take (or extend) the publishing lease of a shard until `until`.

        True when `owner` holds it afterwards. The UPDATE only matches a row that is
        free, expired or already ours, and the database runs conditional UPDATEs on one
        row one after the other, so of two racing processes exactly one sees a row
        count of 1. A shard never published has no row yet: then the INSERT's primary
        key decides. With `dead`, a lease whose holder `dead(holder)` says is gone is
        taken over (conditionally on that very holder, so only one taker wins)."""
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
            held = conn.execute(
                select(c.lease_owner).where(c.issuer_id == issuer_id, c.shard == shard)
            ).first()
        if held is not None:
            holder = held.lease_owner
            if holder is None or dead is None or not dead(holder):
                return False
            with write_transaction(self.engine) as conn:
                takeover = (
                    update(crl_shards)
                    .where(c.issuer_id == issuer_id, c.shard == shard, c.lease_owner == holder)
                    .values(lease_owner=owner, lease_until=until)
                )
                return bool(conn.execute(takeover).rowcount == 1)
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    insert(crl_shards).values(
                        _first_row(issuer_id, shard, lease_owner=owner, lease_until=until)
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

    def mark_published(self, issuer_id: int, shard: int, owner: str, revision: int) -> bool:
        """After the shard's file is written: the revocations up to `revision` (read
        before the entries were) are on a published CRL. Needs the lease; never moves
        `published_revision` backwards. False if nothing changed."""
        c = crl_shards.c
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(crl_shards)
                .where(
                    c.issuer_id == issuer_id,
                    c.shard == shard,
                    c.lease_owner == owner,
                    c.published_revision < revision,
                )
                .values(published_revision=revision)
            )
        return bool(result.rowcount == 1)

    def pending_shards(self) -> dict[tuple[int, int], int]:
        """(issuer_id, shard) -> revocations not yet on a published CRL, for every
        shard that has any."""
        c = crl_shards.c
        stmt = select(c.issuer_id, c.shard, c.revision - c.published_revision).where(
            c.revision > c.published_revision, c.shard != FULL_SCOPE
        )
        with self.engine.connect() as conn:
            return {(int(i), int(s)): int(n) for i, s, n in conn.execute(stmt)}

    def published_numbers(self) -> dict[tuple[int, int], int]:
        """(issuer_id, shard) -> last published CRL number, for audits."""
        return {(s.issuer_id, s.shard): s.crl_number for s in self.states()}
