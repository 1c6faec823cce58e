"""ACME state: accounts, orders, authorizations, challenges, used nonces, rate events.

Every state change that two front-end processes could race on is a conditional UPDATE
(`... WHERE status = 'pending'`) whose row count says who won, so a challenge is
validated once and an order finalized once however many processes serve the API.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import Connection, CursorResult, Engine, Row, delete, func, insert, select, update
from sqlalchemy.exc import IntegrityError

from certkeeper.errors import NotFound
from certkeeper.store.database import write_transaction
from certkeeper.store.tables import (
    acme_accounts,
    acme_authorizations,
    acme_challenges,
    acme_order_authorizations,
    acme_orders,
    acme_rate_events,
    acme_secrets,
    acme_used_nonces,
    certificates,
    incidents,
    renewal_windows,
    subscriber_contacts,
    subscribers,
)


@dataclass(frozen=True)
class AccountRow:
    id: int
    thumbprint: str
    jwk: str
    status: str
    contacts: tuple[str, ...]
    tos_agreed: bool
    subscriber_id: str
    created_at: datetime


@dataclass(frozen=True)
class OrderRow:
    id: int
    account_id: int
    status: str
    identifiers: tuple[str, ...]
    not_before: datetime | None
    not_after: datetime | None
    expires: datetime
    replaces: str | None
    replaces_serial: str | None
    rate_exempt: bool
    certificate_serial: str | None
    error: dict[str, Any] | None
    created_at: datetime
    profile: str | None = None  # the ACME profile asked for (draft-ietf-acme-profiles)


@dataclass(frozen=True)
class ChallengeRow:
    id: int
    authorization_id: int
    type: str
    token: str
    status: str
    validated: datetime | None
    error: dict[str, Any] | None


@dataclass(frozen=True)
class AuthorizationRow:
    id: int
    account_id: int
    identifier: str
    wildcard: bool
    status: str
    expires: datetime
    validation_record_id: int | None
    created_at: datetime
    challenges: tuple[ChallengeRow, ...]


@dataclass(frozen=True)
class NewAuthorization:
    identifier: str
    wildcard: bool
    status: str  # pending, or valid when a validation record is reused
    expires: datetime
    validation_record_id: int | None
    challenge_types: tuple[str, ...]
    validated: datetime | None = None  # valid: when the reused validation succeeded


def _new_id(result: CursorResult[Any]) -> int:
    key = result.inserted_primary_key
    if key is None or key[0] is None:
        raise RuntimeError("the database did not report the new row's id")
    return int(key[0])


def _json(text: str | None) -> Any:
    return None if text is None else json.loads(text)


def _account(row: Row[Any]) -> AccountRow:
    return AccountRow(
        id=row.id,
        thumbprint=row.thumbprint,
        jwk=row.jwk,
        status=row.status,
        contacts=tuple(json.loads(row.contacts)),
        tos_agreed=bool(row.tos_agreed),
        subscriber_id=row.subscriber_id,
        created_at=row.created_at,
    )


def _order(row: Row[Any]) -> OrderRow:
    return OrderRow(
        id=row.id,
        account_id=row.account_id,
        status=row.status,
        identifiers=tuple(json.loads(row.identifiers)),
        not_before=row.not_before,
        not_after=row.not_after,
        expires=row.expires,
        replaces=row.replaces,
        replaces_serial=row.replaces_serial,
        rate_exempt=bool(row.rate_exempt),
        certificate_serial=row.certificate_serial,
        error=_json(row.error),
        created_at=row.created_at,
        profile=row.profile,
    )


def _challenge(row: Row[Any]) -> ChallengeRow:
    return ChallengeRow(
        id=row.id,
        authorization_id=row.authorization_id,
        type=row.type,
        token=row.token,
        status=row.status,
        validated=row.validated,
        error=_json(row.error),
    )


def _mirror_contacts(conn: Connection, subscriber_id: str, contacts: Sequence[str]) -> None:
    """Account contacts become the subscriber's incident contacts: the first mailto is
    the primary address, the others are backups."""
    conn.execute(
        delete(subscriber_contacts).where(subscriber_contacts.c.subscriber_id == subscriber_id)
    )
    addresses = list(dict.fromkeys(c.removeprefix("mailto:") for c in contacts))
    if addresses:
        conn.execute(
            insert(subscriber_contacts),
            [
                {
                    "subscriber_id": subscriber_id,
                    "address": a,
                    "kind": "primary" if i == 0 else "backup",
                }
                for i, a in enumerate(addresses)
            ],
        )


@dataclass(frozen=True)
class Quota:
    """At most `limit` events under `key` since `since` (a rate limit's window)."""

    key: str
    limit: int
    since: datetime


class AcmeStore:
    def __init__(self, engine: Engine) -> None:
        self.engine = engine

    # -- secrets and nonces ----------------------------------------------------------

    def secret(self, name: str, now: datetime, size: int = 32) -> bytes:
        """A shared secret, created by whichever process asks first."""
        with self.engine.connect() as conn:
            value = conn.execute(
                select(acme_secrets.c.value).where(acme_secrets.c.name == name)
            ).scalar()
        if value is not None:
            return bytes(value)
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    insert(acme_secrets).values(
                        name=name, value=secrets.token_bytes(size), created_at=now
                    )
                )
        except IntegrityError:
            pass  # another process won; read its value
        with self.engine.connect() as conn:
            value = conn.execute(
                select(acme_secrets.c.value).where(acme_secrets.c.name == name)
            ).scalar_one()
        return bytes(value)

    def use_nonce(self, nonce: str, expires: datetime) -> bool:
        """Record a nonce as used; False when it already was (a replay)."""
        try:
            with self.engine.begin() as conn:
                conn.execute(insert(acme_used_nonces).values(nonce=nonce, expires=expires))
        except IntegrityError:
            return False
        return True

    def purge_nonces(self, now: datetime) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(delete(acme_used_nonces).where(acme_used_nonces.c.expires < now))
        return int(result.rowcount or 0)

    # -- rate events -----------------------------------------------------------------

    def count_events(self, key: str, since: datetime) -> tuple[int, datetime | None]:
        """How many events under `key` since `since`, and the oldest of them."""
        e = acme_rate_events.c
        with self.engine.connect() as conn:
            row = conn.execute(
                select(func.count(), func.min(e.at)).where(e.key == key, e.at >= since)
            ).one()
        return int(row[0]), row[1]

    def add_events(self, keys: Sequence[str], at: datetime) -> None:
        if not keys:
            return
        with self.engine.begin() as conn:
            conn.execute(insert(acme_rate_events), [{"key": k, "at": at} for k in keys])

    def take_quota(
        self, quotas: Sequence[Quota], at: datetime
    ) -> list[int] | tuple[Quota, int, datetime | None]:
        """All or nothing, atomically: when every quota has fewer than its limit of events
        since its window start, add one event under each and return their ids; else add
        none and return the first quota used up, its count and its oldest event. Parallel
        callers (any process) are serialised per key: SQLite by its write lock, PostgreSQL
        by a transaction-scoped advisory lock on each key, taken in key order."""
        e = acme_rate_events.c
        with write_transaction(self.engine) as conn:
            if conn.dialect.name == "postgresql":
                for key in sorted({q.key for q in quotas}):
                    conn.execute(select(func.pg_advisory_xact_lock(func.hashtextextended(key, 0))))
            for quota in quotas:
                count, oldest = conn.execute(
                    select(func.count(), func.min(e.at)).where(
                        e.key == quota.key, e.at >= quota.since
                    )
                ).one()
                if int(count) >= quota.limit:
                    return quota, int(count), oldest
            return [
                conn.execute(
                    insert(acme_rate_events).values(key=q.key, at=at).returning(e.id)
                ).scalar_one()
                for q in quotas
            ]

    def release_events(self, ids: Sequence[int]) -> None:
        """Give back events taken by `take_quota` (the issuance they were for failed)."""
        if ids:
            with self.engine.begin() as conn:
                conn.execute(delete(acme_rate_events).where(acme_rate_events.c.id.in_(ids)))

    def purge_events(self, before: datetime) -> int:
        with self.engine.begin() as conn:
            result = conn.execute(delete(acme_rate_events).where(acme_rate_events.c.at < before))
        return int(result.rowcount or 0)

    # -- accounts --------------------------------------------------------------------

    def account(self, account_id: int) -> AccountRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(acme_accounts).where(acme_accounts.c.id == account_id)
            ).first()
        return None if row is None else _account(row)

    def account_by_thumbprint(self, thumbprint: str) -> AccountRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(acme_accounts).where(acme_accounts.c.thumbprint == thumbprint)
            ).first()
        return None if row is None else _account(row)

    def account_by_subscriber(self, subscriber_id: str) -> AccountRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(acme_accounts).where(acme_accounts.c.subscriber_id == subscriber_id)
            ).first()
        return None if row is None else _account(row)

    def create_account(
        self,
        *,
        thumbprint: str,
        jwk: str,
        contacts: Sequence[str],
        tos_agreed: bool,
        subscriber_id: str,
        created_ip: str | None,
        now: datetime,
        also: Callable[[Connection, int], None] | None = None,
    ) -> AccountRow | None:
        """Insert the account, its subscriber row and the subscriber's contacts in one
        transaction; None when the key already has an account (a concurrent create).
        `also(conn, account_id)` runs in that transaction (the audit log)."""
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(insert(subscribers).values(id=subscriber_id, created_at=now))
                result = conn.execute(
                    insert(acme_accounts).values(
                        thumbprint=thumbprint,
                        jwk=jwk,
                        status="valid",
                        contacts=json.dumps(list(contacts)),
                        tos_agreed=tos_agreed,
                        subscriber_id=subscriber_id,
                        created_ip=created_ip,
                        created_at=now,
                    )
                )
                account_id = _new_id(result)
                row = conn.execute(
                    select(acme_accounts).where(acme_accounts.c.id == account_id)
                ).one()
                account = _account(row)
                _mirror_contacts(conn, subscriber_id, contacts)
                if also is not None:
                    also(conn, account_id)
        except IntegrityError:
            return None
        return account

    def update_account(
        self,
        account_id: int,
        *,
        contacts: Sequence[str] | None = None,
        status: str | None = None,
        also: Callable[[Connection], None] | None = None,
    ) -> None:
        """New contacts and/or status; `also(conn)` runs in the same transaction."""
        values: dict[str, Any] = {}
        if contacts is not None:
            values["contacts"] = json.dumps(list(contacts))
        if status is not None:
            values["status"] = status
        with write_transaction(self.engine) as conn:
            if values:
                conn.execute(
                    update(acme_accounts).where(acme_accounts.c.id == account_id).values(**values)
                )
            if status == "deactivated":
                # RFC 8555 7.3.6: pending authorizations of a deactivated account end.
                conn.execute(
                    update(acme_authorizations)
                    .where(
                        acme_authorizations.c.account_id == account_id,
                        acme_authorizations.c.status == "pending",
                    )
                    .values(status="deactivated")
                )
            if contacts is not None:
                subscriber_id = conn.execute(
                    select(acme_accounts.c.subscriber_id).where(acme_accounts.c.id == account_id)
                ).scalar_one()
                _mirror_contacts(conn, subscriber_id, contacts)
            if also is not None:
                also(conn)

    def change_key(
        self,
        account_id: int,
        thumbprint: str,
        jwk: str,
        also: Callable[[Connection], None] | None = None,
    ) -> bool:
        """Swap the account key; False when another account already holds the new key.
        `also(conn)` runs in the same transaction."""
        try:
            with write_transaction(self.engine) as conn:
                conn.execute(
                    update(acme_accounts)
                    .where(acme_accounts.c.id == account_id)
                    .values(thumbprint=thumbprint, jwk=jwk)
                )
                if also is not None:
                    also(conn)
        except IntegrityError:
            return False
        return True

    def order_ids(self, account_id: int, limit: int = 1000) -> list[int]:
        o = acme_orders.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(o.id)
                .where(o.account_id == account_id, o.status.in_(("pending", "ready", "processing")))
                .order_by(o.id.desc())
                .limit(limit)
            )
            return [r[0] for r in rows]

    # -- authorizations --------------------------------------------------------------

    def reusable_authorization(
        self, account_id: int, identifier: str, wildcard: bool, valid_after: datetime
    ) -> int | None:
        """A valid (or pending) authorization of this account for the name, still in date."""
        a = acme_authorizations.c
        with self.engine.connect() as conn:
            for status in ("valid", "pending"):
                found = conn.execute(
                    select(a.id)
                    .where(
                        a.account_id == account_id,
                        a.identifier == identifier,
                        a.wildcard == wildcard,
                        a.status == status,
                        a.expires > valid_after,
                    )
                    .order_by(a.expires.desc())
                    .limit(1)
                ).scalar()
                if found is not None:
                    return int(found)
        return None

    def authorization(self, authz_id: int) -> AuthorizationRow | None:
        with self.engine.connect() as conn:
            return self._authorization(conn, authz_id)

    @staticmethod
    def _authorization(conn: Connection, authz_id: int) -> AuthorizationRow | None:
        row = conn.execute(
            select(acme_authorizations).where(acme_authorizations.c.id == authz_id)
        ).first()
        if row is None:
            return None
        challenges = conn.execute(
            select(acme_challenges)
            .where(acme_challenges.c.authorization_id == authz_id)
            .order_by(acme_challenges.c.id)
        ).all()
        return AuthorizationRow(
            id=row.id,
            account_id=row.account_id,
            identifier=row.identifier,
            wildcard=bool(row.wildcard),
            status=row.status,
            expires=row.expires,
            validation_record_id=row.validation_record_id,
            created_at=row.created_at,
            challenges=tuple(_challenge(c) for c in challenges),
        )

    def valid_authorization_names(self, account_id: int, now: datetime) -> set[str]:
        """Names this account holds a valid, unexpired authorization for."""
        a = acme_authorizations.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(a.identifier, a.wildcard).where(
                    a.account_id == account_id, a.status == "valid", a.expires > now
                )
            )
            return {("*." if w else "") + i for i, w in rows}

    def deactivate_authorization(self, authz_id: int) -> bool:
        a = acme_authorizations.c
        with self.engine.begin() as conn:
            result = conn.execute(
                update(acme_authorizations)
                .where(a.id == authz_id, a.status.in_(("pending", "valid")))
                .values(status="deactivated")
            )
        return bool(result.rowcount)

    # -- orders ----------------------------------------------------------------------

    def create_order(
        self,
        *,
        account_id: int,
        identifiers: Sequence[str],
        not_before: datetime | None,
        not_after: datetime | None,
        expires: datetime,
        replaces: str | None,
        replaces_serial: str | None,
        rate_exempt: bool,
        reuse: Sequence[int],
        new: Sequence[NewAuthorization],
        now: datetime,
        profile: str | None = None,
    ) -> int:
        """The order, its new authorizations and their challenges, in one transaction."""
        with write_transaction(self.engine) as conn:
            order_id = _new_id(
                conn.execute(
                    insert(acme_orders).values(
                        account_id=account_id,
                        status="pending",
                        identifiers=json.dumps(list(identifiers)),
                        not_before=not_before,
                        not_after=not_after,
                        expires=expires,
                        replaces=replaces,
                        replaces_serial=replaces_serial,
                        rate_exempt=rate_exempt,
                        created_at=now,
                        profile=profile,
                    )
                )
            )
            authz_ids = list(reuse)
            for item in new:
                authz_id = _new_id(
                    conn.execute(
                        insert(acme_authorizations).values(
                            account_id=account_id,
                            identifier=item.identifier,
                            wildcard=item.wildcard,
                            status=item.status,
                            expires=item.expires,
                            validation_record_id=item.validation_record_id,
                            created_at=now,
                        )
                    )
                )
                authz_ids.append(authz_id)
                if item.challenge_types:  # pending: offered; valid: the one that validated
                    conn.execute(
                        insert(acme_challenges),
                        [
                            {
                                "authorization_id": authz_id,
                                "type": t,
                                "token": secrets.token_urlsafe(32),
                                "status": item.status,
                                "validated": item.validated,
                            }
                            for t in item.challenge_types
                        ],
                    )
            if authz_ids:
                conn.execute(
                    insert(acme_order_authorizations),
                    [
                        {"order_id": order_id, "authorization_id": a}
                        for a in dict.fromkeys(authz_ids)
                    ],
                )
        return order_id

    def order(self, order_id: int) -> OrderRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(select(acme_orders).where(acme_orders.c.id == order_id)).first()
        return None if row is None else _order(row)

    def order_authorizations(self, order_id: int) -> list[AuthorizationRow]:
        """The order's authorizations with their challenges, in two queries."""
        a, link = acme_authorizations.c, acme_order_authorizations.c
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(acme_authorizations)
                .join(acme_order_authorizations, link.authorization_id == a.id)
                .where(link.order_id == order_id)
                .order_by(a.id)
            ).all()
            ids = [r.id for r in rows]
            challenges: dict[int, list[ChallengeRow]] = {i: [] for i in ids}
            if ids:
                for c in conn.execute(
                    select(acme_challenges)
                    .join(
                        acme_order_authorizations,
                        link.authorization_id == acme_challenges.c.authorization_id,
                    )
                    .where(link.order_id == order_id)
                    .order_by(acme_challenges.c.id)
                ):
                    challenges[c.authorization_id].append(_challenge(c))
        return [
            AuthorizationRow(
                id=r.id,
                account_id=r.account_id,
                identifier=r.identifier,
                wildcard=bool(r.wildcard),
                status=r.status,
                expires=r.expires,
                validation_record_id=r.validation_record_id,
                created_at=r.created_at,
                challenges=tuple(challenges[r.id]),
            )
            for r in rows
        ]

    def certificate_key_in_use(self, thumbprint: str) -> bool:
        """True when a finalize CSR of any order carried this key."""
        o = acme_orders.c
        with self.engine.connect() as conn:
            found = conn.execute(
                select(o.id).where(o.key_thumbprint == thumbprint).limit(1)
            ).first()
        return found is not None

    def set_order_status(
        self,
        order_id: int,
        status: str,
        *,
        expect: Sequence[str],
        error: dict[str, Any] | None = None,
        certificate_serial: str | None = None,
        key_thumbprint: str | None = None,
    ) -> bool:
        """Move an order from one of `expect` to `status`; False when another process moved
        it first."""
        values: dict[str, Any] = {"status": status}
        if key_thumbprint is not None:
            values["key_thumbprint"] = key_thumbprint
        if error is not None:
            values["error"] = json.dumps(error)
        if certificate_serial is not None:
            values["certificate_serial"] = certificate_serial
        with self.engine.begin() as conn:
            result = conn.execute(
                update(acme_orders)
                .where(acme_orders.c.id == order_id, acme_orders.c.status.in_(tuple(expect)))
                .values(**values)
            )
        return bool(result.rowcount)

    def replacing_orders(self, serial: str) -> int:
        """Orders (not invalid) that already claim to replace this certificate."""
        o = acme_orders.c
        with self.engine.connect() as conn:
            return int(
                conn.execute(
                    select(func.count()).where(o.replaces_serial == serial, o.status != "invalid")
                ).scalar_one()
            )

    def in_open_incident(self, serial: str) -> bool:
        """True when an open incident has set a renewal window for this serial."""
        with self.engine.connect() as conn:
            found = conn.execute(
                select(renewal_windows.c.serial)
                .join(incidents, incidents.c.id == renewal_windows.c.incident_id)
                .where(renewal_windows.c.serial == serial, incidents.c.state == "open")
            ).first()
        return found is not None

    def certificate_owner(self, serial: str) -> str | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(certificates.c.subscriber_id).where(certificates.c.serial == serial)
            ).first()
        if row is None:
            raise NotFound(f"no certificate with serial {serial}")
        return None if row[0] is None else str(row[0])

    # -- challenges ------------------------------------------------------------------

    def challenge(self, challenge_id: int) -> ChallengeRow | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                select(acme_challenges).where(acme_challenges.c.id == challenge_id)
            ).first()
        return None if row is None else _challenge(row)

    def start_challenge(self, challenge_id: int, authz_id: int, now: datetime) -> bool:
        """pending -> processing, only while the authorization is pending and no sibling
        challenge is already processing; False when someone else started it. The
        authorization row is locked (PostgreSQL) so sibling challenges cannot both start."""
        c = acme_challenges.c
        with write_transaction(self.engine) as conn:
            authz_status = conn.execute(
                select(acme_authorizations.c.status)
                .where(acme_authorizations.c.id == authz_id)
                .with_for_update()
            ).scalar()
            if authz_status != "pending":
                return False
            busy = conn.execute(
                select(func.count()).where(c.authorization_id == authz_id, c.status == "processing")
            ).scalar_one()
            if busy:
                return False
            result = conn.execute(
                update(acme_challenges)
                .where(c.id == challenge_id, c.status == "pending")
                .values(status="processing", started_at=now)
            )
            return bool(result.rowcount)

    def fail_stale_challenges(
        self, authz_ids: Sequence[int], started_before: datetime, error: dict[str, Any]
    ) -> int:
        """Challenges still processing since before `started_before` (their process died
        mid-validation) become invalid, and their authorizations with them."""
        c, a = acme_challenges.c, acme_authorizations.c
        if not authz_ids:
            return 0
        with write_transaction(self.engine) as conn:
            stale = conn.execute(
                select(c.id, c.authorization_id).where(
                    c.authorization_id.in_(list(authz_ids)),
                    c.status == "processing",
                    c.started_at < started_before,
                )
            ).all()
            for challenge_id, authz_id in stale:
                conn.execute(
                    update(acme_challenges)
                    .where(c.id == challenge_id, c.status == "processing")
                    .values(status="invalid", error=json.dumps(error))
                )
                conn.execute(
                    update(acme_authorizations)
                    .where(a.id == authz_id, a.status == "pending")
                    .values(status="invalid")
                )
        return len(stale)

    def finish_challenge(
        self,
        challenge_id: int,
        authz_id: int,
        *,
        valid: bool,
        now: datetime,
        error: dict[str, Any] | None,
        record_id: int | None,
        authz_expires: datetime,
    ) -> None:
        """Record a validation result on the challenge and its authorization together,
        unless the challenge is no longer processing."""
        with write_transaction(self.engine) as conn:
            done = conn.execute(
                update(acme_challenges)
                .where(
                    acme_challenges.c.id == challenge_id,
                    acme_challenges.c.status == "processing",
                )
                .values(
                    status="valid" if valid else "invalid",
                    validated=now if valid else None,
                    error=None if error is None else json.dumps(error),
                )
            )
            if not done.rowcount:
                return  # declared stale meanwhile: a late answer changes nothing
            values: dict[str, Any] = {"status": "valid" if valid else "invalid"}
            if valid:
                values["validation_record_id"] = record_id
                values["expires"] = authz_expires
            conn.execute(
                update(acme_authorizations)
                .where(
                    acme_authorizations.c.id == authz_id,
                    acme_authorizations.c.status == "pending",
                )
                .values(**values)
            )
