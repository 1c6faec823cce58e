"""Signing, refreshing and re-signing the pre-signed OCSP responses.

Order of operations (seed 003): the first "good" response for a serial is signed by
`sign_status` *before* its precertificate is signed, and stored with `OcspStore.put` in
the same transaction as the precertificate record. So an assigned serial with a
precertificate always has a response, and a serial whose precertificate was never
signed has none (the responder then never says "good" for it).

Schedule (BR 4.9.10, subscriber certificates): the validity interval must be at least
8 hours and at most 10 days; for intervals of 16 hours or more the CA must refresh at
least 8 hours before nextUpdate and no later than 4 days after thisUpdate.

We sign for `VALIDITY` = 4 days and refresh `REFRESH_MARGIN` = 2 days before nextUpdate
(so 2 days after thisUpdate). The BR deadline for such a response is min(thisUpdate + 4
days, nextUpdate - 8 hours) = thisUpdate + 3 days 16 hours, which leaves 40 hours for a
failed refresh to be noticed and rerun before any response is out of compliance, while
a relying party holding a cached "good" never keeps it more than 4 days. Longer
validity buys nothing: the 4-day refresh rule binds regardless.

Every response is linted before it is returned. Responses are built from a template
per issuer, so those of one shape (issuer, status, reason present) differ only in
serial, times, reason and signature. The first response of each shape per process gets
every certkeeper OCSP lint and pkilint; every response gets every certkeeper lint except
the five whose outcome depends only on the template (responder certificate, delegation,
responderID, CertID issuer hashes): measured, those cost ~1 ms of the ~1.3 ms a full run
takes, the rest (times, status, reason, serial, DER, signature) ~0.3 ms, and pkilint
3-5 ms. See docs/ocsp.md.
"""

from __future__ import annotations

import functools
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import TYPE_CHECKING

from cryptography import x509

from certkeeper.errors import CertkeeperError, ConfigError, NotFound
from certkeeper.lint.engine import Finding, Severity
from certkeeper.store.ocsp_repo import OcspRecord, StatusInputs
from certkeeper.store.records import IssuerRecord
from certkeeper.x509.ocsp import ResponseTemplate, Revocation
from certkeeper.x509.time import truncate

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from certkeeper.issuer_keys import IssuerKeys
    from certkeeper.store.inventory import Inventory
    from certkeeper.store.ocsp_repo import OcspStore
    from certkeeper.x509.signer import Signer

VALIDITY = timedelta(days=4)
REFRESH_MARGIN = timedelta(days=2)  # refresh once nextUpdate is this close

# BR 4.9.10 limits, for checks and reports.
BR_MIN_VALIDITY = timedelta(hours=8)
BR_MAX_VALIDITY = timedelta(days=10)
BR_SHORT_INTERVAL = timedelta(hours=16)
BR_MAX_AGE = timedelta(days=4)
BR_BEFORE_NEXT_UPDATE = timedelta(hours=8)

REFRESH_BATCH = 500  # responses signed per database write


class OcspSigningError(CertkeeperError):
    """A response could not be produced, or failed the lints; nothing was stored."""


def validity_interval(this_update: datetime, next_update: datetime) -> timedelta:
    """BR 4.9.10: the difference between thisUpdate and nextUpdate, inclusive."""
    return next_update - this_update + timedelta(seconds=1)


def refresh_deadline(this_update: datetime, next_update: datetime) -> datetime:
    """The latest time BR 4.9.10 allows a response to be replaced by a new one."""
    interval = validity_interval(this_update, next_update)
    if interval < BR_SHORT_INTERVAL:
        return next_update - interval / 2
    return min(this_update + BR_MAX_AGE, next_update - BR_BEFORE_NEXT_UPDATE)


def check_schedule(this_update: datetime, next_update: datetime) -> None:
    interval = validity_interval(this_update, next_update)
    if not BR_MIN_VALIDITY <= interval <= BR_MAX_VALIDITY:
        raise OcspSigningError(
            f"validity interval {interval} is outside BR 4.9.10's 8 hours to 10 days"
        )


