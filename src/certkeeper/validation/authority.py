"""The validation authority: preflight, challenge validation, reuse, and the issuance gate.

The ACME server asks it three things: may this identifier be validated at all
(`preflight`, before any challenge exists), did this challenge succeed (`validate`, which
stores the domain validation record), and, at finalize, may these names be issued now
(`authorizer`, handed to IssuanceService). Issuance never trusts the ACME server's own
bookkeeping: the authorizer looks up the stored record for each name and checks CAA
afresh, so a name without a record, or a CAA record that appeared since, blocks issuance.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

from certkeeper import br
from certkeeper.auditlog.record import ACME_SERVER, current_actor
from certkeeper.auditlog.record import record as audit
from certkeeper.errors import NameNotAuthorized
from certkeeper.metrics import VALIDATIONS
from certkeeper.settings.validation import ValidationSettings
from certkeeper.store.validations import CaaCheck, DomainValidation
from certkeeper.validation import methods
from certkeeper.validation.caa import check_caa
from certkeeper.validation.challenges import check_challenge
from certkeeper.validation.errors import RejectedIdentifier
from certkeeper.validation.ip_identifiers import is_ip
from certkeeper.validation.model import (
    CaaResult,
    ChallengeAttempt,
    Corroboration,
    ValidationOutcome,
)
from certkeeper.validation.preflight import check_identifier

if TYPE_CHECKING:
    from sqlalchemy import Connection

    from certkeeper.auditlog.record import Home as AuditHome
    from certkeeper.store.validations import DomainValidationStore
    from certkeeper.validation.mpic import RemotePerspectives

log = logging.getLogger(__name__)

# CAA lookups of one certificate's names run side by side (each with its own resolver).
MAX_PARALLEL_CAA = 8


def utc_now() -> datetime:
    return datetime.now(UTC)


def corroboration_problem(corroboration: Corroboration, finding: str) -> str:
    """The RFC 8555 problem of a failed corroboration. `finding` ("caa", "unauthorized")
    only when a perspective checked and disagreed; "dns" when perspectives could not
    resolve; when none could be reached (connection, TLS, timeout) the failure is the
    CA's own ("serverInternal"), never a statement about the domain or its CAA records."""
    disagreed = [r for r in corroboration.results if not r.ok and r.outcome == "disagreed"]
    if any(r.problem_type != "dns" for r in disagreed):
        return finding
    if disagreed:
        return "dns"
    return "serverInternal"


class _NoPerspectives:
    """Stand-in when the MPIC client is unavailable: passes only where MPIC is not required."""

    def __init__(self, settings: ValidationSettings) -> None:
        self.settings = settings

    @property
    def configured(self) -> int:
        return 0

    def _decision(self) -> Corroboration:
        if self.settings.mpic_required:
            return Corroboration(
                results=(),
                required=2,
                passed=False,
                detail="no remote perspective client is available and MPIC is required",
            )
        return Corroboration(results=(), required=0, passed=True, detail="MPIC not required")

    def corroborate_challenge(self, attempt: ChallengeAttempt) -> Corroboration:
        return self._decision()

    def corroborate_caa(
        self, fqdn: str, *, wildcard: bool, account_uri: str, method: str
    ) -> Corroboration:
        return self._decision()


def _remote_client(settings: ValidationSettings) -> RemotePerspectives | _NoPerspectives:
    try:
        from certkeeper.validation.mpic import RemotePerspectives
    except ImportError:
        return _NoPerspectives(settings)
    return RemotePerspectives(settings)


