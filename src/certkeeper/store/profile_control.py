"""Who may issue under which profile version: ownership, approval, disabled state.

Versions themselves are written by `Inventory.register_profile_version`; this store
reads them with their owners, records approvals, and keeps the append-only history of
disabling and enabling profiles. The latest event of a profile is its state.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Engine, Row, insert, select, update

from certkeeper.errors import NotFound
from certkeeper.store.database import write_transaction
from certkeeper.store.tables import profile_events, profile_versions

DISABLE = "disable"
ENABLE = "enable"


@dataclass(frozen=True)
class VersionRecord:
    profile_id: str
    version: int
    sha256: str
    created_at: datetime
    created_by: str | None
    approved_by: str | None
    approved_at: datetime | None

    @property
    def approved(self) -> bool:
        return self.approved_at is not None


@dataclass(frozen=True)
class ProfileEvent:
    profile_id: str
    action: str  # disable | enable
    reason: str
    actor: str
    at: datetime
    incident_id: int | None = None

    @property
    def disabled(self) -> bool:
        return self.action == DISABLE


@dataclass(frozen=True)
class IssuanceView:
    """What issuance needs to know about one profile, read in one connection."""

    latest: VersionRecord
    live_version: int | None  # the newest approved version
    state: ProfileEvent | None  # None: never disabled


def _version(row: Row[Any, Any, Any, Any, Any, Any, Any]) -> VersionRecord:
    return VersionRecord(
        profile_id=row.profile_id,
        version=int(row.version),
        sha256=row.sha256,
        created_at=row.created_at,
        created_by=row.created_by,
        approved_by=row.approved_by,
        approved_at=row.approved_at,
    )


def _event(row: Row[Any]) -> ProfileEvent:
    return ProfileEvent(
        profile_id=row.profile_id,
        action=row.action,
        reason=row.reason,
        actor=row.actor,
        at=row.at,
        incident_id=row.incident_id,
    )


_pv = profile_versions.c
_pe = profile_events.c
_VERSION_COLUMNS = (
    _pv.profile_id,
    _pv.version,
    _pv.sha256,
    _pv.created_at,
    _pv.created_by,
    _pv.approved_by,
    _pv.approved_at,
)


class ProfileControlStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def versions(self, profile_id: str | None = None) -> list[VersionRecord]:
        stmt = select(*_VERSION_COLUMNS).order_by(_pv.profile_id, _pv.version)
        if profile_id is not None:
            stmt = stmt.where(_pv.profile_id == profile_id)
        with self.engine.connect() as conn:
            return [_version(r) for r in conn.execute(stmt)]

    def issuance_view(self, profile_id: str) -> IssuanceView:
        """Two queries: a profile has a handful of versions, read them all."""
        with self.engine.connect() as conn:
            versions = [
                _version(row)
                for row in conn.execute(
                    select(*_VERSION_COLUMNS)
                    .where(_pv.profile_id == profile_id)
                    .order_by(_pv.version.desc())
                )
            ]
            if not versions:
                raise NotFound(f"no stored profile {profile_id!r}")
            live = next((v.version for v in versions if v.approved), None)
            state = conn.execute(
                select(profile_events)
                .where(_pe.profile_id == profile_id)
                .order_by(_pe.id.desc())
                .limit(1)
            ).first()
        return IssuanceView(
            latest=versions[0],
            live_version=live,
            state=None if state is None else _event(state),
        )

    def approve(self, profile_id: str, version: int, actor: str, now: datetime) -> bool:
        """Mark a waiting version approved; False when it already was (the first
        approval stands, so two approvers racing cannot overwrite each other)."""
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                update(profile_versions)
                .where(
                    _pv.profile_id == profile_id,
                    _pv.version == version,
                    _pv.approved_at.is_(None),
                )
                .values(approved_by=actor, approved_at=now)
            )
            return result.rowcount == 1

    def record_event(self, event: ProfileEvent) -> None:
        with write_transaction(self.engine) as conn:
            conn.execute(
                insert(profile_events).values(
                    profile_id=event.profile_id,
                    action=event.action,
                    reason=event.reason,
                    actor=event.actor,
                    incident_id=event.incident_id,
                    at=event.at,
                )
            )

    def states(self) -> dict[str, ProfileEvent]:
        """The latest event of every profile that has one."""
        stmt = select(profile_events).order_by(_pe.id)
        with self.engine.connect() as conn:
            return {row.profile_id: _event(row) for row in conn.execute(stmt)}

    def history(self, profile_id: str) -> list[ProfileEvent]:
        stmt = select(profile_events).where(_pe.profile_id == profile_id).order_by(_pe.id)
        with self.engine.connect() as conn:
            return [_event(row) for row in conn.execute(stmt)]
