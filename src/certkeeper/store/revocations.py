"""Revocations: one row per revoked serial, kept forever, changed only as BR 7.2.2 allows.

The row is the single source for the serial's CRL entry and OCSP "revoked" answer. It
is written once; afterwards the only change allowed is to keyCompromise (BR 7.2.2: "the
CA SHOULD update the CRL entry to enter keyCompromise"), and with it the revocation
time may move earlier, to when the key was compromised, never later. Nothing deletes a
row, so any CRL shard can be rebuilt from this table at any time.

Every insert or change also counts as pending publication in its CRL shard, in the
same transaction (`crl_repo.add_pending`): a revocation can never be committed without
its shard knowing it has something to publish.

Each row carries the shard and notAfter of its certificate (copied from the serial's
assignment and from the certificate or precertificate), so building a shard reads this
table alone, through the (issuer_id, crl_shard, not_after) index.
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Connection, Engine, Row, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from certkeeper.errors import CertkeeperError, NotFound
from certkeeper.store.blocked_keys import block_serials
from certkeeper.store.crl_repo import add_pending
from certkeeper.store.database import write_transaction
from certkeeper.store.tables import certificates, issuers, precertificates, revocations, serials
from certkeeper.x509.crl import (
    CA_COMPROMISE,
    CERTIFICATE_HOLD,
    KEY_COMPROMISE,
    SUBSCRIBER_REASONS,
    UNSPECIFIED,
    reason_name,
)
from certkeeper.x509.time import truncate

# A revocation time may trail the moment it is recorded by this much (clock skew
# between the service that decided and the database); only keyCompromise may be
# backdated further (BR 7.2.2, note under "revokedCertificates Component").
CLOCK_TOLERANCE = timedelta(minutes=5)


class RevocationRefused(CertkeeperError):
    """The revocation breaks a BR rule; the message names the rule."""

    exit_code = 3


@dataclass(frozen=True, slots=True)
class RevocationRecord:
    serial: str
    issuer_id: int
    crl_shard: int
    revoked_at: datetime
    reason: int | None  # None: unspecified (no reasonCode in the CRL entry)
    not_after: datetime
    incident_id: int | None
    evidence: str | None
    recorded_at: datetime

    @property
    def reason_name(self) -> str:
        return reason_name(self.reason)


@dataclass(frozen=True, slots=True)
class RecordOutcome:
    """What `record` did: inserted, changed to keyCompromise, or found it already so."""

    record: RevocationRecord
    action: str  # revoked | updated | unchanged


def _row(row: Row[Any]) -> RevocationRecord:
    return RevocationRecord(
        serial=row.serial,
        issuer_id=row.issuer_id,
        crl_shard=row.crl_shard,
        revoked_at=row.revoked_at,
        reason=row.reason,
        not_after=row.not_after,
        incident_id=row.incident_id,
        evidence=row.evidence,
        recorded_at=row.recorded_at,
    )


def normalize_reason(reason: int | None) -> int | None:
    """unspecified(0) is stored as NULL: it is the absence of a reasonCode (BR 7.2.2)."""
    return None if reason is None or reason == UNSPECIFIED else reason


def check_subscriber_reason(reason: int | None) -> None:
    """BR 7.2.2 "CRLReasons": what a subscriber certificate may be revoked for."""
    if reason is None:
        return
    if reason == CERTIFICATE_HOLD:
        raise RevocationRefused(
            "BR 7.2.2: certificateHold (6) must not be used; revocation is permanent"
        )
    if reason == CA_COMPROMISE:
        raise RevocationRefused(
            "BR 7.2.2: cACompromise (2) is for CA certificates, not subscriber certificates"
        )
    if reason not in SUBSCRIBER_REASONS:
        allowed = ", ".join(f"{reason_name(r)} ({r})" for r in sorted(SUBSCRIBER_REASONS))
        raise RevocationRefused(
            f"BR 7.2.2: CRLReason {reason} is not allowed; use unspecified (0) or one of {allowed}"
        )


def _block_key(conn: Connection, serial: str, now: datetime) -> None:
    """BR 6.1.1.3 item 4: the key of a keyCompromise revocation is never certified again;
    blocked in the revocation's own transaction."""
    detail = f"serial {serial} revoked for keyCompromise"
    block_serials(conn, [serial], source="revocation", detail=detail, now=now)


