"""The one-call API every event site uses: `record(home, event, subject, ...)`.

Who acted: the name a command took from `--actor` (`set_actor`), else one bound for the
current request (`acting_as`, e.g. an ACME account), else $CERTKEEPER_ACTOR, else the
OS user. Event names are dotted, the first word naming the area (`certificate.issued`,
`issuance.refused`, `profile.disabled`, `ca.activated`, `server.started`, ...), so
`audit-log show --event ca.` selects one area.
"""

from __future__ import annotations

import functools
import getpass
import os
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from contextvars import ContextVar
from typing import TYPE_CHECKING, Any, Protocol, TypeVar, cast
from weakref import WeakKeyDictionary

from certkeeper.errors import IssuanceRefused

if TYPE_CHECKING:  # imported when first used: every CLI command imports this module
    from datetime import datetime

    from sqlalchemy import Connection

    from certkeeper.audit_chain import Entry
    from certkeeper.auditlog.log import AuditLog
    from certkeeper.settings.audit_log import AuditLogSettings
    from certkeeper.store.stores import Stores

ACTOR_ENV = "CERTKEEPER_ACTOR"
# The actor of what the ACME server does on an account's request (the account's URI is
# the subject): no person acts, the server does.
ACME_SERVER = "acme-server"

# Set by a command's --actor (each CLI command runs in a context of its own, so the name
# never outlives it) or bound for one request.
_actor: ContextVar[str | None] = ContextVar("certkeeper_audit_actor", default=None)

F = TypeVar("F", bound=Callable[..., Any])


class _Settings(Protocol):
    @property
    def audit_log(self) -> AuditLogSettings: ...


class Home(Protocol):
    """What the audit log needs of an opened CA home (`CaHome`): its stores and its
    `[audit_log]` settings. A protocol, so this module needs nothing of `ca/`."""

    @property
    def config(self) -> _Settings: ...

    @property
    def stores(self) -> Stores: ...


_logs: WeakKeyDictionary[Home, AuditLog] = WeakKeyDictionary()  # one log per opened home


def set_actor(name: str) -> None:
    """The actor of this command (`--actor`), for the rest of the current context."""
    _actor.set(name)


@contextmanager
def acting_as(name: str | None) -> Iterator[None]:
    """Record events of the enclosed block (one request) under `name` (None: under the
    environment's actor), whatever `set_actor` calls inside it set."""
    token = _actor.set(name)
    try:
        yield
    finally:
        _actor.reset(token)


def current_actor() -> str:
    name = _actor.get() or os.environ.get(ACTOR_ENV)
    if name:
        return name
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid:{os.getuid()}"


def audit_log(home: Home) -> AuditLog:
    """The home's audit log (one per opened home)."""
    log = _logs.get(home)
    if log is None:
        from certkeeper.auditlog.log import AuditLog

        log = AuditLog(home.stores.audit_log, home.config.audit_log)
        _logs[home] = log
    return log


def record(
    home: Home,
    event: str,
    subject: str = "",
    *,
    serial: str | None = None,
    detail: Mapping[str, Any] | None = None,
    actor: str | None = None,
    at: datetime | None = None,
    conn: Connection | None = None,
) -> Entry:
    """Append one event to the home's audit log (and its mirror); with `conn`, inside
    the write transaction that makes the change it records."""
    return audit_log(home).append(
        event, subject, actor or current_actor(), serial=serial, detail=detail, at=at, conn=conn
    )


def audited_issuance(method: F) -> F:
    """Record what an IssuanceService method did: `certificate.issued`, or
    `issuance.refused` with the reason and the blocking lint ids. Refusals propagate."""

    @functools.wraps(method)
    def wrapper(self: Any, what: Any, *args: Any, **kwargs: Any) -> Any:
        subject = _request_subject(what)
        try:
            issued = method(self, what, *args, **kwargs)
        except IssuanceRefused as exc:
            findings = getattr(exc, "findings", None) or ()
            record(
                self.audit,
                "issuance.refused",
                subject,
                serial=getattr(exc, "serial", None) or (what if isinstance(what, str) else None),
                detail={
                    "refusal": type(exc).__name__,
                    "reason": str(exc),
                    "lint_ids": sorted({f.lint_id for f in findings}),
                    "profile": getattr(what, "profile_id", None),
                },
            )
            raise
        record(
            self.audit,
            "certificate.issued",
            subject,
            serial=issued.serial,
            detail={
                "sha256": issued.sha256,
                "profile": issued.profile,
                "waived": sorted({f.lint_id for f in issued.waived}),
            },
        )
        return issued

    return cast(F, wrapper)


def _request_subject(what: Any) -> str:
    """The names asked for (an IssueRequest), or the serial being resumed."""
    if isinstance(what, str):
        return what
    names = getattr(what, "names", None) or getattr(getattr(what, "csr", None), "names", ())
    return ",".join(names or ())


def record_server_run(home: Home, service: str, address: str) -> None:
    """`server.started` now and `server.stopped` when this process exits normally (a
    SIGTERM or Ctrl-C ends the server loop first); a killed server leaves a start
    without a stop, which is itself what an auditor looks for."""
    import atexit

    pid = os.getpid()
    detail = {"service": service, "address": address, "pid": pid}
    record(home, "server.started", service, detail=detail)

    def stopped() -> None:
        if os.getpid() == pid:  # not in a forked worker that inherited the hook
            record(home, "server.stopped", service, detail=detail)

    atexit.register(stopped)
