"""What the status coverage audit needs from the inventory, in one streamed query.

For every assigned serial: its issuer, state, CRL shard, the notAfter of whatever was
signed for it (precertificate, certificate, or the stored response's copy) and its
revocation, if any. A million rows stream in pages so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, func, select

from certkeeper.store.tables import (
    UtcDateTime,
    certificates,
    ocsp_responses,
    precertificates,
    revocations,
    serials,
)

PAGE = 20_000


@dataclass(frozen=True, slots=True)
class SerialStatusRow:
    """One assigned serial as the inventory knows it. `not_after` is None when nothing
    was ever signed for the serial (state "assigned" or "failed")."""

    serial: str
    issuer_id: int
    state: str
    crl_shard: int
    not_after: datetime | None
    revoked_at: datetime | None
    reason: int | None


def count_assigned(engine: Engine) -> int:
    with engine.connect() as conn:
        return int(conn.execute(select(func.count()).select_from(serials)).scalar_one())


def iter_assigned(engine: Engine, page: int = PAGE) -> Iterator[SerialStatusRow]:
    """Every assigned serial with its expected status, in serial order, page by page."""
    not_after = func.coalesce(
        precertificates.c.not_after,
        certificates.c.not_after,
        ocsp_responses.c.not_after,
        type_=UtcDateTime,
    )
    base = (
        select(
            serials.c.serial,
            serials.c.issuer_id,
            serials.c.state,
            serials.c.crl_shard,
            not_after.label("not_after"),
            revocations.c.revoked_at,
            revocations.c.reason,
        )
        .select_from(
            serials.outerjoin(precertificates, precertificates.c.serial == serials.c.serial)
            .outerjoin(certificates, certificates.c.serial == serials.c.serial)
            .outerjoin(ocsp_responses, ocsp_responses.c.serial == serials.c.serial)
            .outerjoin(revocations, revocations.c.serial == serials.c.serial)
        )
        .order_by(serials.c.serial)
    )
    last = ""
    while True:
        with engine.connect() as conn:
            rows = conn.execute(base.where(serials.c.serial > last).limit(page)).all()
        for r in rows:
            yield SerialStatusRow(
                serial=str(r.serial),
                issuer_id=int(r.issuer_id),
                state=str(r.state),
                crl_shard=int(r.crl_shard),
                not_after=r.not_after,
                revoked_at=r.revoked_at,
                reason=r.reason,
            )
        if len(rows) < page:
            return
        last = str(rows[-1].serial)