class ValidationAuthority:
    def __init__(
        self,
        settings: ValidationSettings,
        store: DomainValidationStore,
        audit: AuditHome,
        *,
        clock: Callable[[], datetime] = utc_now,
        perspectives: RemotePerspectives | None = None,
    ) -> None:
        self.settings = settings
        self.audit_to = audit  # where validation.succeeded / .failed are recorded
        self.clock = clock
        self.store = store
        self._perspectives: RemotePerspectives | _NoPerspectives | None = perspectives

    @property
    def perspectives(self) -> RemotePerspectives | _NoPerspectives:
        if self._perspectives is None:
            self._perspectives = _remote_client(self.settings)
        return self._perspectives

    # -- before any challenge ------------------------------------------------------------

    def preflight(self, identifier: str, *, wildcard: bool) -> None:
        """RejectedIdentifier unless `identifier` may be validated now (syntax, TLD, PSL)."""
        self.identifier(identifier, wildcard=wildcard, at=self.clock())

    def identifier(self, identifier: str, *, wildcard: bool, at: datetime) -> str:
        """The checked FQDN or IP address (preflight.check_identifier under this CA's
        settings: reserved IP addresses only where `private_addresses` allows them)."""
        return check_identifier(
            identifier,
            wildcard=wildcard,
            at=at,
            private_addresses=self.settings.private_addresses,
        )

    def offered_challenges(self, identifier: str, *, wildcard: bool) -> list[str]:
        """BR 3.2.2.4 methods for a domain name, 3.2.2.5 for an IP address (RFC 8738:
        http-01 and tls-alpn-01, no dns-01)."""
        return methods.challenge_types_in_force(
            self.clock(), wildcard=wildcard, ip=is_ip(identifier)
        )

    # -- validation ----------------------------------------------------------------------

    def validate(self, attempt: ChallengeAttempt) -> ValidationOutcome:
        """Primary check, then remote corroboration; store the record when both pass.
        Every outcome is in the audit log (BR 5.4.1): a success in the transaction that
        stores its record, a failure on its own."""
        now = self.clock()
        method = methods.method_for_challenge(
            attempt.challenge_type, now, ip=is_ip(attempt.identifier)
        )
        outcome = self._validate(attempt, now, method)
        if outcome.record_id is None:
            self._audit(attempt, outcome, method)
        return outcome

    def _audit(
        self,
        attempt: ChallengeAttempt,
        outcome: ValidationOutcome,
        method: methods.Method | None,
        conn: Connection | None = None,
    ) -> None:
        """`validation.succeeded` or `validation.failed`, the name as subject. An ACME
        account (a URL) validates through the server; an operator's check is theirs."""
        acme = attempt.account_uri.startswith(("https://", "http://"))
        audit(
            self.audit_to,
            "validation.succeeded" if outcome.valid else "validation.failed",
            ("*." if attempt.wildcard else "") + attempt.identifier.lower(),
            actor=ACME_SERVER if acme else current_actor(),
            detail={
                "account": attempt.account_uri,
                "challenge": attempt.challenge_type,
                "method": None if method is None else f"BR {method.section}",
                "result": "valid" if outcome.valid else outcome.problem_type or "unauthorized",
                "detail": outcome.detail,
                "record": outcome.record_id,
            },
            at=self.clock(),
            conn=conn,
        )

    def _validate(
        self, attempt: ChallengeAttempt, now: datetime, method: methods.Method | None
    ) -> ValidationOutcome:
        try:
            fqdn = self.identifier(attempt.identifier, wildcard=attempt.wildcard, at=now)
        except RejectedIdentifier as exc:
            return ValidationOutcome(False, exc.detail, "rejectedIdentifier")
        if method is None:
            section = "3.2.2.5" if is_ip(fqdn) else "3.2.2.4"
            return ValidationOutcome(
                False,
                f"challenge type {attempt.challenge_type!r} implements no BR {section} method "
                f"in force for {fqdn}",
                "unauthorized",
            )
        if attempt.wildcard and not method.wildcard:
            return ValidationOutcome(
                False,
                f"BR {method.section} ({attempt.challenge_type}) cannot validate a wildcard name",
                "unauthorized",
            )
        primary = check_challenge(attempt, self.settings)
        VALIDATIONS.labels(
            attempt.challenge_type, "valid" if primary.ok else "invalid", "primary"
        ).inc()
        if not primary.ok:
            log.info(
                "validation failed",
                extra={"fqdn": fqdn, "type": attempt.challenge_type, "detail": primary.detail},
            )
            return ValidationOutcome(False, primary.detail, primary.problem_type or "unauthorized")
        corroboration = self.perspectives.corroborate_challenge(attempt)
        if not corroboration.passed:
            return ValidationOutcome(
                False,
                f"multi-perspective corroboration failed: {corroboration.detail}",
                corroboration_problem(corroboration, "unauthorized"),
                corroboration=corroboration,
            )
        validated_at = self.clock()
        detail = f"{primary.detail} (BR {method.section})"

        def audited(conn: Connection, record_id: int) -> None:
            done = ValidationOutcome(True, detail, record_id=record_id)
            self._audit(attempt, done, method, conn)

        record_id = self.store.record_validation(
            DomainValidation(
                id=None,
                fqdn=fqdn,
                wildcard=attempt.wildcard,
                account_uri=attempt.account_uri,
                method=method.section,
                challenge_type=attempt.challenge_type,
                evidence={
                    "detail": primary.detail,
                    **primary.evidence,
                    "dnssec_required_by_br": br.dnssec_validation_required(now),
                },
                validated_at=validated_at,
                reuse_until=methods.reuse_until(validated_at, self.settings.reuse_days),
                perspectives=corroboration.to_json(),
                dnssec=primary.dnssec,
            ),
            also=audited,
        )
        return ValidationOutcome(
            True,
            detail,
            record_id=record_id,
            corroboration=corroboration,
        )

    def reusable(self, identifier: str, account_uri: str, *, wildcard: bool) -> int | None:
        """A record this account may still rely on for this name, else None."""
        record = self._reusable_record(identifier, account_uri, wildcard=wildcard)
        return None if record is None else record.id

    def _reusable_record(
        self, identifier: str, account_uri: str, *, wildcard: bool
    ) -> DomainValidation | None:
        now = self.clock()
        fqdn = identifier[2:] if identifier.startswith("*.") else identifier
        fqdn = fqdn.lower()
        for record in self.store.candidates(fqdn, account_uri, wildcard=wildcard, now=now):
            try:
                method = methods.method(record.method)
            except KeyError:
                continue
            if not method.in_force(now) or (wildcard and not method.wildcard):
                continue
            if methods.still_reusable(
                record.validated_at, record.reuse_until, self.settings.reuse_days, now
            ):
                return record
        return None

    # -- issuance ------------------------------------------------------------------------

    def authorizer(self, account_uri: str) -> AccountAuthorizer:
        return AccountAuthorizer(self, account_uri)