@dataclass
class _IssuerContext:
    issuer: IssuerRecord
    issuer_cert: x509.Certificate
    responder: IssuerRecord
    signer: Signer
    template: ResponseTemplate


# Lints whose result depends only on the template: run on the first response of a shape.
TEMPLATE_LINTS = frozenset(
    {
        "e_ocsp_responder_id_mismatch",
        "e_ocsp_delegated_responder_invalid",
        "e_ocsp_delegated_responder_not_issued_by_ca",
        "e_ocsp_signer_certificate_defective",
        "e_ocsp_certid_issuer_mismatch",
    }
)


@functools.cache
def _per_response_lints() -> tuple[str, ...]:
    """Every OCSP lint outside TEMPLATE_LINTS (a renamed lint thus runs every time)."""
    from certkeeper.lint.catalogue import all_lints
    from certkeeper.lint.engine import DocType

    return tuple(
        lint.id
        for lint in all_lints()
        if DocType.OCSP_RESPONSE in lint.doc_types and lint.id not in TEMPLATE_LINTS
    )


def _errors(findings: list[Finding]) -> list[Finding]:
    return [f for f in findings if f.severity >= Severity.ERROR]


def lint_response(
    der: bytes, issuer_cert: x509.Certificate, *, template_checked: bool = False
) -> list[Finding]:
    """certkeeper's OCSP lints on one response; all of them unless `template_checked`
    says a response of the same template already passed the template lints."""
    from certkeeper.lint.catalogue import run_lints
    from certkeeper.lint.context import LintContext
    from certkeeper.lint.document import OcspResponseDocument

    only = _per_response_lints() if template_checked else None
    return run_lints(OcspResponseDocument.from_der(der), LintContext(issuer=issuer_cert), only=only)


def pkilint_response(der: bytes) -> list[Finding]:
    from certkeeper.lint.pkilint_adapter import default_linter

    return default_linter().lint_ocsp_response(der)


