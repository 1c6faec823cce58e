"""What the status coverage audit needs from the inventory, in one streamed query.

For every assigned serial: its issuer, state, CRL shard, the notAfter of whatever was
signed for it (precertificate, certificate, or the stored response's copy) and its
revocation, if any. A million rows stream in pages so memory stays flat.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, case, func, literal, select

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
    """One assigned serial as the inventory knows it. `signed` is False when nothing
    was ever signed for the serial (state "assigned" or "failed"); `expired` when what
    was signed for it has passed its notAfter at the time asked about."""

    serial: str
    issuer_id: int
    state: str
    crl_shard: int
    signed: bool
    expired: bool
    revoked_at: datetime | None
    reason: int | None


def iter_assigned(engine: Engine, now: datetime, page: int = PAGE) -> Iterator[SerialStatusRow]:
    """Every assigned serial with its expected status at `now`, in serial order, page
    by page. Expiry is decided in SQL: a million notAfter values are never parsed."""
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
            case((not_after.is_(None), 0), else_=1).label("signed"),
            case((not_after < literal(now, UtcDateTime), 1), else_=0).label("expired"),
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
        for serial, issuer_id, state, shard, signed, expired, revoked_at, reason in rows:
            yield SerialStatusRow(
                serial, issuer_id, state, shard, bool(signed), bool(expired), revoked_at, reason
            )
        if len(rows) < page:
            return
        last = str(rows[-1].serial)
