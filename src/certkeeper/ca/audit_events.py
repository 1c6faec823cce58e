"""What the audit log records about the hierarchy: CA certificates and keys created,
activated, retired, and every login to the token that holds them (BR 5.4.1: key and
configuration changes, token access)."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any

from certkeeper.auditlog.record import current_actor, record
from certkeeper.errors import EXIT_REFUSED, CertkeeperError

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from certkeeper.auditlog.record import Home as AuditHome
    from certkeeper.ca.home import CaHome
    from certkeeper.config import Config
    from certkeeper.store.audit_log import AuditLogStore
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
    store: AuditLogStore,
    config: Config,
    issuers: list[IssuerRecord],
    actor: str | None,
    at: datetime,
) -> None:
    """`init`: the home, its hierarchy and keys, as the first entries of its log."""
    from certkeeper.auditlog.log import AuditLog

    log = AuditLog(store, config.audit_log)
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
    from certkeeper.audit_chain import AuditFilter
    from certkeeper.auditlog.record import audit_log

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


def token_login(ca: CaHome) -> Callable[[str, bool, str], None]:
    """The hook a PKCS#11 signer of this home calls on each login to its token:
    `token.login`, or `token.login-failed` with the reason (a wrong PIN, a missing token)."""

    def logged(token: str, ok: bool, detail: str) -> None:
        module = ca.config.pkcs11.module if ca.config.pkcs11 is not None else None
        record(
            ca,
            "token.login" if ok else "token.login-failed",
            token,
            detail={"module": None if module is None else str(module), "result": detail},
        )

    return logged


def key_created(ca: CaHome, name: str, key_type: str, key_ref: str, csr_sha256: str) -> None:
    """`ca csr`: a new CA key, waiting for the certificate a ceremony signs for it."""
    detail = {"key_type": key_type, "key": key_ref, "csr_sha256": csr_sha256}
    record(ca, "ca.key-created", name, detail=detail)


def certificate_imported(ca: CaHome, rec: IssuerRecord, csr_sha256: str, at: datetime) -> None:
    """`ca import`: a CA certificate signed in a ceremony, installed online."""
    detail = {**issuer_detail(rec), "csr_sha256": csr_sha256}
    record(ca, "ca.certificate-imported", rec.name, detail=detail, at=at)


# More hashes than this are recorded as their count and one digest of the sorted list.
BLOCKED_LISTED = 100


def keys_blocked(
    ca: AuditHome, source: str, reason: str, hashes: list[str]
) -> Callable[[Connection, int], None]:
    """`keys block`: the hook that records the list in the transaction that blocks it."""
    import hashlib

    unique = sorted(set(hashes))
    detail: dict[str, Any] = {
        "reason": reason,
        "keys": len(unique),
        "list_sha256": hashlib.sha256("\n".join(unique).encode()).hexdigest(),
    }
    if len(unique) <= BLOCKED_LISTED:
        detail["spki_sha256"] = unique

    def blocked(conn: Connection, added: int) -> None:
        record(ca, "keys.blocked", source, detail={**detail, "added": added}, conn=conn)

    return blocked