class OcspSigner:
    """Signs OCSP statuses for the issuing CAs of the inventory, each with its delegated
    responder (role "responder", parent = the issuing CA). Nothing is stored.

    It caches each issuer's template and key, and which response shapes passed every
    lint: `certkeeper.wiring` keeps one per CA home."""

    def __init__(
        self,
        inventory: Inventory,
        issuers: IssuerKeys,
        *,
        pkilint: bool,
        validity: timedelta = VALIDITY,
        lint_every: int = 1,
    ) -> None:
        """`lint_every` = 1 lints every response. Mass revocation may pass N > 1: the
        first response of each shape (issuer, responder, status, reason) is still linted
        in full, with pkilint, and after that one response in N; the others differ from a
        linted one only in values the encoder takes as typed, range-checked inputs
        (serial, whole-second times checked against the BR 4.9.10 window)."""
        if lint_every < 1:
            raise ValueError("lint_every must be at least 1")
        self.inventory = inventory
        self.issuers = issuers
        self.validity = validity
        self.lint_every = lint_every
        self._since_lint: dict[tuple[int, int, str, bool], int] = {}
        self.pkilint = pkilint  # also pkilint on the first response of each shape
        self._contexts: dict[int, _IssuerContext] = {}
        self._checked_shapes: set[tuple[int, int, str, bool]] = set()
        self._lock = threading.Lock()

    def _context(self, issuer_id: int, now: datetime) -> _IssuerContext:
        ctx = self._contexts.get(issuer_id)
        if ctx is not None and ctx.responder.not_before <= now < ctx.responder.not_after:
            return ctx
        inventory = self.inventory
        issuer = inventory.issuer(issuer_id)
        candidates = [
            r
            for r in inventory.issuers(role="responder")
            if r.parent_id == issuer_id
            and r.state == "active"
            and r.not_before <= now < r.not_after
        ]
        if not candidates:
            raise ConfigError(f"issuer {issuer.name} has no active OCSP responder certificate")
        responder = max(candidates, key=lambda r: r.not_after)
        signer = self.issuers.signer(responder)
        template = ResponseTemplate.create(
            issuer.cert_der, responder.cert_der, signer.spec.algorithm_identifier()
        )
        ctx = _IssuerContext(
            issuer, self.issuers.issuer_certificate(issuer), responder, signer, template
        )
        self._contexts[issuer_id] = ctx
        return ctx

    def sign_status(
        self,
        issuer_id: int,
        serial: str,
        *,
        not_after: datetime,
        now: datetime,
        revocation: Revocation | None = None,
    ) -> OcspRecord:
        """Sign and lint one response; raises OcspSigningError if the lints object."""
        now = truncate(now)
        ctx = self._context(issuer_id, now)
        next_update = min(now + self.validity, ctx.responder.not_after)
        check_schedule(now, next_update)
        der = ctx.template.sign(
            ctx.signer,
            int(serial, 16),
            this_update=now,
            next_update=next_update,
            produced_at=now,
            revocation=revocation,
        )
        self._lint(der, ctx, revocation)
        return OcspRecord(
            serial=serial,
            issuer_id=issuer_id,
            status="good" if revocation is None else "revoked",
            der=der,
            produced_at=now,
            this_update=now,
            next_update=next_update,
            not_after=not_after,
        )

    def sign_many(
        self,
        issuer_id: int,
        items: Sequence[tuple[str, datetime]],
        *,
        now: datetime,
        revocation: Revocation | None = None,
    ) -> list[OcspRecord]:
        """`sign_status` for many (serial, notAfter) of one issuer with one status and
        time (mass revocation, refresh). Linted as `lint_every` says."""
        now = truncate(now)
        ctx = self._context(issuer_id, now)
        next_update = min(now + self.validity, ctx.responder.not_after)
        check_schedule(now, next_update)
        ders = ctx.template.sign_many(
            ctx.signer,
            [int(serial, 16) for serial, _ in items],
            this_update=now,
            next_update=next_update,
            produced_at=now,
            revocation=revocation,
        )
        status = "good" if revocation is None else "revoked"
        records = []
        for (serial, not_after), der in zip(items, ders, strict=True):
            self._lint(der, ctx, revocation)
            records.append(
                OcspRecord(serial, issuer_id, status, der, now, now, next_update, not_after)
            )
        return records

    def _lint(self, der: bytes, ctx: _IssuerContext, revocation: Revocation | None) -> None:
        assert ctx.issuer.id is not None and ctx.responder.id is not None
        reason = revocation is not None and bool(revocation.reason)
        status = "good" if revocation is None else "revoked"
        shape = (ctx.issuer.id, ctx.responder.id, status, reason)
        seen = shape in self._checked_shapes
        if seen and self.lint_every > 1:
            count = self._since_lint.get(shape, 0) + 1
            self._since_lint[shape] = count % self.lint_every
            if count % self.lint_every:
                return
        errors = _errors(lint_response(der, ctx.issuer_cert, template_checked=seen))
        if not seen:
            if self.pkilint:
                errors += _errors(pkilint_response(der))
            if not errors:
                with self._lock:
                    self._checked_shapes.add(shape)
        if errors:
            detail = "; ".join(f"{f.linter}:{f.lint_id}: {f.message}" for f in errors[:5])
            raise OcspSigningError(
                f"OCSP response for issuer {ctx.issuer.name} fails lints: {detail}"
            )

    def sign_inputs(self, item: StatusInputs, now: datetime) -> OcspRecord:
        revocation = None if item.revoked_at is None else Revocation(item.revoked_at, item.reason)
        return self.sign_status(
            item.issuer_id, item.serial, not_after=item.not_after, now=now, revocation=revocation
        )


