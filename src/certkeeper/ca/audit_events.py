"""What the audit log records about the hierarchy: CA certificates and keys created,
activated, retired (BR 5.4.1: key and configuration changes)."""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from certkeeper.auditlog.record import current_actor, record
from certkeeper.errors import EXIT_REFUSED, CertkeeperError

if TYPE_CHECKING:
    from sqlalchemy import Engine

    from certkeeper.ca.home import CaHome
    from certkeeper.config import Config
    from certkeeper.store.records import IssuerRecord


def issuer_detail(rec: IssuerRecord) -> dict[str, Any]:
    return {
        "role": rec.role,
        "state": rec.state,
        "key_type": rec.key_type,
        "key": rec.key_ref,
        "subject": rec.subject,
        "sha256": rec.sha256,
        "not_after": rec.not_after,
    }


def issuer_created(ca: CaHome, rec: IssuerRecord, at: datetime) -> None:
    record(ca, "ca.certificate-created", rec.name, detail=issuer_detail(rec), at=at)


def new_home(
    engine: Engine,
    config: Config,
    issuers: list[IssuerRecord],
    actor: str | None,
    at: datetime,
) -> None:
    """`init`: the home, its hierarchy and keys, as the first entries of its log."""
    from certkeeper.auditlog.log import AuditLog
    from certkeeper.store.audit_log import AuditLogStore

    log = AuditLog(AuditLogStore(engine), config.audit_log)
    who = actor or current_actor()
    detail = {
        "public": config.public,
        "database": "sqlite" if "sqlite" in config.database_url else "other",
    }
    log.append("ca.home-created", config.ca_name, who, detail=detail, at=at)
    for rec in issuers:
        log.append("ca.certificate-created", rec.name, who, detail=issuer_detail(rec), at=at)


class ActivationAwaitsSecondPerson(CertkeeperError):
    """Under `[profiles] require_approval`, the first `ca activate` only requests."""

    exit_code = EXIT_REFUSED


def second_person(ca: CaHome, name: str, now: datetime) -> str | None:
    """With `[profiles] require_approval`, activating a CA takes two people: the first
    `ca activate` is recorded as a request; a different actor's carries it out. Returns
    who requested it (None when the home does not require approval)."""
    if not ca.config.profiles_require_approval:
        return None
    from certkeeper.auditlog.record import audit_log
    from certkeeper.store.audit_log import AuditFilter

    who = current_actor()
    requesters: list[str] = []
    for entry in audit_log(ca).entries(AuditFilter(event="ca.")):
        if entry.subject != name:
            continue
        if entry.event == "ca.activated":
            requesters = []  # a request counts only until the activation it asked for
        elif entry.event == "ca.activation-requested":
            requesters.append(entry.actor)
    others = [r for r in requesters if r != who]
    if others:
        return others[-1]
    if who not in requesters:
        record(ca, "ca.activation-requested", name, actor=who, at=now)
    raise ActivationAwaitsSecondPerson(
        f"activating {name} needs a second person ([profiles] require_approval): requested "
        f"by {who}; someone else runs `certkeeper ca activate {name}` to carry it out"
    )


def activated(
    ca: CaHome, name: str, retired: list[str], requested_by: str | None, at: datetime
) -> None:
    record(
        ca,
        "ca.activated",
        name,
        detail={"retired": retired, "requested_by": requested_by},
        at=at,
    )
