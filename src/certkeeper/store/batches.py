"""Batch runs and their items, so a batch that did not finish can be resumed.

Each worker process writes its own items (one short transaction each); the run row is
opened by the parent before the workers start and closed after the last item.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, insert, select, update

from certkeeper.store.database import write_transaction
from certkeeper.store.tables import batch_items, batches, certificate_names, certificates


@dataclass(frozen=True)
class BatchRun:
    id: int
    started_at: datetime
    resumed: bool  # an unfinished run of the same directory, profile and subscriber
    done: int  # items it had already issued


@dataclass(frozen=True)
class BatchItem:
    started_at: datetime
    serial: str | None


class BatchStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def open_run(
        self, directory: str, profile_id: str, subscriber_id: str | None, now: datetime
    ) -> BatchRun:
        """The newest unfinished run with these parameters, else a new one."""
        b = batches.c
        with write_transaction(self.engine) as conn:
            row = conn.execute(
                select(b.id, b.started_at)
                .where(
                    b.directory == directory,
                    b.profile_id == profile_id,
                    b.subscriber_id.is_(None)
                    if subscriber_id is None
                    else b.subscriber_id == subscriber_id,
                    b.finished_at.is_(None),
                )
                .order_by(b.id.desc())
                .limit(1)
            ).first()
            if row is not None:
                done = conn.execute(
                    select(batch_items.c.serial).where(
                        batch_items.c.batch_id == row.id, batch_items.c.serial.is_not(None)
                    )
                ).all()
                return BatchRun(int(row.id), row.started_at, True, len(done))
            new_id = conn.execute(
                insert(batches)
                .values(
                    directory=directory,
                    profile_id=profile_id,
                    subscriber_id=subscriber_id,
                    started_at=now,
                )
                .returning(b.id)
            ).scalar_one()
        return BatchRun(int(new_id), now, False, 0)

    def finish_run(self, run_id: int, now: datetime) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(update(batches).where(batches.c.id == run_id).values(finished_at=now))

    def item(self, run_id: int, csr_sha256: str) -> BatchItem | None:
        i = batch_items.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(i.started_at, i.serial).where(
                    i.batch_id == run_id, i.csr_sha256 == csr_sha256
                )
            ).first()
        return None if row is None else BatchItem(row.started_at, row.serial)

    def begin_item(self, run_id: int, csr_sha256: str, file_name: str, now: datetime) -> None:
        """Written before the CSR is issued: a crash after this leaves an item in doubt."""
        i = batch_items.c
        with write_transaction(self.engine) as conn:
            updated = conn.execute(
                update(batch_items)
                .where(i.batch_id == run_id, i.csr_sha256 == csr_sha256)
                .values(started_at=now, file_name=file_name)
            )
            if not updated.rowcount:
                conn.execute(
                    insert(batch_items).values(
                        batch_id=run_id, csr_sha256=csr_sha256, file_name=file_name, started_at=now
                    )
                )

    def finish_item(self, run_id: int, csr_sha256: str, serial: str) -> None:
        i = batch_items.c
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(batch_items)
                .where(i.batch_id == run_id, i.csr_sha256 == csr_sha256)
                .values(serial=serial)
            )

    def issued_since(
        self, names: Sequence[str], profile_id: str, since: datetime
    ) -> list[tuple[str, bytes]]:
        """(serial, DER) of certificates under `profile_id` issued at or after `since`
        that carry any of `names`: the candidates for an item left in doubt."""
        c, n = certificates.c, certificate_names.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(c.serial, c.der)
                .distinct()
                .join(certificate_names, n.certificate_id == c.id)
                .where(n.name.in_(list(names)), c.profile_id == profile_id, c.issued_at >= since)
            ).all()
        return [(str(r.serial), bytes(r.der)) for r in rows]