@dataclass
class RefreshReport:
    """What one refresh run did. `late` counts responses replaced after their BR 4.9.10
    deadline (each one is a compliance finding); `failed` lists serials left as they were."""

    due: int = 0
    signed_good: int = 0
    signed_revoked: int = 0
    late: int = 0
    failed: list[tuple[str, str]] = field(default_factory=list)
    seconds: float = 0.0

    @property
    def signed(self) -> int:
        return self.signed_good + self.signed_revoked

    def to_dict(self) -> dict[str, object]:
        return {
            "due": self.due,
            "signed": self.signed,
            "signed_good": self.signed_good,
            "signed_revoked": self.signed_revoked,
            "late": self.late,
            "failed": len(self.failed),
            "failures": [{"serial": s, "error": e} for s, e in self.failed[:20]],
            "seconds": round(self.seconds, 3),
        }


class OcspService:
    """The pre-signed responses of a CA: signs a status for issuance, re-signs on
    revocation and refreshes what is due. Takes the OCSP store, the home's signer and
    a clock (for a revocation that names no time)."""

    def __init__(self, store: OcspStore, signer: OcspSigner, clock: Callable[[], datetime]) -> None:
        self.store = store
        self.signer = signer
        self.clock = clock

    def sign_status(
        self,
        issuer: IssuerRecord,
        serial: str,
        *,
        not_after: datetime,
        now: datetime,
        revocation: Revocation | None = None,
    ) -> OcspRecord:
        """Sign one serial's status with the issuer's delegated responder.

        `serial` is the inventory's hex form; `not_after` the certificate's. Nothing is
        stored: the caller puts the record with `OcspStore.put(record, conn)` inside the
        transaction that stores the precertificate (or the revocation)."""
        assert issuer.id is not None
        return self.signer.sign_status(
            issuer.id, serial, not_after=not_after, now=now, revocation=revocation
        )

    def resign_on_revocation(
        self, serial: str, conn: Connection | None = None, now: datetime | None = None
    ) -> OcspRecord:
        """Sign and store the "revoked" response for a serial whose revocation row exists.

        Pass the revocation's own connection so the row is seen before it commits and the
        new response commits (or rolls back) with it."""
        inputs = self.store.status_inputs([serial], conn).get(serial)
        if inputs is None:
            raise NotFound(f"serial {serial} has no precertificate, so it has no OCSP status")
        if inputs.revoked_at is None:
            raise OcspSigningError(f"serial {serial} has no revocation recorded")
        record = self.signer.sign_inputs(inputs, truncate(now or self.clock()))
        self.store.put(record, conn)
        return record

    def refresh(
        self,
        now: datetime,
        *,
        batch_size: int = REFRESH_BATCH,
        on_progress: Callable[[int], None] | None = None,
        on_start: Callable[[int], None] | None = None,
    ) -> RefreshReport:
        """Re-sign every response that is due: nextUpdate within REFRESH_MARGIN of `now`,
        or "good" for a serial that has since been revoked. Certificates that have expired
        by `now` are left alone: their last response already runs past their notAfter.

        Each batch is signed, then written in one transaction; the store refuses to let a
        good response overwrite a revocation that committed meanwhile."""
        started = time.monotonic()
        now = truncate(now)
        signer, store = self.signer, self.store
        report = RefreshReport(due=store.count_due(now, now + REFRESH_MARGIN))
        if on_start is not None:
            on_start(report.due)
        after = ""
        while True:
            items = store.due(now, now + REFRESH_MARGIN, batch_size, after)
            if not items:
                break
            records = []
            for item in items:
                try:
                    records.append(signer.sign_inputs(item, now))
                except CertkeeperError as exc:
                    report.failed.append((item.serial, str(exc)))
                    continue
                old_this, old_next = item.this_update, item.next_update
                if old_this and old_next and now > refresh_deadline(old_this, old_next):
                    report.late += 1
            store.put_many(records)
            for rec in records:
                if rec.status == "good":
                    report.signed_good += 1
                else:
                    report.signed_revoked += 1
            after = items[-1].serial
            if on_progress is not None:
                on_progress(len(items))
        report.seconds = time.monotonic() - started
        return report