class RevocationStore:
    """Repository over the revocations table; holds nothing besides the engine."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record(
        self,
        serial: str,
        revoked_at: datetime,
        reason: int | None,
        evidence: str | None,
        incident_id: int | None,
        now: datetime,
        conn: Connection | None = None,
    ) -> RecordOutcome:
        """Revoke `serial` (lowercase hex), or change an existing revocation as BR 7.2.2
        allows. With `conn`, runs inside the caller's transaction (so a campaign can
        revoke and re-sign OCSP atomically); otherwise in a transaction of its own.

        Raises NotFound for a serial never signed, RevocationRefused for anything the
        BRs forbid: certificateHold, cACompromise on a leaf, a future revocation time,
        backdating other than for keyCompromise, or a change of an existing revocation
        to anything but keyCompromise."""
        reason = normalize_reason(reason)
        check_subscriber_reason(reason)
        revoked_at = truncate(revoked_at)
        now = truncate(now)
        if revoked_at > now + CLOCK_TOLERANCE:
            raise RevocationRefused(
                f"serial {serial}: revocation time {revoked_at.isoformat()} is in the future"
            )
        if reason != KEY_COMPROMISE and revoked_at < now - CLOCK_TOLERANCE:
            raise RevocationRefused(
                f"serial {serial}: revocation time {revoked_at.isoformat()} is before now "
                f"({now.isoformat()}); BR 7.2.2 allows backdating only for keyCompromise"
            )
        if conn is not None:
            return self._record(conn, serial, revoked_at, reason, evidence, incident_id, now)
        for attempt in range(2):
            try:
                with write_transaction(self.engine) as tx:
                    return self._record(tx, serial, revoked_at, reason, evidence, incident_id, now)
            except IntegrityError:
                # Another process inserted the same serial between our read and insert;
                # the second pass sees its row and applies the change rules to it.
                if attempt == 1:
                    raise
        raise AssertionError("unreachable")

    def _record(
        self,
        conn: Connection,
        serial: str,
        revoked_at: datetime,
        reason: int | None,
        evidence: str | None,
        incident_id: int | None,
        now: datetime,
    ) -> RecordOutcome:
        existing = conn.execute(select(revocations).where(revocations.c.serial == serial)).first()
        if existing is None:
            target = self._target(conn, serial)
            if revoked_at < target["not_before"] - CLOCK_TOLERANCE and reason != KEY_COMPROMISE:
                raise RevocationRefused(
                    f"serial {serial}: revocation time precedes the certificate's notBefore"
                )
            values = {
                "serial": serial,
                "issuer_id": target["issuer_id"],
                "crl_shard": target["crl_shard"],
                "revoked_at": revoked_at,
                "reason": reason,
                "not_after": target["not_after"],
                "incident_id": incident_id,
                "evidence": evidence,
                "recorded_at": now,
            }
            conn.execute(insert(revocations).values(**values))
            add_pending(conn, {(target["issuer_id"], target["crl_shard"]): 1})
            if reason == KEY_COMPROMISE:
                _block_key(conn, serial, now)
            return RecordOutcome(RevocationRecord(**values), "revoked")
        old = _row(existing)
        if reason != KEY_COMPROMISE:
            if reason == old.reason:
                return RecordOutcome(old, "unchanged")  # a retry of the same revocation
            raise RevocationRefused(
                f"serial {serial} is already revoked ({old.reason_name}, "
                f"{old.revoked_at.isoformat()}); BR 7.2.2 allows changing a revocation only "
                f"to keyCompromise, not to {reason_name(reason)}"
            )
        # keyCompromise: the reason becomes keyCompromise and the time may only move
        # earlier (to when the key was compromised), never later.
        new_time = min(old.revoked_at, revoked_at)
        if old.reason == KEY_COMPROMISE and new_time == old.revoked_at:
            return RecordOutcome(old, "unchanged")
        changes: dict[str, Any] = {
            "reason": KEY_COMPROMISE,
            "revoked_at": new_time,
            "recorded_at": now,
        }
        if evidence is not None:
            changes["evidence"] = evidence
        if incident_id is not None:
            changes["incident_id"] = incident_id
        conn.execute(update(revocations).where(revocations.c.serial == serial).values(**changes))
        add_pending(conn, {(old.issuer_id, old.crl_shard): 1})
        _block_key(conn, serial, now)
        fields = {f: getattr(old, f) for f in RevocationRecord.__slots__}
        return RecordOutcome(RevocationRecord(**{**fields, **changes}), "updated")

    @staticmethod
    def _target(conn: Connection, serial: str) -> dict[str, Any]:
        """Issuer, shard and validity of what was signed with this serial: the final
        certificate if there is one, else the precertificate (a logged precertificate
        is a promise of the certificate and is revoked like one)."""
        assigned = conn.execute(
            select(serials.c.issuer_id, serials.c.crl_shard).where(serials.c.serial == serial)
        ).first()
        if assigned is None:
            raise NotFound(f"serial {serial} was never assigned by this CA")
        signed = conn.execute(
            select(certificates.c.not_before, certificates.c.not_after).where(
                certificates.c.serial == serial
            )
        ).first()
        if signed is None:
            signed = conn.execute(
                select(precertificates.c.not_before, precertificates.c.not_after).where(
                    precertificates.c.serial == serial
                )
            ).first()
        if signed is None:
            raise NotFound(
                f"serial {serial} has no certificate or precertificate: nothing was signed "
                "with it, so there is nothing to revoke"
            )
        return {
            "issuer_id": assigned.issuer_id,
            "crl_shard": assigned.crl_shard,
            "not_before": signed.not_before,
            "not_after": signed.not_after,
        }

    # -- reads -----------------------------------------------------------------------

    def get(self, serial: str, conn: Connection | None = None) -> RevocationRecord | None:
        stmt = select(revocations).where(revocations.c.serial == serial)
        if conn is not None:
            row = conn.execute(stmt).first()
        else:
            with self.engine.connect() as c:
                row = c.execute(stmt).first()
        return None if row is None else _row(row)

    def get_many(self, serials_: Sequence[str]) -> dict[str, RevocationRecord]:
        out: dict[str, RevocationRecord] = {}
        with self.engine.connect() as conn:
            for start in range(0, len(serials_), 1000):
                chunk = list(serials_[start : start + 1000])
                for row in conn.execute(select(revocations).where(revocations.c.serial.in_(chunk))):
                    out[row.serial] = _row(row)
        return out

    def iter_all(self, issuer: str | None = None) -> Iterator[RevocationRecord]:
        """Every revocation (of one issuer), in serial order, streamed."""
        stmt = select(revocations).order_by(revocations.c.serial)
        if issuer is not None:
            stmt = stmt.where(
                revocations.c.issuer_id
                == select(issuers.c.id).where(issuers.c.name == issuer).scalar_subquery()
            )
        with self.engine.connect() as conn:
            for row in conn.execution_options(yield_per=1000).execute(stmt):
                yield _row(row)

    def count(self, *, incident_id: int | None = None) -> int:
        stmt = select(func.count()).select_from(revocations)
        if incident_id is not None:
            stmt = stmt.where(revocations.c.incident_id == incident_id)
        with self.engine.connect() as conn:
            return int(conn.execute(stmt).scalar_one())

    def revoked_serials(self, candidates: Iterable[str]) -> set[str]:
        """Which of `candidates` are revoked."""
        return set(self.get_many(list(candidates)))
