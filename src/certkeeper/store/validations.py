"""Domain validation records and CAA checks (BR 3.2.2.4, 3.2.2.8, 3.2.2.9, 5.4.1).

Each successful validation is one immutable row: what was checked, by which BR method,
what the primary saw (evidence), what every remote perspective said, when, and until
when it may be reused. Every CAA lookup made at issuance is also a row, allowed or not,
so an auditor can replay why each name in each certificate was authorized.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, Engine, and_, insert, or_, select, update

from certkeeper.store.database import write_transaction
from certkeeper.store.tables import caa_checks, domain_validations


@dataclass(frozen=True)
class DomainValidation:
    id: int | None
    fqdn: str
    wildcard: bool
    account_uri: str
    method: str  # BR section
    challenge_type: str
    evidence: dict[str, Any]
    validated_at: datetime
    reuse_until: datetime
    perspectives: dict[str, Any]
    dnssec: str | None = None  # "secure" / "insecure" (BR 3.2.2.4); None before 0010


@dataclass(frozen=True)
class CaaCheck:
    id: int | None
    fqdn: str
    wildcard: bool
    account_uri: str
    checked_at: datetime
    allowed: bool
    problem_type: str | None
    detail: str
    evidence: dict[str, Any]
    perspectives: dict[str, Any]
    context: dict[str, Any]
    serial: str | None = None
    dnssec: str | None = None  # "secure" / "insecure" (BR 4.2.2.1.1); None: no answer


def _dumps(value: dict[str, Any]) -> str:
    return json.dumps(value, sort_keys=True, default=str)


class DomainValidationStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    def record_validation(
        self, rec: DomainValidation, also: Callable[[Connection, int], None] | None = None
    ) -> int:
        """Store the record; `also(conn, id)` runs in the same transaction (the audit log)."""
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                insert(domain_validations).values(
                    fqdn=rec.fqdn,
                    wildcard=rec.wildcard,
                    account_uri=rec.account_uri,
                    method=rec.method,
                    challenge_type=rec.challenge_type,
                    evidence=_dumps(rec.evidence),
                    validated_at=rec.validated_at,
                    reuse_until=rec.reuse_until,
                    perspectives=_dumps(rec.perspectives),
                    dnssec=rec.dnssec,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            if also is not None:
                also(conn, int(key[0]))
            return int(key[0])

    def candidates(
        self, fqdn: str, account_uri: str, *, wildcard: bool, now: datetime
    ) -> list[DomainValidation]:
        """Records of this account for this name whose own window is still open, newest
        first. A wildcard name needs a wildcard record; a plain name accepts either (the
        dns-01 record behind a wildcard validated the name itself too)."""
        conditions = [
            domain_validations.c.fqdn == fqdn,
            domain_validations.c.account_uri == account_uri,
            domain_validations.c.reuse_until > now,
            domain_validations.c.validated_at <= now,
        ]
        if wildcard:
            conditions.append(domain_validations.c.wildcard.is_(True))
        query = (
            select(domain_validations)
            .where(and_(*conditions))
            .order_by(domain_validations.c.validated_at.desc(), domain_validations.c.id.desc())
        )
        with self.engine.connect() as conn:
            return [_validation(row._mapping) for row in conn.execute(query)]

    def get(self, record_id: int) -> DomainValidation | None:
        query = select(domain_validations).where(domain_validations.c.id == record_id)
        with self.engine.connect() as conn:
            row = conn.execute(query).first()
        return None if row is None else _validation(row._mapping)

    def history(self, fqdn: str) -> list[DomainValidation]:
        query = (
            select(domain_validations)
            .where(domain_validations.c.fqdn == fqdn)
            .order_by(domain_validations.c.validated_at, domain_validations.c.id)
        )
        with self.engine.connect() as conn:
            return [_validation(row._mapping) for row in conn.execute(query)]

    def record_caa(self, rec: CaaCheck) -> int:
        with write_transaction(self.engine) as conn:
            result = conn.execute(
                insert(caa_checks).values(
                    fqdn=rec.fqdn,
                    wildcard=rec.wildcard,
                    account_uri=rec.account_uri,
                    checked_at=rec.checked_at,
                    allowed=rec.allowed,
                    problem_type=rec.problem_type,
                    detail=rec.detail,
                    evidence=_dumps(rec.evidence),
                    perspectives=_dumps(rec.perspectives),
                    serial=rec.serial,
                    context=_dumps(rec.context),
                    dnssec=rec.dnssec,
                )
            )
            key = result.inserted_primary_key
            assert key is not None
            return int(key[0])

    def attach_serial(self, check_ids: Sequence[int], serial: str) -> None:
        """Link CAA checks made before a serial existed to the certificate they allowed."""
        if not check_ids:
            return
        with write_transaction(self.engine) as conn:
            conn.execute(
                update(caa_checks)
                .where(and_(caa_checks.c.id.in_(list(check_ids)), caa_checks.c.serial.is_(None)))
                .values(serial=serial)
            )

    def caa_checks(self, fqdn: str | None = None, serial: str | None = None) -> list[CaaCheck]:
        """Checks for a name or a certificate (either matching), oldest first."""
        query = select(caa_checks).order_by(caa_checks.c.checked_at, caa_checks.c.id)
        conditions = []
        if fqdn is not None:
            conditions.append(caa_checks.c.fqdn == fqdn)
        if serial is not None:
            conditions.append(caa_checks.c.serial == serial)
        if conditions:
            query = query.where(or_(*conditions))
        with self.engine.connect() as conn:
            return [_caa(row._mapping) for row in conn.execute(query)]


def _validation(m: Any) -> DomainValidation:
    return DomainValidation(
        id=m["id"],
        fqdn=m["fqdn"],
        wildcard=bool(m["wildcard"]),
        account_uri=m["account_uri"],
        method=m["method"],
        challenge_type=m["challenge_type"],
        evidence=json.loads(m["evidence"]),
        validated_at=m["validated_at"],
        reuse_until=m["reuse_until"],
        perspectives=json.loads(m["perspectives"]),
        dnssec=m["dnssec"],
    )


def _caa(m: Any) -> CaaCheck:
    return CaaCheck(
        id=m["id"],
        fqdn=m["fqdn"],
        wildcard=bool(m["wildcard"]),
        account_uri=m["account_uri"],
        checked_at=m["checked_at"],
        allowed=bool(m["allowed"]),
        problem_type=m["problem_type"],
        detail=m["detail"],
        evidence=json.loads(m["evidence"]),
        perspectives=json.loads(m["perspectives"]),
        context=json.loads(m["context"]),
        serial=m["serial"],
        dnssec=m["dnssec"],
    )