class AccountAuthorizer:
    """The issuance hook for one account's finalize: every name needs a reusable record of
    this account and a CAA check, made now by the primary and corroborated remotely, that
    allows us. Every CAA check is stored; `attach_serial` links them to the certificate."""

    def __init__(
        self, va: ValidationAuthority, account_uri: str, context: dict[str, Any] | None = None
    ) -> None:
        self.va = va
        self.account_uri = account_uri
        self.context = dict(context or {})
        self.check_ids: list[int] = []

    def __call__(self, names: Sequence[str]) -> None:
        """Records first (a database read, no network), then every name's CAA in parallel;
        every CAA check is stored, and the first refusal in name order is raised."""
        plan = [self._record_for(name) for name in names]
        if len(plan) == 1:
            answers = [self._caa(*plan[0])]
        else:
            with ThreadPoolExecutor(max_workers=min(MAX_PARALLEL_CAA, len(plan))) as pool:
                answers = list(pool.map(lambda p: self._caa(*p), plan))
        refusal: NameNotAuthorized | None = None
        for (name, fqdn, wildcard, record), (caa, corroboration) in zip(plan, answers, strict=True):
            allowed = caa.allowed and corroboration is not None and corroboration.passed
            detail = caa.detail
            problem = caa.problem_type
            if caa.allowed and corroboration is not None and not corroboration.passed:
                detail = f"{caa.detail}; remote corroboration failed: {corroboration.detail}"
                problem = corroboration_problem(corroboration, "caa")
            self.check_ids.append(
                self.va.store.record_caa(
                    CaaCheck(
                        id=None,
                        fqdn=fqdn,
                        wildcard=wildcard,
                        account_uri=self.account_uri,
                        checked_at=self.va.clock(),
                        allowed=allowed,
                        problem_type=None if allowed else (problem or "caa"),
                        detail=detail,
                        evidence=caa.evidence,
                        perspectives={} if corroboration is None else corroboration.to_json(),
                        dnssec=caa.dnssec,
                        context={
                            **self.context,
                            "names": list(names),
                            "validation_id": record.id,
                            "method": record.method,
                        },
                    )
                )
            )
            if not allowed and refusal is None:
                log.info("CAA refused", extra={"fqdn": fqdn, "detail": detail})
                refusal = NameNotAuthorized(
                    f"{name}: {detail}", problem_type=problem or "caa", name=name
                )
        if refusal is not None:
            raise refusal

    def _record_for(self, name: str) -> tuple[str, str, bool, DomainValidation]:
        va = self.va
        wildcard = name.startswith("*.")
        try:
            fqdn = va.identifier(name, wildcard=wildcard, at=va.clock())
        except RejectedIdentifier as exc:
            raise NameNotAuthorized(
                exc.detail, problem_type="rejectedIdentifier", name=name
            ) from None
        record = va._reusable_record(fqdn, self.account_uri, wildcard=wildcard)
        if record is None:
            raise NameNotAuthorized(
                f"{name}: no valid domain validation for this account "
                "(validate it with a challenge first)",
                problem_type="unauthorized",
                name=name,
            )
        return name, fqdn, wildcard, record

    def _caa(
        self, name: str, fqdn: str, wildcard: bool, record: DomainValidation
    ) -> tuple[CaaResult, Corroboration | None]:
        """The primary's CAA decision and, when it allows us, the remote corroboration."""
        if is_ip(fqdn):
            detail = "CAA does not apply to an IP address (RFC 8659 and BR 3.2.2.8 name domains)"
            return CaaResult(True, detail, evidence={"ip": fqdn}), Corroboration(
                (), 0, True, detail
            )
        caa = check_caa(
            fqdn,
            wildcard=wildcard,
            account_uri=self.account_uri,
            method=record.challenge_type,
            settings=self.va.settings,
        )
        if not caa.allowed:
            return caa, None
        corroboration = self.va.perspectives.corroborate_caa(
            fqdn, wildcard=wildcard, account_uri=self.account_uri, method=record.challenge_type
        )
        return caa, corroboration

    def attach_serial(self, serial: str) -> None:
        self.va.store.attach_serial(self.check_ids, serial)
